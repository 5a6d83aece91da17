"""The help screen on ``?``: every key binding with its description, generated from the bindings.

Bindings that share an action and a description (``1``…``9`` jump to a cluster) are listed once
with their keys joined. The filter syntax follows, with the shortcut words taken from
:data:`knm_tui.ui.filters.SHORTCUTS`.
"""

from __future__ import annotations

from typing import ClassVar, Iterable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from knm_tui.ui.filters import SHORTCUTS

HelpSection = tuple[str, Sequence[BindingType]]
KEYS_WIDTH = 14

FILTER_HELP = (
    "  Type after / ; a node must match every term.\n"
    "  name substring      web-7  (case-insensitive)\n"
    "  label selector      zone=eu-1a   env!=prod   tier in (db,cache)   gpu,!spot\n"
    "                      node-role.kubernetes.io/gpu  (a key with a / means: has this label)\n"
    "  shortcuts           {shortcuts}\n"
    "  negate a shortcut   !ready   !cordoned\n"
    "  Enter keeps the filter and returns to the table; Escape clears it."
)


def _as_binding(binding: BindingType) -> Binding:
    if isinstance(binding, Binding):
        return binding
    key, action, description = (*binding, "")[:3]
    return Binding(key, action, description)


def binding_rows(bindings: Iterable[BindingType], key_display) -> list[tuple[str, str]]:
    """(keys, description) per distinct action and description, in declaration order."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for entry in bindings:
        binding = _as_binding(entry)
        description = binding.tooltip or binding.description or binding.action
        action_name = binding.action.split("(", 1)[0]
        grouped.setdefault((action_name, description), []).append(key_display(binding))
    rows = []
    for (_, description), keys in grouped.items():
        unique_keys = list(dict.fromkeys(keys))
        keys_text = f"{unique_keys[0]}…{unique_keys[-1]}" if len(unique_keys) > 3 else " ".join(unique_keys)
        rows.append((keys_text, description))
    return rows


class HelpScreen(ModalScreen[None]):
    """A modal listing the key bindings; any of Escape, ``q`` or ``?`` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close help"),
        Binding("q", "close", "Close help", show=False),
        Binding("question_mark", "close", "Close help", show=False),
    ]

    def __init__(self, sections: Sequence[HelpSection]) -> None:
        super().__init__()
        self.sections = list(sections)

    def compose(self) -> ComposeResult:
        """The bindings table and the filter syntax, scrollable."""
        self.help_renderable = self._render_help()
        with VerticalScroll(id="help-body") as body:
            body.border_title = "knm-tui help"
            body.border_subtitle = "Escape to close"
            yield Static(self.help_renderable, id="help-text")

    def _render_help(self) -> Text:
        text = Text()
        for title, bindings in self.sections:
            text.append(f"{title}\n", style="bold underline")
            for keys, description in binding_rows(bindings, self.app.get_key_display):
                text.append(f"  {keys:<{KEYS_WIDTH}}", style="bold")
                text.append(f"{description}\n")
            text.append("\n")
        text.append("Filter\n", style="bold underline")
        text.append(FILTER_HELP.format(shortcuts="  ".join(SHORTCUTS)))
        return text

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss(None)
