"""The row of cluster tabs: "All" (every cluster merged) plus one tab per context, with its health.

A tab reads ``1 prod-eu ● 297/300``: its jump key, the context, a state glyph (● live,
◌ priming, … connecting, ↻ reconnecting, ⚠ stale, ✖ error) and ready/total nodes; the All tab
adds how many clusters are not live. CSS classes (``-live``, ``-error``, ``-degraded``,
``-active``...) colour it; the text alone still says it all.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalScroll
from textual.events import Click
from textual.message import Message
from textual.widgets import Static

from knm_tui.kube.cache import SyncState
from knm_tui.ui.fleet_model import FleetModel
from knm_tui.ui.health import TLS_VERIFY_OFF, state_css_class, state_word, tab_summary

ALL_CLUSTERS_LABEL = "All"
STATE_CLASSES = tuple(f"-{state.value}" for state in SyncState)


def jump_key(index: int) -> str:
    """The digit that jumps to the tab of the context at ``index`` (0-based), or ``""``."""
    return str(index + 1) if index < 9 else ""


class ClusterTab(Static):
    """One tab; ``context`` is ``None`` for the all-clusters tab."""

    def __init__(self, context: str | None, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.context = context
        self.label = ""

    def set_label(self, label: str) -> None:
        """Show ``label``; re-lays out only when its text changed (tabs size to their text)."""
        if label != self.label:
            resized = len(label) != len(self.label)
            self.label = label
            self.update(label, layout=resized)

    def on_click(self, event: Click) -> None:
        """Select this tab."""
        event.stop()
        self.post_message(ClusterTabs.Selected(self.context))


class ClusterTabs(HorizontalScroll, can_focus=False):
    """The tab bar; :meth:`refresh_tabs` redraws labels from the model."""

    class Selected(Message):
        """A tab was clicked (``context`` is ``None`` for all clusters)."""

        def __init__(self, context: str | None) -> None:
            self.context = context
            super().__init__()

    def __init__(self, contexts: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._contexts = list(contexts)
        self._tabs: dict[str | None, ClusterTab] = {}
        self._scrolled_to: str | None | object = object()

    def compose(self) -> ComposeResult:
        """One tab for all clusters, then one per context in kubeconfig order."""
        tab = ClusterTab(None, id="tab-all")
        self._tabs[None] = tab
        yield tab
        for index, context in enumerate(self._contexts):
            tab = ClusterTab(context, id=f"tab-{index}")
            self._tabs[context] = tab
            yield tab

    def tab(self, context: str | None) -> ClusterTab:
        """The tab of a context (``None``: all clusters)."""
        return self._tabs[context]

    def refresh_tabs(self, model: FleetModel, current: str | None) -> None:
        """Redraw every tab's label and classes; keep the current tab in view."""
        ready, total = model.totals()
        all_tab = self._tabs[None]
        troubled = sum(1 for cluster in model.clusters.values() if cluster.state != SyncState.LIVE)
        trouble = f" · {troubled} not live" if troubled else ""
        all_tab.set_label(f"0 {ALL_CLUSTERS_LABEL} {ready}/{total}{trouble}")
        all_tab.set_class(current is None, "-active")
        all_tab.set_class(ready < total, "-degraded")
        all_tab.set_class(bool(troubled), "-troubled")
        for index, context in enumerate(self._contexts):
            cluster = model.cluster(context)
            tab = self._tabs[context]
            key = jump_key(index)
            prefix = f"{key} " if key else ""
            tls = " · TLS off" if cluster.status is not None and cluster.status.insecure_tls else ""
            tab.set_label(f"{prefix}{context} {tab_summary(cluster)}{tls}")
            state_class = state_css_class(cluster)
            for css_class in STATE_CLASSES:
                tab.set_class(css_class == state_class, css_class)
            tab.set_class(context == current, "-active")
            tab.set_class(cluster.ready_count < cluster.node_count, "-degraded")
            status_text = state_word(cluster.status)
            if cluster.status is not None and cluster.status.insecure_tls:
                status_text += f" · {TLS_VERIFY_OFF}"
            tab.tooltip = f"{context}: {status_text}"
        current_tab = self._tabs.get(current)
        if current is not self._scrolled_to and current_tab is not None and current_tab.is_mounted:
            self._scrolled_to = current
            self.scroll_to_widget(current_tab, animate=False)
