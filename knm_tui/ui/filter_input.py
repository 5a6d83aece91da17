"""The filter box: Textual's ``Input``, repainted rather than laid out as its text changes."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input


class FilterInput(Input):
    """An ``Input`` one line high and as wide as the screen (see ``#filter`` in knm.tcss).

    Textual's ``Input`` sets its scrollable width whenever its value changes, and that asks for a
    layout of the whole screen: every widget repainted, 10-20 ms of each keystroke with the
    dashboard's table and panel. Nothing about this box's size depends on its text, so while its
    value changes a layout request from it is served as a repaint. Any other request (shown or
    hidden, restyled) is passed on unchanged.
    """

    _value_changing = False

    def _watch_value(self, value: str) -> None:
        self._value_changing = True
        try:
            super()._watch_value(value)
        finally:
            self._value_changing = False

    def refresh(self, *regions: Any, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> FilterInput:
        """Repaint; lay out only when something but the value changed (see the class docstring)."""
        if self._value_changing:
            layout = False
        super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        return self
