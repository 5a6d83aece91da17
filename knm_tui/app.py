"""The Textual app: composes the dashboard, owns the fleet of cluster syncs, routes messages.

The sync engine's threads write into a ``ChangeFeed``; the app drains it every 0.1 s, and at once
when a cluster finishes loading, inside ``batch_update()`` and hands the batches to
:class:`~knm_tui.ui.fleet_model.FleetModel`, which says which rows changed. Pod counts run in a thread worker that posts small typed messages; no
worker touches a widget. One handler for ``Worker.StateChanged`` turns a failed worker into a
visible state.

Relative times (AGE, LAST CHANGE, HEARTBEAT, and the panel's "3 minutes ago") are refreshed by a
1 s tick for the rows on screen and the selected node only, plus a cheap stale-heartbeat scan
every 5 s; see :mod:`knm_tui.ui.fleet_model` for why.

``KnmApp(source, clock=..., tz=..., read_only=...)`` takes its data source (a
:class:`knm_tui.kube.sync.Fleet`, or any object with the same ``contexts``, ``feed``,
``cache()``, ``status()``, ``api_client()``, ``start()`` and ``stop()``) and its clock, so tests
and snapshots run on fixed data and a frozen time.

Node operations (space marks, ``c`` cordon, ``u`` uncordon, ``r`` drain, ``l`` labels, ``t``
taints) are run by :class:`~knm_tui.ui.node_ops.NodeOps`; the app only declares their bindings,
hides them when the view is read-only (``check_action``) and hands over the selected rows: the
marked rows of the current view, else the cursor row.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone, tzinfo
from typing import Callable, ClassVar, Iterable, Mapping

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from knm_tui.kube.audit import AuditLog
from knm_tui.kube.cache import ChangeBatch
from knm_tui.kube.gcpause import collector_paused
from knm_tui.kube.ops import DrainOptions
from knm_tui.kube.pods import PodCountError, PodCounts, count_pods
from knm_tui.ui.cluster_tabs import ClusterTabs
from knm_tui.ui.commands import FleetCommands
from knm_tui.ui.filter_input import FilterInput
from knm_tui.ui.filters import FilterError, NodeFilter, parse_filter
from knm_tui.ui.fleet_model import FleetModel, FleetSource
from knm_tui.ui.format import ALL_CLUSTERS_COLUMNS, COLUMNS, RowData, split_row_key
from knm_tui.ui.help_screen import HelpScreen
from knm_tui.ui.node_ops import NODE_OPS_ACTIONS, NODE_OPS_BINDINGS, NodeOps
from knm_tui.ui.node_panel import NodePanel
from knm_tui.ui.node_table import NodeTable, TableRow
from knm_tui.ui.health import state_word
from knm_tui.ui.status_bar import ClusterBanner, EmptyNote, KeyHints, StatusBar

log = logging.getLogger(__name__)

DRAIN_INTERVAL_SECONDS = 0.1
TICK_INTERVAL_SECONDS = 1.0
STALE_SCAN_EVERY_TICKS = 5
PROGRESS_INTERVAL_SECONDS = 0.1
DEFAULT_SORT_COLUMN = "name"
FILTER_PLACEHOLDER = "filter: name, label selector (zone=eu-1a,env!=prod), or !ready cordoned pressure stale"

PodCounter = Callable[..., PodCounts]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class KnmApp(App[int]):
    """The knm-tui dashboard."""

    CSS_PATH = "ui/knm.tcss"
    TITLE = "knm-tui"
    COMMANDS = App.COMMANDS | {FleetCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("right_square_bracket", "next_cluster", "Next cluster"),
        Binding("left_square_bracket", "previous_cluster", "Previous cluster"),
        *(
            Binding(str(number), f"jump({number})", "Jump to cluster 1–9", show=False)
            for number in range(1, 10)
        ),
        Binding("0", "jump(0)", "All clusters", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear the filter", show=False),
        Binding("s", "sort_next", "Sort", tooltip="Sort by the next column"),
        Binding("S", "sort_previous", "Sort by the previous column", show=False),
        Binding("o", "reverse_sort", "Reverse the sort order", show=False),
        Binding("p", "count_pods", "Pods", tooltip="Count pods per node in this cluster (every cluster in the all view)"),
        Binding("P", "count_node_pods", "Count the selected node's pods", show=False),
        Binding("d", "toggle_details", "Details", tooltip="Show or hide the details panel"),
        Binding("tab", "focus_next", "Next pane", tooltip="Move focus between the table, the details panel and the filter", show=False),
        *NODE_OPS_BINDINGS,
    ]

    class PodCountProgress(Message):
        """A running pod count has seen ``counted`` pods."""

        def __init__(self, job: int, context: str, counted: int) -> None:
            self.job = job
            self.context = context
            self.counted = counted
            super().__init__()

    class PodCountsLoaded(Message):
        """A pod count finished (``node_name`` set when only one node was counted)."""

        def __init__(self, job: int, context: str, node_name: str | None, counts: PodCounts) -> None:
            self.job = job
            self.context = context
            self.node_name = node_name
            self.counts = counts
            super().__init__()

    class PodCountFailed(Message):
        """A pod count failed; ``message`` is one line for the user."""

        def __init__(self, job: int, context: str, message: str) -> None:
            self.job = job
            self.context = context
            self.message = message
            super().__init__()

    def __init__(
        self,
        source: FleetSource,
        *,
        clock: Callable[[], datetime] = utc_now,
        tz: tzinfo | None = None,
        read_only: bool = False,
        read_only_contexts: Iterable[str] = (),
        users: Mapping[str, str] | None = None,
        audit_log: AuditLog | None = None,
        drain_defaults: DrainOptions | None = None,
        initial_context: str | None = None,
        pod_counter: PodCounter = count_pods,
        drain_interval: float = DRAIN_INTERVAL_SECONDS,
        tick_interval: float = TICK_INTERVAL_SECONDS,
        stop_timeout: float = 2.0,
    ) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.tz = tz
        self.read_only = read_only
        self.pod_counter = pod_counter
        self.drain_interval = drain_interval
        self.tick_interval = tick_interval
        self.stop_timeout = stop_timeout
        self.model = FleetModel(source.contexts, clock)
        contexts = self.model.contexts
        self.current_context: str | None = (
            initial_context if initial_context in contexts else (contexts[0] if contexts else None)
        )
        self.sort_column = DEFAULT_SORT_COLUMN
        self.sort_reverse = False
        self.node_filter: NodeFilter | None = None
        self._cursor_by_view: dict[str | None, str] = {}
        self._ticks = 0
        self._pod_job = 0
        self._pod_job_contexts: list[str] = []
        self._pod_cancel: threading.Event | None = None
        self._source_started = False
        self._quitting = False
        # The dashboard's widgets, kept by reference: ``query_one`` would search whichever
        # screen is on top (the help screen, the command palette) instead of the dashboard.
        self.tabs = ClusterTabs(self.model.contexts, id="tabs")
        self.banner = ClusterBanner(id="banner")
        self.filter_input: Input = FilterInput(placeholder=FILTER_PLACEHOLDER, id="filter", select_on_focus=False)
        self.nodes_box = Vertical(id="nodes-box")
        self.table = NodeTable(COLUMNS, id="nodes")
        self.empty_note = EmptyNote(id="empty-note")
        self.panel = NodePanel(id="details", tz=self.tz)
        self.status_bar = StatusBar(id="status")
        self.key_hints = KeyHints(id="keys")
        self.node_ops = NodeOps(source, read_only=read_only, read_only_contexts=read_only_contexts, users=users,
                                audit=audit_log, drain_defaults=drain_defaults, id="node-ops")

    # ------------------------------------------------------------------ composition

    def compose(self) -> ComposeResult:
        """Tabs, banner, filter, node table, details panel, status bar, key hints."""
        yield self.tabs
        yield self.banner
        yield self.filter_input
        with self.nodes_box:
            yield self.table
            yield self.empty_note
        yield self.panel
        yield self.status_bar
        yield self.key_hints
        yield self.node_ops

    def on_mount(self) -> None:
        """Load whatever the caches hold, start the syncs and the timers."""
        self.filter_input.display = False
        self.key_hints.show_hints(self._key_hints())
        for context in self.model.contexts:
            self.model.set_status(self.source.status(context))
            self.model.load_context(context, self.source.cache(context))
        loop = asyncio.get_running_loop()
        self.source.feed.set_reset_listener(lambda: self._drain_from_thread(loop))
        self.source.start()
        self._source_started = True
        self._show_view(focus=True)
        self.watch(self.table, "scroll_y", self._on_table_scrolled, init=False)
        self.set_interval(self.drain_interval, self.drain_feed)
        self.set_interval(self.tick_interval, self.tick)

    def on_unmount(self) -> None:
        """Stop pod counting and every cluster sync."""
        self._quitting = True
        self.source.feed.set_reset_listener(None)
        self._cancel_pod_job()
        if self._source_started:
            self._source_started = False
            self.source.stop(timeout=self.stop_timeout)

    def _key_hints(self) -> list[tuple[str, str]]:
        hints = [(self.get_key_display(binding), binding.description)
                 for binding in self.BINDINGS if isinstance(binding, Binding) and binding.show]
        hints.append((self.get_key_display(Binding(self.COMMAND_PALETTE_BINDING, "")), "Palette"))
        return hints

    # ------------------------------------------------------------------ the feed and the clock

    def _drain_from_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """Ask the event loop for a drain now: a cluster finished loading (called by a sync thread)."""
        try:
            loop.call_soon_threadsafe(self.drain_feed)
        except RuntimeError:  # the loop has closed: the app is gone
            pass

    def drain_feed(self) -> None:
        """Apply everything the sync threads published since the last drain."""
        batches = self.source.feed.drain()
        if not batches:
            return
        with collector_paused():
            self._apply_batches(batches)

    def _apply_batches(self, batches: list[ChangeBatch]) -> None:
        """Fold drained batches into the model and show what changed in the current view."""
        changes = self.model.apply(batches, self.source)
        view = self.current_context
        in_view = set(self.model.contexts) if view is None else {view}
        table = self.table
        with self.batch_update():
            if changes.reset & in_view:
                table.set_rows(self.model.rows(view))
            else:
                removed = [key for context in in_view for key in changes.removed.get(context, ())]
                if removed:
                    table.remove_rows(removed)
                rows = [
                    self.model.view_row(row, view)
                    for context in in_view
                    for row in changes.upserted.get(context, ())
                ]
                if rows:
                    table.upsert_rows(rows)
            panel_key = self.panel.key
            if panel_key is not None and (
                panel_key in changes.touched_keys or split_row_key(panel_key)[0] in changes.reset
            ):
                self._show_panel()
            if changes.any:
                self._refresh_chrome()
            else:
                self._refresh_status()

    def tick(self) -> None:
        """Once a second: relative times on screen, stale heartbeats, the panel and the bars."""
        self._ticks += 1
        view = self.current_context
        with self.batch_update():
            changed = self.model.refresh_rows(self._keys_on_screen())
            if self._ticks % STALE_SCAN_EVERY_TICKS == 0:
                contexts = self.model.contexts if view is None else [view]
                changed.extend(self.model.stale_rows(contexts))
            if changed:
                self.table.upsert_rows([self.model.view_row(row, view) for row in changed if self._in_view(row.key)])
            self._show_panel()
            self._refresh_chrome()

    def _keys_on_screen(self) -> list[str]:
        table = self.table
        top = int(table.scroll_offset.y)
        height = max(1, table.size.height - 1)
        return list(table.visible_keys[top : top + height])

    def _in_view(self, key: str) -> bool:
        return self.current_context is None or split_row_key(key)[0] == self.current_context

    def _on_table_scrolled(self) -> None:
        """Bring the relative times of the rows that just came on screen up to date."""
        view = self.current_context
        changed = self.model.refresh_rows(self._keys_on_screen())
        if changed:
            self.table.upsert_rows([self.model.view_row(row, view) for row in changed])

    # ------------------------------------------------------------------ views

    def _show_view(self, *, focus: bool = False) -> None:
        """Show the current view's rows in the table, keeping sort, filter and cursor memory."""
        view = self.current_context
        table = self.table
        previous_key = table.cursor_key
        columns = ALL_CLUSTERS_COLUMNS if view is None else COLUMNS
        with self.batch_update():
            if table.columns != columns:
                table.set_rows([])
                table.set_columns(columns)
            sort_column = self.sort_column if any(c.key == self.sort_column for c in columns) else DEFAULT_SORT_COLUMN
            table.set_rows(self.model.rows(view), sort=(sort_column, self.sort_reverse))
            for key in (previous_key, self._cursor_by_view.get(view)):
                if key is not None and self._in_view(key) and table.move_cursor(key):
                    break
            self._on_table_scrolled()  # relative times of the rows now on screen
            self._show_panel()
            self._refresh_chrome()
        # Rows of a view not shown may have gone stale meanwhile: scan them after this frame.
        self.call_after_refresh(self._refresh_stale_rows, view)
        if focus:
            table.focus()

    def _refresh_stale_rows(self, view: str | None) -> None:
        """Re-format the rows of ``view`` whose heartbeat went stale or fresh, if still shown."""
        if view != self.current_context:
            return
        changed = self.model.stale_rows(self.model.contexts if view is None else [view])
        if changed:
            self.table.upsert_rows([self.model.view_row(row, view) for row in changed])

    def show_cluster(self, context: str | None) -> None:
        """Switch to one context's nodes (``None``: all clusters)."""
        if context is not None and context not in self.model.clusters:
            return
        if context == self.current_context:
            return
        table = self.table
        if table.cursor_key is not None:
            self._cursor_by_view[self.current_context] = table.cursor_key
        if table.sort_column is not None:  # a header click may have changed it
            self.sort_column, self.sort_reverse = table.sort_column, table.sort_reverse
        self.current_context = context
        self._show_view()
        self.refresh_bindings()  # a context may be read-only

    def show_node(self, context: str, name: str) -> None:
        """Switch to a node's cluster and put the cursor on it."""
        key = f"{context}/{name}"
        if self.current_context is not None and self.current_context != context:
            self._cursor_by_view[context] = key
            self.show_cluster(context)
        if not self.table.move_cursor(key) and self.node_filter is not None:
            self._set_filter_text("")
            self.table.move_cursor(key)
        self.table.focus()

    def palette_contexts(self) -> list[str]:
        """Contexts for the command palette."""
        return list(self.model.contexts)

    def palette_nodes(self) -> Iterable[tuple[str, str]]:
        """(context, node) pairs for the command palette."""
        for context, cluster in self.model.clusters.items():
            for name in list(cluster.views):
                yield context, name

    def _show_panel(self) -> None:
        if self._quitting:
            return
        panel = self.panel
        if not panel.display:
            return
        key = self.table.cursor_key
        data = self.model.row_data(key) if key is not None else None
        cluster = self.model.cluster(data.context) if data is not None else None
        panel.show(data, cluster, self.clock())

    def _refresh_status(self) -> None:
        self.status_bar.show(
            self.model, self.current_context, self.clock(), self.tz, self.read_only
        )

    def _refresh_chrome(self) -> None:
        """Tabs, banner, table caption and status bar."""
        now = self.clock()
        view = self.current_context
        self.tabs.refresh_tabs(self.model, view)
        self.banner.show(self.model, view, now, self.tz)
        self._refresh_caption()
        self._refresh_status()

    def _refresh_caption(self) -> None:
        table = self.table
        view = self.current_context
        title = "All clusters" if view is None else view
        shown, total = table.row_count, table.total_row_count
        counts = f"{total} nodes" if shown == total else f"{shown} of {total} nodes"
        filter_text = f" · filter: {self.node_filter.text}" if self.node_filter is not None else ""
        label = next((c.label for c in table.columns if c.key == table.sort_column), "")
        order = "descending" if table.sort_reverse else "ascending"
        sort_text = f" · sorted by {label} {order}" if label else ""
        read_only = " · read-only" if self.read_only else ""
        self.nodes_box.border_title = f"{title} · {counts}{filter_text}{sort_text}{read_only}"
        self._refresh_empty_state()

    def _refresh_empty_state(self) -> None:
        """Say why the table is empty (a filter, a cluster not reached yet), or hide the note."""
        table = self.table
        message = ""
        if table.row_count == 0:
            if table.total_row_count and self.node_filter is not None:
                message = f"No node matches the filter “{self.node_filter.text}”. Escape clears it."
            elif self.current_context is not None:
                cluster = self.model.cluster(self.current_context)
                status = cluster.status
                if status is not None and status.synced:
                    message = f"{cluster.context} has no nodes."
                else:
                    message = f"No nodes yet from {cluster.context} ({state_word(status)}; details above)."
            else:
                message = "No nodes yet in any cluster."
        note = self.empty_note
        note.display = bool(message)
        if message != note.text:
            # Typing a filter that matches nothing changes the text with every key: lay the
            # screen out again only when the note may not stay one line high.
            width = note.content_region.width
            one_line = bool(note.text) and 0 < len(message) <= width and len(note.text) <= width
            note.text = message
            note.update(message, layout=not one_line)

    # ------------------------------------------------------------------ messages from widgets

    def on_node_table_cursor_moved(self, message: NodeTable.CursorMoved) -> None:
        """Show the node under the cursor and remember it for this view."""
        if message.key is not None and self._in_view(message.key):
            self._cursor_by_view[self.current_context] = message.key
        self._show_panel()

    def on_node_table_row_activated(self, message: NodeTable.RowActivated) -> None:
        """Enter on a node: show the details panel and move focus into it."""
        panel = self.panel
        if not panel.display:
            panel.display = True
            self._show_panel()
        panel.focus()

    def on_cluster_tabs_selected(self, message: ClusterTabs.Selected) -> None:
        """A tab was clicked."""
        self.show_cluster(message.context)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter_text(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        filter_input = self.filter_input
        if not event.value.strip():
            filter_input.display = False
        self.table.focus()

    # ------------------------------------------------------------------ actions

    def action_next_cluster(self) -> None:
        """Show the next cluster (wrapping through All clusters)."""
        self._step_cluster(1)

    def action_previous_cluster(self) -> None:
        """Show the previous cluster (wrapping through All clusters)."""
        self._step_cluster(-1)

    def _step_cluster(self, step: int) -> None:
        views: list[str | None] = [None, *self.model.contexts]
        index = views.index(self.current_context)
        self.show_cluster(views[(index + step) % len(views)])

    def action_jump(self, number: int) -> None:
        """``0``: all clusters; ``1``–``9``: the context at that position."""
        if number == 0:
            self.show_cluster(None)
        elif number <= len(self.model.contexts):
            self.show_cluster(self.model.contexts[number - 1])

    def action_help(self) -> None:
        """Open the help screen."""
        palette = Binding(self.COMMAND_PALETTE_BINDING, "command_palette", "Command palette",
                          tooltip="Command palette: jump to a cluster or to a node by name")
        dashboard = [binding for binding in self.BINDINGS
                     if not (isinstance(binding, Binding) and binding.action in NODE_OPS_ACTIONS)]
        sections = [("Dashboard", [*dashboard, palette])]
        if not self.node_ops.is_read_only(self.current_context):
            sections.append(("Node operations", self._node_ops_help()))
        sections.append(("Node table", NodeTable.BINDINGS))
        self.push_screen(HelpScreen(sections))

    def _node_ops_help(self) -> list[BindingType]:
        """The operations' bindings, each saying why it is unavailable here when RBAC said so."""
        bindings: list[BindingType] = []
        for binding in NODE_OPS_BINDINGS:
            assert isinstance(binding, Binding)
            reason = self.node_ops.unavailable_reason(self.current_context, binding.action)
            if reason:
                binding = replace(binding, tooltip=f"{binding.tooltip} (unavailable here: {reason})")
            bindings.append(binding)
        return bindings

    def action_filter(self) -> None:
        """Show the filter input and focus it."""
        filter_input = self.filter_input
        filter_input.display = True
        filter_input.focus()
        filter_input.cursor_position = len(filter_input.value)

    def action_clear_filter(self) -> None:
        """Clear the filter, hide its input and return to the table."""
        self._set_filter_text("")
        self.filter_input.display = False
        self.table.focus()

    def _set_filter_text(self, text: str) -> None:
        filter_input = self.filter_input
        with filter_input.prevent(Input.Changed):
            filter_input.value = text
        self._apply_filter_text(text)

    def _apply_filter_text(self, text: str) -> None:
        filter_input = self.filter_input
        try:
            node_filter = parse_filter(text)
        except FilterError as error:
            self.nodes_box.border_subtitle = f"filter not applied: {error}"
            filter_input.add_class("-invalid")
            return
        self.nodes_box.border_subtitle = ""
        filter_input.remove_class("-invalid")
        self.node_filter = node_filter
        self.table.set_filter(node_filter)
        self._refresh_caption()
        self._show_panel()

    def action_sort_next(self) -> None:
        """Sort by the next column (ascending)."""
        self._step_sort(1)

    def action_sort_previous(self) -> None:
        """Sort by the previous column (ascending)."""
        self._step_sort(-1)

    def _step_sort(self, step: int) -> None:
        keys = [column.key for column in self.table.columns]
        current = self.table.sort_column
        index = keys.index(current) if current in keys else -1
        self.sort_column = keys[(index + step) % len(keys)]
        self.sort_reverse = False
        self.table.sort_by(self.sort_column)
        self._refresh_caption()

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self.sort_reverse = not self.table.sort_reverse
        self.sort_column = self.table.sort_column or DEFAULT_SORT_COLUMN
        self.table.sort_by(self.sort_column, reverse=self.sort_reverse)
        self._refresh_caption()

    def action_toggle_details(self) -> None:
        """Show or hide the details panel."""
        panel = self.panel
        panel.display = not panel.display
        if panel.display:
            self._show_panel()
        else:
            self.table.focus()

    # ------------------------------------------------------------------ node operations

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide (and disable) every node operation where the view is read-only."""
        if action in NODE_OPS_ACTIONS:
            return not self.node_ops.is_read_only(self.current_context)
        return True

    def _selected_rows(self) -> list[RowData]:
        """The marked rows shown in the current view, else the cursor row."""
        table = self.table
        marked = table.marked_keys
        keys = [key for key in table.visible_keys if key in marked] if marked else []
        if not keys and table.cursor_key is not None:
            keys = [table.cursor_key]
        return [data for key in keys if (data := self.model.row_data(key)) is not None]

    def action_toggle_mark(self) -> None:
        """Mark or unmark the node under the cursor for a batch operation, then move down."""
        key = self.table.cursor_key
        if key is None:
            return
        self.table.toggle_mark(key)
        self.table.action_cursor_down()

    def action_cordon(self) -> None:
        """Cordon the selected nodes (a dialog takes an optional reason and confirms)."""
        self.node_ops.start("cordon", self._selected_rows())

    def action_uncordon(self) -> None:
        """Uncordon the selected nodes (after confirmation)."""
        self.node_ops.start("uncordon", self._selected_rows())

    def action_drain(self) -> None:
        """Drain the selected node: preflight, confirmation, live progress, verdict."""
        self.node_ops.start("drain", self._selected_rows())

    def action_labels(self) -> None:
        """Set or remove labels on the selected nodes."""
        self.node_ops.start("labels", self._selected_rows())

    def action_taints(self) -> None:
        """Add or remove taints on the selected nodes."""
        self.node_ops.start("taints", self._selected_rows())

    def on_node_ops_confirmed(self, message: NodeOps.Confirmed) -> None:
        """An operation was confirmed: its marks have served."""
        self.table.clear_marks()

    async def action_quit(self) -> None:
        """Stop pod counting and leave."""
        self._quitting = True
        self._cancel_pod_job()
        self.exit(0)

    # ------------------------------------------------------------------ pods on demand

    def action_count_pods(self) -> None:
        """Count pods per node for the current cluster (every cluster in the all view)."""
        view = self.current_context
        contexts = self.model.contexts if view is None else [view]
        for context in contexts:
            self.model.begin_pod_count(context)
        self._start_pod_job(contexts, None)
        self._refresh_status()

    def action_count_node_pods(self) -> None:
        """Count the pods of the selected node only."""
        key = self.table.cursor_key
        if key is None:
            return
        context, name = split_row_key(key)
        self._start_pod_job([context], name)

    def _cancel_pod_job(self) -> None:
        if self._pod_cancel is not None:
            self._pod_cancel.set()

    def _start_pod_job(self, contexts: list[str], node_name: str | None) -> None:
        self._cancel_pod_job()
        for context in self._pod_job_contexts:
            if context not in contexts and self.model.cluster(context).pods.loading:
                self.model.pod_count_failed(context, "cancelled")
        self._pod_job += 1
        self._pod_cancel = threading.Event()
        self._pod_job_contexts = list(contexts)
        self._count_pods(self._pod_job, list(contexts), node_name, self._pod_cancel)

    @work(thread=True, exclusive=True, group="pods", exit_on_error=False)
    def _count_pods(self, job: int, contexts: list[str], node_name: str | None, cancel: threading.Event) -> None:
        """Count pods context by context in a thread; post progress and results as messages."""
        for context in contexts:
            if cancel.is_set():
                return
            api_client = self.source.api_client(context)
            if api_client is None:
                self.post_message(self.PodCountFailed(job, context, "this cluster cannot be reached"))
                continue
            last_post = 0.0

            def progress(counted: int, context: str = context) -> None:
                nonlocal last_post
                moment = time.monotonic()
                if moment - last_post >= PROGRESS_INTERVAL_SECONDS:
                    last_post = moment
                    self.post_message(self.PodCountProgress(job, context, counted))

            try:
                counts = self.pod_counter(
                    api_client, context=context, node_name=node_name, progress=progress, cancel=cancel
                )
            except PodCountError as error:
                if not cancel.is_set():
                    self.post_message(self.PodCountFailed(job, context, str(error)))
                continue
            if not cancel.is_set():
                self.post_message(self.PodCountsLoaded(job, context, node_name, counts))

    def on_knm_app_pod_count_progress(self, message: PodCountProgress) -> None:
        """Show how far the running count is."""
        if message.job == self._pod_job and self.model.cluster(message.context).pods.loading:
            self.model.pod_count_progress(message.context, message.counted)
            self._refresh_status()

    def on_knm_app_pod_counts_loaded(self, message: PodCountsLoaded) -> None:
        """Fill the PODS column (or the selected node's pods) with a finished count."""
        context = message.context
        if message.node_name is None:
            rows = self.model.set_pod_counts(message.counts)
        else:
            rows = self.model.set_node_pods(message.node_name, message.counts)
        if self._in_view_context(context) and rows:
            self._upsert_model_rows(rows)
        self._show_panel()
        self._refresh_status()

    def on_knm_app_pod_count_failed(self, message: PodCountFailed) -> None:
        """Say in the status bar that a count failed."""
        if message.job != self._pod_job:
            return
        self.model.pod_count_failed(message.context, message.message)
        self._refresh_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Turn a worker that died of an unexpected error into a visible state."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        log.error("background task %s failed", event.worker.name, exc_info=error)
        reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        if event.worker.group == "pods":
            for context in self._pod_job_contexts:
                if self.model.cluster(context).pods.loading:
                    self.model.pod_count_failed(context, reason)
        self._refresh_status()

    def _in_view_context(self, context: str) -> bool:
        return self.current_context is None or self.current_context == context

    def _upsert_model_rows(self, rows: list[TableRow]) -> None:
        view = self.current_context
        self.table.upsert_rows([self.model.view_row(row, view) for row in rows])

