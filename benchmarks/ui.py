"""ui-churn and ui-table: the dashboard headless (``App.run_test()``) on a 5,000-node source.

The source is an in-memory stand-in for the ``Fleet`` (real ``NodeCache`` and ``ChangeFeed``,
publishing exactly as the sync threads do), holding the big cluster's nodes projected once. The
terminal is 160×50. Textual renders every frame in headless mode too (the compositor asks each
widget for its lines); only writing the frame to a terminal is skipped.

Frames are observed through subclasses: the table's ``render_line`` reports every line it renders
and the app's ``_display`` every compositor update it hands to the driver. An operation is on
screen with the first displayed frame for which the table rendered a line while the operation's
effect held.

- **ui-table**: the first frame of the 5,000-row table after the cache is ready (the feed wakes the
  app when a cluster finishes loading; the drain-to-frame part is reported too), a cluster switch (``]``/``[`` between two 5,000-node clusters), a sort (``s``)
  and a filter keystroke (typing into ``/``), each from the key press to the frame. The baseline
  does the same operations on Textual's stock ``DataTable`` with the same cells: ``add_rows``,
  ``clear`` + ``add_rows`` (switch), ``sort`` and ``clear`` + ``add_rows`` of the matching rows
  (``DataTable`` has no filter).
- **ui-churn**: a thread publishes 2,000 node changes/s (heartbeat moves on random nodes) while
  an asyncio timer measures its own lateness (event-loop lag), and ten times a second the thread
  flips the Ready status of a node on screen and stamps the time: the event-to-screen latency is
  the time until a displayed frame shows that row with the new status. A flip not yet on screen
  when the same row flips again counts with the time it had waited (a lower bound).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import random
import statistics
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from benchmarks.harness import Bench, Budget, Check, Figure, percentile
from knm_tui.kube.cache import ChangeFeed, ClusterStatus, NodeCache, SyncState
from knm_tui.kube.nodeview import NodeView, project_node

TERMINAL_SIZE = (160, 50)
FRAME_TIMEOUT = 60.0
LAG_INTERVAL = 0.02
STAMPS_PER_SECOND = 10
STAMPED_NODES = 10  # the first rows by name: on screen while the table is sorted by name
CHURN_TICK = 0.01
FILTER_TEXT = "user"
SORT_PRESSES = 4


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# The data source


def live_status(context: str, views: list[NodeView]) -> ClusterStatus:
    """A LIVE, synced status for ``views``."""
    return ClusterStatus(context=context, state=SyncState.LIVE, server="", node_count=len(views),
                         ready_count=sum(1 for view in views if view.ready == "True"), synced=True,
                         message=f"Initialized node cache with {len(views)} nodes", since=utc_now())


def priming_status(context: str) -> ClusterStatus:
    """A status for a context whose first LIST is in flight."""
    return ClusterStatus(context=context, state=SyncState.PRIMING, server="", node_count=0,
                         ready_count=0, synced=False, message="listing nodes", since=utc_now())


class BenchSource:
    """The ``Fleet`` interface over real caches and a real feed, fed by the benchmark."""

    def __init__(self) -> None:
        self.contexts: list[str] = []
        self.feed = ChangeFeed()
        self._caches: dict[str, NodeCache] = {}
        self._statuses: dict[str, ClusterStatus] = {}

    def add_cluster(self, context: str, views: list[NodeView], status: ClusterStatus) -> None:
        """Add a context holding ``views``."""
        cache = NodeCache()
        cache.replace_nodes({view.name: view for view in views})
        self.contexts.append(context)
        self._caches[context] = cache
        self._statuses[context] = status

    def start(self) -> None:
        """Nothing to start: the benchmark publishes the changes."""

    def stop(self, timeout: float = 5.0) -> None:
        """Nothing to stop."""

    def cache(self, context: str) -> NodeCache:
        """The node cache of ``context``."""
        return self._caches[context]

    def status(self, context: str) -> ClusterStatus:
        """The status of ``context``."""
        return self._statuses[context]

    def api_client(self, context: str) -> None:
        """No API clients: pods are not counted here."""
        return None

    def put_node(self, context: str, view: NodeView) -> None:
        """Publish one node version, feed first and then cache, as the sync does."""
        self.feed.publish_upsert(context, view)
        self._caches[context].put_node(view)

    def replace_all(self, context: str, views: list[NodeView], status: ClusterStatus) -> None:
        """Replace every node (as a prime does) and publish a reset and the status."""
        self._caches[context].replace_nodes({view.name: view for view in views})
        self.feed.publish_reset(context)
        self._statuses[context] = status
        self.feed.publish_status(context, status)


def with_ready(view: NodeView, ready: bool, resource_version: str) -> NodeView:
    """``view`` with its Ready condition set to True or False."""
    status_text = "True" if ready else "False"
    conditions = tuple(
        dataclasses.replace(condition, status=status_text) if condition.type == "Ready" else condition
        for condition in view.conditions
    )
    return dataclasses.replace(view, conditions=conditions, ready=status_text,
                               status="Ready" if ready else "NotReady", resource_version=resource_version)


def with_heartbeat(view: NodeView, moment: datetime, resource_version: str) -> NodeView:
    """``view`` with every condition's heartbeat moved to ``moment`` (a kubelet status update)."""
    conditions = tuple(dataclasses.replace(condition, last_heartbeat=moment) for condition in view.conditions)
    return dataclasses.replace(view, conditions=conditions, resource_version=resource_version)


def renamed(views: list[NodeView], prefix: str) -> list[NodeView]:
    """Copies of ``views`` whose names start with ``prefix`` (a second, distinguishable cluster)."""
    return [dataclasses.replace(view, name=prefix + view.name) for view in views]


# ---------------------------------------------------------------------------------------------
# Observing frames


class FrameProbe:
    """Waits for the first frame, after ``started``, that shows the table in a state where
    ``predicate`` holds: the table (or, for a filter keystroke, the filter box) rendered a line
    while it held, and the compositor then handed the update to the driver (``App._display``)."""

    def __init__(self, predicate: Callable[[], bool]) -> None:
        self.predicate = predicate
        self.started = time.perf_counter()
        self.rendered = False
        self.finished: float | None = None
        self.event = asyncio.Event()

    def line_rendered(self) -> None:
        """Called for every line the table renders."""
        if not self.rendered and self.predicate():
            self.rendered = True

    def frame_displayed(self) -> None:
        """Called after every compositor update."""
        if self.rendered and self.finished is None:
            self.finished = time.perf_counter()
            self.event.set()

    async def seconds(self, timeout: float = FRAME_TIMEOUT) -> float:
        """Seconds from ``started`` to the frame."""
        await asyncio.wait_for(self.event.wait(), timeout)
        assert self.finished is not None
        return self.finished - self.started


class FrameHooks:
    """Where the probed widgets and apps report: the current frame probe and line listener."""

    def __init__(self) -> None:
        self.probe: FrameProbe | None = None
        self.on_line: Callable[[int, Any], None] | None = None  # (y, strip) of every rendered line
        self.on_frame: Callable[[], None] | None = None

    def arm(self, predicate: Callable[[], bool]) -> FrameProbe:
        """Start waiting for the first frame in which ``predicate`` holds."""
        self.probe = FrameProbe(predicate)
        return self.probe

    def input_line(self) -> None:
        """The filter box rendered its line (it counts for the probe only)."""
        if self.probe is not None:
            self.probe.line_rendered()

    def line(self, y: int, strip: Any) -> None:
        """A table line was rendered."""
        if self.on_line is not None:
            self.on_line(y, strip)
        if self.probe is not None:
            self.probe.line_rendered()

    def frame(self) -> None:
        """A compositor update was handed to the driver."""
        if self.on_frame is not None:
            self.on_frame()
        if self.probe is not None:
            self.probe.frame_displayed()


def probed_widget(widget_class: type, hooks: FrameHooks) -> type:
    """A subclass of a Line-API widget whose ``render_line`` reports to ``hooks``."""

    class Probed(widget_class):  # type: ignore[misc, valid-type]
        def render_line(self, y: int) -> Any:
            strip = super().render_line(y)
            if y > 0:  # line 0 is the header
                hooks.line(y, strip)
            return strip

    Probed.__name__ = f"Probed{widget_class.__name__}"
    return Probed


def probed_input(input_class: type, hooks: FrameHooks) -> type:
    """A subclass of the filter box whose ``render_line`` reports to ``hooks``: a keystroke that
    leaves the table as it was shows on screen when the box is repainted."""

    class Probed(input_class):  # type: ignore[misc, valid-type]
        def render_line(self, y: int) -> Any:
            strip = super().render_line(y)
            hooks.input_line()
            return strip

    Probed.__name__ = f"Probed{input_class.__name__}"
    return Probed


def probed_app(app_class: type, hooks: FrameHooks) -> type:
    """A subclass of an ``App`` whose every displayed frame reports to ``hooks``."""

    class ProbedApp(app_class):  # type: ignore[misc, valid-type]
        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is not None:
                hooks.frame()

    ProbedApp.__name__ = f"Probed{app_class.__name__}"
    return ProbedApp


class LagProbe:
    """An asyncio timer that records how late each of its ticks runs (event-loop lag)."""

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self.recording = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start ticking on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        start = time.perf_counter()
        count = 0
        while True:
            count += 1
            due = start + count * self.interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            late = time.perf_counter() - due
            if self.recording:
                self.samples.append(late)
            if late > self.interval:  # skip ticks that are already past, as Textual's timers do
                start, count = time.perf_counter(), 0

    def stop(self) -> None:
        """Stop ticking."""
        if self._task is not None:
            self._task.cancel()


# ---------------------------------------------------------------------------------------------
# The apps


def knm_app(source: BenchSource, initial_context: str, hooks: FrameHooks) -> Any:
    """A ``KnmApp`` whose frames and node-table lines report to ``hooks`` and which notes each drain."""
    from knm_tui.app import KnmApp
    from knm_tui.ui.format import COLUMNS
    from knm_tui.ui.node_table import NodeTable

    class MeasuredKnmApp(probed_app(KnmApp, hooks)):  # type: ignore[misc]
        CSS_PATH = str(Path(inspect.getfile(KnmApp)).parent / KnmApp.CSS_PATH)  # relative to KnmApp's module
        drain_started_at = 0.0

        def drain_feed(self) -> None:
            if self.source.feed.pending():
                self.drain_started_at = time.perf_counter()
            super().drain_feed()

    app = MeasuredKnmApp(source, initial_context=initial_context)
    app.table = probed_widget(NodeTable, hooks)(COLUMNS, id="nodes")
    original = app.filter_input
    app.filter_input = probed_input(type(original), hooks)(
        placeholder=original.placeholder, id="filter", select_on_focus=False)
    return app


async def settle(pilot: Any, seconds: float = 0.3) -> None:
    """Let the app finish what it is doing (mount, first drains)."""
    await pilot.pause()
    await asyncio.sleep(seconds)
    await pilot.pause()


async def measure_knm_table(views_a: list[NodeView], views_b: list[NodeView], runs: int) -> dict[str, list[float]]:
    """First frame, drain-to-frame, switch, sort and filter keystroke on the product's table."""
    source = BenchSource()
    source.add_cluster("a", [], priming_status("a"))
    source.add_cluster("b", views_b, live_status("b", views_b))
    hooks = FrameHooks()
    app = knm_app(source, "a", hooks)
    table = app.table
    results: dict[str, list[float]] = {"first": [], "first_work": [], "switch": [], "sort": [], "filter": []}

    def filter_text() -> str:
        return app.node_filter.text if app.node_filter is not None else ""

    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        for _ in range(runs):
            source.replace_all("a", [], priming_status("a"))
            await hooks.arm(lambda: table.row_count == 0).seconds()
            await settle(pilot, 0.05)
            probe = hooks.arm(lambda: table.row_count > 0)
            source.replace_all("a", views_a, live_status("a", views_a))
            probe.started = time.perf_counter()  # the cache is ready
            results["first"].append(await probe.seconds())
            assert probe.finished is not None
            results["first_work"].append(probe.finished - app.drain_started_at)
            await settle(pilot, 0.1)
        for run in range(runs * 2):
            target, key = ("b/", "right_square_bracket") if run % 2 == 0 else ("a/", "left_square_bracket")
            probe = hooks.arm(lambda target=target: bool(table.visible_keys) and table.visible_keys[0].startswith(target))
            await pilot.press(key)
            results["switch"].append(await probe.seconds())
            await settle(pilot, 0.05)
        for _ in range(max(runs, SORT_PRESSES)):
            before = table.sort_column
            probe = hooks.arm(lambda before=before: table.sort_column != before)
            await pilot.press("s")
            results["sort"].append(await probe.seconds())
            await settle(pilot, 0.05)
        await pilot.press("slash")
        await settle(pilot, 0.1)
        typed = ""
        for _ in range(max(1, runs // 2)):
            for character in FILTER_TEXT:
                typed += character
                probe = hooks.arm(lambda text=typed: filter_text() == text)
                await pilot.press(character)
                results["filter"].append(await probe.seconds())
                await settle(pilot, 0.05)
            for _ in FILTER_TEXT:
                typed = typed[:-1]
                probe = hooks.arm(lambda text=typed: filter_text() == text)
                await pilot.press("backspace")
                results["filter"].append(await probe.seconds())
                await settle(pilot, 0.05)
        hooks.probe = None
    return results


async def measure_datatable(rows_a: list[tuple[str, ...]], rows_b: list[tuple[str, ...]], labels: list[str],
                            runs: int) -> dict[str, list[float]]:
    """The same operations on Textual's stock ``DataTable`` with the same cell texts."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    hooks = FrameHooks()
    table_class = probed_widget(DataTable, hooks)
    keys = [f"c{index}" for index in range(len(labels))]
    filtered_a = [row for row in rows_a if FILTER_TEXT[:2] in row[0]]

    class StockTableApp(probed_app(App, hooks)):  # type: ignore[misc]
        def compose(self) -> ComposeResult:
            yield table_class(id="nodes", cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for key, label in zip(keys, labels):
                table.add_column(label, key=key)
            table.focus()

    app = StockTableApp()
    results: dict[str, list[float]] = {"first": [], "switch": [], "sort": [], "filter": []}
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(DataTable)
        state = {"rows": "none", "sorted_by": ""}

        async def replace_rows(rows: list[tuple[str, ...]], name: str) -> float:
            probe = hooks.arm(lambda: state["rows"] == name and table.row_count > 0)
            table.clear()
            table.add_rows(rows)
            state["rows"] = name
            return await probe.seconds()

        for _ in range(runs):
            table.clear()
            state["rows"] = "none"
            await settle(pilot, 0.05)
            results["first"].append(await replace_rows(rows_a, "a"))
            await settle(pilot, 0.05)
        for run in range(runs):
            name, rows = ("b", rows_b) if run % 2 == 0 else ("a", rows_a)
            results["switch"].append(await replace_rows(rows, name))
            await settle(pilot, 0.05)
        for run in range(runs):
            key = keys[(run + 1) % len(keys)]
            probe = hooks.arm(lambda key=key: state["sorted_by"] == key)
            table.sort(key)
            state["sorted_by"] = key
            results["sort"].append(await probe.seconds())
            await settle(pilot, 0.05)
        for run in range(runs):
            name, rows = ("filtered", filtered_a) if run % 2 == 0 else ("a", rows_a)
            results["filter"].append(await replace_rows(rows, name))
            await settle(pilot, 0.05)
        hooks.probe = None
    return results


def run_table(bench: Bench) -> list[Check]:
    """The ui-table lines."""
    from knm_tui.ui.fleet_model import FleetModel
    from knm_tui.ui.format import COLUMNS

    sizes = bench.sizes
    views = [project_node(node) for node in bench.node_objects()]
    views_b = renamed(views, "b-")
    knm = asyncio.run(measure_knm_table(views, views_b, sizes.runs))
    model = FleetModel(["a", "b"], utc_now)
    cache_a, cache_b = NodeCache(), NodeCache()
    cache_a.replace_nodes({view.name: view for view in views})
    cache_b.replace_nodes({view.name: view for view in views_b})
    rows_a = [row.cells for row in model.load_context("a", cache_a)]
    rows_b = [row.cells for row in model.load_context("b", cache_b)]
    stock = asyncio.run(measure_datatable(rows_a, rows_b, [column.label for column in COLUMNS],
                                          max(2, sizes.runs_expensive)))
    count = len(views)
    scenario = "ui-table"

    def ms(samples: list[float]) -> list[float]:
        return [sample * 1000 for sample in samples]

    stock_label = "DataTable"
    return [
        Check(scenario, f"first frame, {count:,} rows (cache ready → screen)", Figure("knm-tui", "ms", ms(knm["first"])),
              Figure(f"{stock_label} add_rows → screen", "ms", ms(stock["first"])),
              Budget("max", 100, "≤ 100 ms"),
              note="knm-tui: from the reset published on the feed to the frame"),
        Check(scenario, "first frame: feed drain → screen", Figure("knm-tui", "ms", ms(knm["first_work"]))),
        Check(scenario, "cluster switch (key → screen)", Figure("knm-tui", "ms", ms(knm["switch"])),
              Figure(f"{stock_label} clear+add_rows", "ms", ms(stock["switch"])), Budget("max", 50, "≤ 50 ms")),
        Check(scenario, "sort (key → screen)", Figure("knm-tui", "ms", ms(knm["sort"])),
              Figure(f"{stock_label} sort", "ms", ms(stock["sort"])), Budget("max", 50, "≤ 50 ms")),
        Check(scenario, "filter keystroke (key → screen)", Figure("knm-tui", "ms", ms(knm["filter"])),
              Figure(f"{stock_label} clear+add_rows", "ms", ms(stock["filter"])), Budget("max", 50, "≤ 50 ms")),
    ]


# ---------------------------------------------------------------------------------------------
# ui-churn


class Churner(threading.Thread):
    """Publishes ``rate`` heartbeat changes per second and stamps Ready flips on visible nodes."""

    def __init__(self, source: BenchSource, context: str, views: list[NodeView], rate: float,
                 stamped: list[str]) -> None:
        super().__init__(name="bench-churn", daemon=True)
        self.source = source
        self.context = context
        self.views = {view.name: view for view in views}
        self.names = list(self.views)
        self.rate = rate
        self.stamped = stamped
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[bool, float, bool]] = {}  # row key -> (now ready?, published at, recorded?)
        self.latencies: list[float] = []
        self.recording = False
        self.sent = 0
        self.stamps_sent = 0
        self.overtaken = 0  # stamps flipped again before their first flip reached the screen
        self._rendered: list[tuple[float, bool]] = []  # (published at, recorded?) rendered, not yet displayed
        self._rng = random.Random(42)
        self._version = 20_000_000

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def run(self) -> None:
        """Publish until stopped."""
        started = time.perf_counter()
        next_stamp = started
        stamp_index = 0
        sent = 0
        while not self.stop_event.wait(CHURN_TICK):
            now = time.perf_counter()
            due = int((now - started) * self.rate)
            moment = utc_now()
            while sent < due:
                name = self.names[self._rng.randrange(len(self.names))]
                if name in self.stamped:
                    continue
                view = with_heartbeat(self.views[name], moment, self._next_version())
                self.views[name] = view
                self.source.put_node(self.context, view)
                sent += 1
            self.sent = sent
            if now >= next_stamp:
                next_stamp += 1 / STAMPS_PER_SECOND
                name = self.stamped[stamp_index % len(self.stamped)]
                stamp_index += 1
                view = self.views[name]
                ready = view.ready != "True"
                view = with_ready(view, ready, self._next_version())
                self.views[name] = view
                key = f"{self.context}/{name}"
                with self.lock:
                    overtaken = self.pending.get(key)
                    if overtaken is not None and overtaken[2]:
                        # Never seen before the next flip of the same row: count it as at least this late.
                        self.latencies.append(time.perf_counter() - overtaken[1])
                        self.overtaken += 1
                    self.source.put_node(self.context, view)
                    self.pending[key] = (ready, time.perf_counter(), self.recording)
                    if self.recording:
                        self.stamps_sent += 1

    def line_rendered(self, key: str, text: str) -> None:
        """Called for every rendered table line: a stamp whose row now shows its flip is on
        screen with the next displayed frame."""
        if key not in self.pending:
            return
        with self.lock:
            entry = self.pending.get(key)
            if entry is None:
                return
            ready, published, recorded = entry
            if ("NotReady" in text) != ready:
                del self.pending[key]
                self._rendered.append((published, recorded))

    def frame_displayed(self) -> None:
        """Called after every compositor update: the stamps rendered for it are on screen."""
        if not self._rendered:
            return
        now = time.perf_counter()
        self.latencies.extend(now - published for published, recorded in self._rendered if recorded)
        self._rendered.clear()


async def measure_churn(views: list[NodeView], rate: float, warmup: float, seconds: float) -> dict[str, Any]:
    """Loop lag and event-to-screen latency with ``rate`` node changes per second."""
    source = BenchSource()
    source.add_cluster("a", views, live_status("a", views))
    hooks = FrameHooks()
    app = knm_app(source, "a", hooks)
    table = app.table
    stamped = sorted(view.name for view in views)[:STAMPED_NODES]
    churner = Churner(source, "a", views, rate, stamped)

    def line_rendered(y: int, strip: Any) -> None:
        index = int(table.scroll_offset.y) + y - 1
        keys = table.visible_keys
        if index < len(keys):
            churner.line_rendered(keys[index], strip.text)

    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot, 0.5)
        hooks.on_line = line_rendered
        hooks.on_frame = churner.frame_displayed
        lag = LagProbe()
        lag.start()
        churner.start()
        await asyncio.sleep(warmup)
        lag.recording = churner.recording = True
        sent_before = churner.sent
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        lag.recording = churner.recording = False
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        sent = churner.sent - sent_before
        churner.stop_event.set()
        churner.join(5)
        await asyncio.sleep(1.0)  # let the last stamps reach the screen
        stamps = churner.stamps_sent
        lag.stop()
        hooks.on_line = hooks.on_frame = None
    return {"lag": lag.samples, "latency": churner.latencies, "events_per_second": sent / wall,
            "stamps": stamps, "overtaken": churner.overtaken, "cpu_share": cpu / wall}


def run_churn(bench: Bench) -> list[Check]:
    """The ui-churn lines."""
    sizes = bench.sizes
    views = [project_node(node) for node in bench.node_objects()]
    lag_p50, lag_p95, latency_p95, rates, cpu, seen = [], [], [], [], [], []
    for _ in range(sizes.churn_runs):
        result = asyncio.run(measure_churn(views, sizes.churn_events_per_second, sizes.churn_warmup_seconds,
                                           sizes.churn_seconds))
        lag_p50.append(percentile(result["lag"], 50) * 1000)
        lag_p95.append(percentile(result["lag"], 95) * 1000)
        latency_p95.append(percentile(result["latency"], 95) * 1000 if result["latency"] else float("inf"))
        rates.append(result["events_per_second"])
        cpu.append(result["cpu_share"] * 100)
        seen.append(f"{len(result['latency']) - result['overtaken']}/{result['stamps']}")
    scenario = "ui-churn"
    load = (f"{len(views):,} nodes, {statistics.median(rates):,.0f} events/s "
            f"(process CPU {statistics.median(cpu):.0f} % of a core)")
    return [
        Check(scenario, f"event-loop lag p50, {load}", Figure("knm-tui", "ms", lag_p50)),
        Check(scenario, "event-loop lag p95", Figure("knm-tui", "ms", lag_p95), budget=Budget("max", 50, "≤ 50 ms")),
        Check(scenario, "event → screen p95 (changed visible row)", Figure("knm-tui", "ms", latency_p95),
              budget=Budget("max", 300, "≤ 300 ms"), note=f"stamped changes seen on screen: {', '.join(seen)}"),
    ]

