"""Pilot tests of the dashboard: every binding, live updates, the conditions panel, pods, dead clusters.

Most tests run the app on ``FakeFleet`` (real caches and feed, fixed data, a frozen clock); the
last ones start the simulator and the real ``Fleet`` and go through HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from conftest import REAL_OBJECTS, new_pod
from fake_fleet import (
    NOW,
    FakeFleet,
    FrozenClock,
    make_lease,
    make_node,
    make_status,
    pod_counts,
    with_ready,
)
from rich.console import Console
from textual.pilot import Pilot

from knm_tui.app import KnmApp
from knm_tui.kube.cache import SyncState
from knm_tui.kube.config import load_kubeconfig
from knm_tui.kube.nodeview import project_node
from knm_tui.kube.pods import PodCountError
from knm_tui.kube.sync import Fleet, SyncSettings
from knm_tui.sim import ClusterSpec
from knm_tui.sim.fixtures import load_objects, split_by_kind
from knm_tui.ui.format import COLUMNS, absolute_time, format_timestamp
from knm_tui.ui.help_screen import HelpScreen
from knm_tui.ui.node_panel import line_text, panel_lines

SIZE = (160, 45)


def three_clusters() -> FakeFleet:
    """cloud-prod (6 nodes, one NotReady, one cordoned, one with DiskPressure), staging (3), offline (error)."""
    fleet = FakeFleet()
    prod = [
        make_node("prod-a", ip="10.0.0.1", zone="eu-west-1a"),
        make_node("prod-b", ip="10.0.0.2", ready="False", zone="eu-west-1b"),
        make_node("prod-c", ip="10.0.0.3", cordoned=True, zone="eu-west-1c",
                  taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
        make_node("prod-d", ip="10.0.0.4", pressure="DiskPressure", zone="eu-west-1a",
                  labels={"tier": "db"}),
        make_node("prod-e", ip="10.0.0.5", zone="eu-west-1b", labels={"tier": "web"}, cpu="7910m"),
        make_node("prod-f", ip="10.0.0.6", zone="eu-west-1c", labels={"tier": "web"}, cpu="1930m"),
    ]
    fleet.add_cluster("cloud-prod", prod, leases=[make_lease(view.name) for view in prod])
    staging = [make_node(f"stg-{index}", role=None) for index in range(3)]
    fleet.add_cluster("staging", staging)
    fleet.add_cluster("offline", [], status=make_status(
        "offline", SyncState.ERROR, error_kind="unreachable",
        message="connection refused (retrying in 8 s)", since=NOW - timedelta(minutes=2)))
    return fleet


def make_app(fleet: FakeFleet, clock: FrozenClock | None = None, **options: Any) -> KnmApp:
    """The app on a fake fleet, in UTC, with a frozen clock."""
    return KnmApp(fleet, clock=clock or FrozenClock(), tz=timezone.utc, **options)


def run_app(app: KnmApp, body: Callable[[Pilot], Awaitable[None]], size: tuple[int, int] = SIZE) -> None:
    """Run ``body`` against the app on a fresh event loop (no async pytest plugin is installed)."""
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())


def names(app: KnmApp) -> list[str]:
    """Node names in table order."""
    return [key.rpartition("/")[2] for key in app.table.visible_keys]


def cells(app: KnmApp, name: str) -> dict[str, str]:
    """The cells of a node's row in the current view, by column key."""
    key = next(key for key in app.table.visible_keys if key.endswith(f"/{name}"))
    row = app.table.get_row(key)
    return {column.key: cell for column, cell in zip(app.table.columns, row.cells)}


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition()`` holds (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def banner_text(app: KnmApp) -> str:
    banner = app.banner
    return str(banner.render()) if banner.display else ""


def status_text(app: KnmApp) -> str:
    return str(app.status_bar.render())


def tab_text(app: KnmApp, context: str | None) -> str:
    return str(app.tabs.tab(context).render())


# --------------------------------------------------------------------------- start-up and tabs


def test_first_frame_shows_tabs_with_health_and_the_current_cluster() -> None:
    fleet = three_clusters()
    app = make_app(fleet)

    async def body(pilot: Pilot) -> None:
        assert fleet.started
        assert app.current_context == "cloud-prod"
        assert names(app) == ["prod-a", "prod-b", "prod-c", "prod-d", "prod-e", "prod-f"]
        assert tab_text(app, None) == "0 All 8/9 · 1 not live"
        assert tab_text(app, "cloud-prod") == "1 cloud-prod ● 5/6"
        assert tab_text(app, "staging") == "2 staging ● 3/3"
        assert tab_text(app, "offline") == "3 offline ✖ unreachable"
        assert app.tabs.tab("cloud-prod").has_class("-active", "-live", "-degraded")
        assert app.tabs.tab("offline").has_class("-error")
        assert [column.key for column in app.table.columns] == [column.key for column in COLUMNS]
        assert app.focused is app.table
        assert app.panel.key == "cloud-prod/prod-a"

    run_app(app, body)


def test_cluster_keys_switch_views_and_all_clusters_adds_the_cluster_column() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("right_square_bracket")
        assert app.current_context == "staging" and names(app) == ["stg-0", "stg-1", "stg-2"]
        await pilot.press("right_square_bracket")
        assert app.current_context == "offline" and names(app) == []
        await pilot.press("right_square_bracket")
        assert app.current_context is None
        assert app.table.columns[0].key == "cluster"
        assert app.table.row_count == 9
        assert cells(app, "stg-1")["cluster"] == "staging"
        await pilot.press("left_square_bracket")
        assert app.current_context == "offline"
        await pilot.press("1")
        assert app.current_context == "cloud-prod"
        assert app.table.columns[0].key == "name"
        await pilot.press("9")  # no ninth cluster: nothing happens
        assert app.current_context == "cloud-prod"
        await pilot.press("0")
        assert app.current_context is None
        await pilot.press("2")
        assert app.current_context == "staging"
        assert app.tabs.tab("staging").has_class("-active")
        assert not app.tabs.tab("cloud-prod").has_class("-active")

    run_app(app, body)


def test_switching_is_instant_and_remembers_each_views_cursor() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("down", "down", "down")
        assert app.table.cursor_key == "cloud-prod/prod-d"
        started = time.perf_counter()
        app.show_cluster("staging")
        elapsed = time.perf_counter() - started
        assert elapsed < 0.05
        assert app.table.cursor_key == "staging/stg-0"
        await pilot.press("down")
        await pilot.press("1")
        assert app.table.cursor_key == "cloud-prod/prod-d"
        await pilot.press("0")  # the all view keeps the node that was selected
        assert app.table.cursor_key == "cloud-prod/prod-d"
        await pilot.press("2")
        assert app.table.cursor_key == "staging/stg-1"

    run_app(app, body)


def test_initial_context_is_honoured_and_clicking_a_tab_switches_cluster() -> None:
    app = make_app(three_clusters(), initial_context="staging")

    async def body(pilot: Pilot) -> None:
        assert app.current_context == "staging"
        assert names(app) == ["stg-0", "stg-1", "stg-2"]
        await pilot.click("#tab-0")
        assert app.current_context == "cloud-prod"
        await pilot.click("#tab-all")
        assert app.current_context is None

    run_app(app, body)


# --------------------------------------------------------------------------- table content


def test_rows_show_status_kinds_by_text_and_severity() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        assert cells(app, "prod-a")["status"] == "Ready"
        assert cells(app, "prod-b")["status"] == "NotReady"
        assert cells(app, "prod-c")["status"] == "Ready,SchedulingDisabled"
        assert cells(app, "prod-d")["status"] == "Ready,DiskPressure"
        severity = {name: app.table.get_row(f"cloud-prod/{name}").severity for name in names(app)}
        assert severity == {"prod-a": "ok", "prod-b": "error", "prod-c": "cordoned",
                            "prod-d": "warning", "prod-e": "ok", "prod-f": "ok"}
        row = cells(app, "prod-a")
        assert row["last_change"] == "5h"
        assert row["heartbeat"] == "4s"  # the lease renew time, not the older condition heartbeat
        assert row["age"] == "12d"
        assert row["cpu"] == "3.92" and row["memory"] == "15.5Gi"
        assert row["pods"] == ""  # nothing about pods until asked
        assert row["internal_ip"] == "10.0.0.1" and row["zone"] == "eu-west-1a"
        assert row["instance_type"] == "m5.xlarge" and row["roles"] == "worker"
        assert cells(app, "prod-c")["taints"] == "node.kubernetes.io/unschedulable:NoSchedule"
        await pilot.press("2")
        assert cells(app, "stg-0")["heartbeat"] == "20s"  # no lease: the condition heartbeat
        assert cells(app, "stg-0")["roles"] == "<none>"

    run_app(app, body)


# --------------------------------------------------------------------------- filter


async def type_filter(pilot: Pilot, text: str) -> None:
    """Open the filter (unless it has focus already) and replace its text."""
    filter_input = pilot.app.filter_input
    if pilot.app.focused is not filter_input:
        await pilot.press("slash")
    filter_input.value = text
    await pilot.pause()


def test_typing_a_filter_repaints_the_box_without_laying_out_the_screen() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("d")  # the details panel off: its own size follows the selected node
        await pilot.press("slash")
        await pilot.pause()
        screen = app.screen
        layouts: list[int] = []
        refresh_layout = screen._refresh_layout

        def counted(*args: Any, **kwargs: Any) -> Any:
            layouts.append(1)
            return refresh_layout(*args, **kwargs)

        screen._refresh_layout = counted  # type: ignore[method-assign]
        await pilot.press("p", "r", "o", "d", "minus")
        await pilot.pause()
        assert names(app) == ["prod-a", "prod-b", "prod-c", "prod-d", "prod-e", "prod-f"]
        assert app.filter_input.value == "prod-"
        assert layouts == []  # each key repainted the box and the table, nothing more
        long_text = "prod- " + "tier!=x," * 30
        app.filter_input.value = long_text
        await pilot.pause()
        assert long_text[-20:] in app.filter_input.render_line(0).text  # scrolled to the cursor
        await pilot.press("escape")
        await pilot.pause()
        assert not app.filter_input.display and layouts  # hiding the box still lays the screen out

    run_app(app, body)


def test_filter_by_name_label_selector_and_shortcuts() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("slash")
        assert app.focused is app.filter_input
        await pilot.press("p", "r", "o", "d", "minus", "e")
        assert names(app) == ["prod-e"]
        assert "1 of 6 nodes · filter: prod-e" in app.nodes_box.border_title
        for text, expected in [  # one of each kind; the grammar is covered in test_ui_model.py
            ("!ready", ["prod-b"]),
            ("tier in (db,web) topology.kubernetes.io/zone!=eu-west-1c", ["prod-d", "prod-e"]),
            ("pressure", ["prod-d"]),
        ]:
            await type_filter(pilot, text)
            assert names(app) == expected, text
        await pilot.press("enter")
        assert app.focused is app.table
        assert app.filter_input.display  # the active filter stays in sight
        await pilot.press("escape")
        assert names(app) == ["prod-a", "prod-b", "prod-c", "prod-d", "prod-e", "prod-f"]
        assert not app.filter_input.display

    run_app(app, body)


def test_invalid_selector_keeps_the_last_good_filter_and_says_why() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await type_filter(pilot, "tier=web")
        await type_filter(pilot, "tier in (web")
        assert names(app) == ["prod-e", "prod-f"]
        box = app.nodes_box
        assert "filter not applied" in box.border_subtitle and "missing ')'" in box.border_subtitle
        assert app.filter_input.has_class("-invalid")
        await type_filter(pilot, "tier in (web)")
        assert box.border_subtitle == ""

    run_app(app, body)


def test_filter_applies_across_cluster_switches() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await type_filter(pilot, "!ready")
        await pilot.press("enter", "0")
        assert names(app) == ["prod-b"]
        await pilot.press("2")
        assert names(app) == []

    run_app(app, body)


# --------------------------------------------------------------------------- sort


def test_sort_keys_cycle_columns_and_reverse_stably() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        assert app.table.sort_column == "name"
        await pilot.press("s")
        assert app.table.sort_column == "status"
        # Most alarming first, ties broken by key (stable, whatever the update order).
        assert names(app) == ["prod-b", "prod-d", "prod-c", "prod-a", "prod-e", "prod-f"]
        await pilot.press("o")
        assert app.table.sort_reverse
        assert names(app) == ["prod-f", "prod-e", "prod-a", "prod-c", "prod-d", "prod-b"]
        assert "sorted by STATUS descending" in app.nodes_box.border_title
        await pilot.press("S")
        assert app.table.sort_column == "name" and not app.table.sort_reverse
        for _ in range(COLUMNS.index(next(c for c in COLUMNS if c.key == "cpu"))):
            await pilot.press("s")
        assert app.table.sort_column == "cpu"
        assert names(app)[:2] == ["prod-f", "prod-a"]  # 1.93 cores, then 3.92 (ties by name)
        assert names(app)[-1] == "prod-e"
        await pilot.press("2")  # the sort survives a cluster switch
        assert app.table.sort_column == "cpu"

    run_app(app, body)


# --------------------------------------------------------------------------- live updates


def test_updates_apply_in_place_with_cursor_and_scroll_unmoved() -> None:
    fleet = FakeFleet()
    views = [make_node(f"node-{index:03d}") for index in range(200)]
    fleet.add_cluster("big", views, leases=[make_lease(view.name) for view in views])
    app = make_app(fleet)

    async def body(pilot: Pilot) -> None:
        await pilot.press("pagedown", "pagedown", "down", "down")
        cursor = app.table.cursor_key
        scroll = app.table.scroll_offset.y
        assert scroll > 0
        name = cursor.rpartition("/")[2]
        target = next(view for view in views if view.name == name)
        fleet.put_node("big", with_ready(target, "False"))
        for view in views[::7]:
            fleet.put_lease("big", make_lease(view.name, renewed=NOW - timedelta(seconds=1)))
        fleet.remove_node("big", "node-000")
        app.drain_feed()
        await pilot.pause()
        assert app.table.cursor_key == cursor
        assert app.table.scroll_offset.y == scroll
        assert cells(app, name)["status"] == "NotReady"
        assert app.table.get_row(cursor).severity == "error"
        assert cells(app, "node-007")["heartbeat"] == "1s"
        assert "node-000" not in names(app)
        assert "Status  NotReady" in app.panel.lines[0]
        assert any(line.startswith("✖  Ready") and "False" in line for line in app.panel.lines)
        assert app.model.cluster("big").ready_count == 198

    run_app(app, body)


def test_the_feed_is_drained_on_a_timer() -> None:
    fleet = three_clusters()
    app = make_app(fleet)

    async def body(pilot: Pilot) -> None:
        target = next(view for view in fleet.cache("cloud-prod").nodes() if view.name == "prod-a")
        fleet.put_node("cloud-prod", with_ready(target, "False"))
        await wait_until(pilot, lambda: cells(app, "prod-a")["status"] == "NotReady", timeout=1.0)
        assert tab_text(app, "cloud-prod") == "1 cloud-prod ● 4/6"

    run_app(app, body)


def test_reset_rebuilds_a_context_and_status_changes_reach_tabs_banner_and_status_bar() -> None:
    fleet = three_clusters()
    app = make_app(fleet)

    async def body(pilot: Pilot) -> None:
        fleet.set_status("cloud-prod", make_status("cloud-prod", SyncState.RECONNECTING,
                                                   message="watch dropped", since=NOW - timedelta(seconds=5)))
        app.drain_feed()
        await pilot.pause()
        assert tab_text(app, "cloud-prod") == "1 cloud-prod ↻ 5/6"
        assert "cloud-prod: reconnecting since 10:29:55 (5s); showing the cached nodes — watch dropped" == banner_text(app)
        assert status_text(app).startswith("cloud-prod: reconnecting since 10:29:55")
        fleet.replace_all("cloud-prod", [make_node("fresh-1"), make_node("fresh-2")])
        app.drain_feed()
        await pilot.pause()
        assert names(app) == ["fresh-1", "fresh-2"]
        assert tab_text(app, "cloud-prod") == "1 cloud-prod ● 2/2"
        assert banner_text(app) == ""
        assert app.model.cluster("cloud-prod").reconnects == 1
        assert "1 reconnect" in status_text(app)

    run_app(app, body)


def test_stale_heartbeats_are_flagged_as_time_passes_without_events() -> None:
    clock = FrozenClock()
    app = make_app(three_clusters(), clock=clock)

    async def body(pilot: Pilot) -> None:
        assert cells(app, "prod-a")["heartbeat"] == "4s"
        clock.advance(60)
        app.tick()
        await pilot.pause()
        assert cells(app, "prod-a")["heartbeat"] == "64s stale"
        assert app.table.get_row("cloud-prod/prod-a").severity == "warning"
        await type_filter(pilot, "stale")
        assert "prod-a" in names(app)

    run_app(app, body)


# --------------------------------------------------------------------------- conditions panel


def test_panel_shows_absolute_and_relative_times_and_ticks() -> None:
    clock = FrozenClock()
    app = make_app(three_clusters(), clock=clock)

    async def body(pilot: Pilot) -> None:
        lines = app.panel.lines
        ready = next(line for line in lines if line.startswith("✓  Ready"))
        assert "2024-01-15 10:29:40 · 20 seconds ago" in ready
        assert "2024-01-15 05:30:00 · 5 hours ago" in ready
        assert "kubelet is posting ready" in ready  # the message wraps at the panel's width
        assert any("Lease renewed" in line and "2024-01-15 10:29:56 · 4 seconds ago" in line for line in lines)
        assert any(line.startswith("Lease holder") and "prod-a" in line for line in lines)
        clock.advance(120)
        app.tick()
        ready = next(line for line in app.panel.lines if line.startswith("✓  Ready"))
        assert "2024-01-15 10:29:40 · 2 minutes ago" in ready
        await pilot.press("down")
        assert app.panel.key == "cloud-prod/prod-b"
        assert "Status  NotReady" in app.panel.lines[0]

    run_app(app, body)


def test_missing_times_read_not_reported_in_table_and_panel_which_lists_the_rest() -> None:
    fleet = FakeFleet()
    fleet.add_cluster("c", [make_node("silent", heartbeat=None, transition=None, cordoned=True,
                                      taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])],
                      status=make_status("c", leases_available=False))
    app = make_app(fleet)

    async def body(pilot: Pilot) -> None:
        assert cells(app, "silent")["last_change"] == "not reported"
        assert cells(app, "silent")["heartbeat"] == "not reported"
        text = "\n".join(app.panel.lines)
        ready = next(line for line in app.panel.lines if line.startswith("✓  Ready"))
        assert ready.count("not reported") == 2
        assert " - " not in ready and "None" not in text
        assert re.search(r"^Lease +not available", text, re.MULTILINE)
        assert re.search(r"^Status heartbeat +not reported", text, re.MULTILINE)
        assert "Cordon" in text and re.search(r"^Reason +not recorded", text, re.MULTILINE)
        assert "dedicated=gpu:NoSchedule" in text
        assert "cpu" in text and "3.92" in text and "15.5Gi" in text
        assert "topology.kubernetes.io/zone=eu-west-1a" in text
        assert "InternalIP 10.0.0.1" in text
        assert "not loaded: press p" in text

    run_app(app, body)


def test_details_toggle_and_enter_focuses_the_panel() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("d")
        assert not app.panel.display
        await pilot.press("d")
        assert app.panel.display
        await pilot.press("enter")
        assert app.focused is app.panel
        await pilot.press("tab")
        assert app.focused is not app.panel

    run_app(app, body)


def test_every_real_node_renders_in_table_and_panel_with_every_time_it_has() -> None:
    fleet = FakeFleet()
    expected: dict[str, Any] = {}
    for index, path in enumerate(sorted(REAL_OBJECTS.glob("*.json"))):
        nodes = split_by_kind(load_objects(path)).get("Node", [])
        if not nodes:
            continue
        views = [project_node(obj) for obj in nodes]
        context = f"real-{index}"
        fleet.add_cluster(context, views)
        for view in views:
            expected[f"{context}/{view.name}"] = view
    assert len(expected) == 39
    clock = FrozenClock(NOW.replace(year=2027))
    app = make_app(fleet, clock=clock)

    async def body(pilot: Pilot) -> None:
        await pilot.press("0")
        assert app.table.row_count == 39
        assert app.table.move_cursor(next(iter(expected)))
        await pilot.pause()
        assert app.panel.key == next(iter(expected))
        for key, view in expected.items():
            data = app.model.row_data(key)
            lines = [line_text(line) for line in panel_lines(data, app.model.cluster(data.context), clock(), timezone.utc, 160)]
            text = "\n".join(lines)
            for condition in view.conditions:
                for moment in (condition.last_heartbeat, condition.last_transition):
                    if moment is not None:
                        assert format_timestamp(moment, clock(), timezone.utc) in text, (key, condition.type)
            shown = sum(line.count("not reported") for line in lines if line[:3] in ("✓  ", "✖  ", "?  "))
            missing = sum((c.last_heartbeat is None) + (c.last_transition is None) for c in view.conditions)
            assert shown >= missing
            if view.created is not None:
                assert absolute_time(view.created, timezone.utc) in text
            row = app.table.get_row(key)
            assert row.cells[1] == view.name
            if view.last_transition is not None:
                assert row.cells[3] != "not reported"

    run_app(app, body)


# --------------------------------------------------------------------------- dead clusters


def test_dead_cluster_shows_its_error_and_retry_age_without_blocking_others() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("3")
        assert names(app) == []
        assert banner_text(app) == "offline: unreachable — connection refused (retrying in 8 s) · failing since 10:28:00 (2m)"
        assert app.banner.has_class("-error")
        assert status_text(app).startswith("offline: error: unreachable since 10:28:00")
        await pilot.press("0")
        assert app.table.row_count == 9
        assert "offline: unreachable" in banner_text(app)
        await pilot.press("1")
        assert banner_text(app) == ""

    run_app(app, body)


def test_unauthorised_and_insecure_clusters_say_so() -> None:
    fleet = FakeFleet()
    fleet.add_cluster("denied", [], status=make_status("denied", SyncState.ERROR, error_kind="auth",
                                                     message="Unauthorized", synced=False))
    fleet.add_cluster("lab", [make_node("lab-1")], status=make_status("lab", insecure_tls=True,
                                                                      nodes=[make_node("lab-1")]))
    app = make_app(fleet, read_only=True)

    async def body(pilot: Pilot) -> None:
        assert tab_text(app, "denied") == "1 denied ✖ unauthorised"
        assert banner_text(app).startswith("denied: unauthorised — Unauthorized")
        await pilot.press("2")
        assert tab_text(app, "lab") == "2 lab ● 1/1 · TLS off"
        assert "TLS verify off" in status_text(app)
        assert status_text(app).endswith("read-only")
        assert app.nodes_box.border_title.endswith("read-only")

    run_app(app, body)


# --------------------------------------------------------------------------- pods on demand


class RecordingCounter:
    """A pod counter that records its calls and answers from fixed loads (or fails)."""

    def __init__(self, loads: dict[str, dict[str, int]], fail: set[str] = frozenset()) -> None:
        self.loads = loads
        self.fail = fail
        self.calls: list[tuple[str, str | None]] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, api_client: Any, *, context: str, node_name: str | None = None,
                 progress: Callable[[int], None] | None = None, cancel: threading.Event | None = None) -> Any:
        self.calls.append((context, node_name))
        if progress is not None:
            progress(500)
        self.release.wait(5)
        if context in self.fail:
            raise PodCountError("cannot count pods: forbidden")
        loads = self.loads[context]
        if node_name is not None:
            loads = {node_name: loads.get(node_name, 0)}
        return pod_counts(context, loads)


def test_pods_key_fills_the_pods_column_with_progress_and_as_of() -> None:
    fleet = three_clusters()
    fleet.api_clients["cloud-prod"] = object()
    counter = RecordingCounter({"cloud-prod": {"prod-a": 12, "prod-b": 3}})
    counter.release.clear()
    clock = FrozenClock()
    app = make_app(fleet, clock=clock, pod_counter=counter)

    async def body(pilot: Pilot) -> None:
        await pilot.press("p")
        await pilot.pause(0.1)
        assert "counting pods… 500" in status_text(app)
        assert cells(app, "prod-a")["pods"] == ""
        counter.release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert counter.calls == [("cloud-prod", None)]
        assert cells(app, "prod-a")["pods"] == "12/110"
        assert cells(app, "prod-b")["pods"] == "3/110"
        assert cells(app, "prod-c")["pods"] == "0/110"
        assert "pods as of 10:30:00 (0s ago)" in status_text(app)
        text = "\n".join(app.panel.lines)
        assert re.search(r"^Pods +12/110 11%$", text, re.MULTILINE)
        assert re.search(r"^CPU requests +3 of 3.92 cores 77%$", text, re.MULTILINE)
        assert re.search(r"^Memory requests +6Gi of 15.5Gi 39%$", text, re.MULTILINE)
        assert re.search(r"^As of +2024-01-15 10:30:00 · now$", text, re.MULTILINE)
        await pilot.press("2")  # staging has no pods counted
        assert cells(app, "stg-0")["pods"] == ""

    run_app(app, body)


def test_selected_node_pods_and_failures_are_visible() -> None:
    fleet = three_clusters()
    fleet.api_clients["cloud-prod"] = object()
    counter = RecordingCounter({"cloud-prod": {"prod-a": 7}})
    app = make_app(fleet, pod_counter=counter)

    async def body(pilot: Pilot) -> None:
        await pilot.press("P")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert counter.calls == [("cloud-prod", "prod-a")]
        assert cells(app, "prod-a")["pods"] == "7/110"
        assert cells(app, "prod-b")["pods"] == ""
        counter.fail = {"cloud-prod"}
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "pod count failed: cannot count pods: forbidden" in status_text(app)
        assert cells(app, "prod-a")["pods"] == "7/110"  # earlier counts stay
        await pilot.press("3")
        await pilot.press("p")  # no API client for a dead cluster
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "pod count failed: this cluster cannot be reached" in status_text(app)

    run_app(app, body)


def test_an_unexpected_worker_error_becomes_a_visible_state() -> None:
    fleet = three_clusters()
    fleet.api_clients["cloud-prod"] = object()

    def broken_counter(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    app = make_app(fleet, pod_counter=broken_counter)

    async def body(pilot: Pilot) -> None:
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "pod count failed: RuntimeError: boom" in status_text(app)
        assert app.is_running

    run_app(app, body)


# --------------------------------------------------------------------------- help, palette, quit


def test_help_screen_lists_the_bindings_and_closes() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.help_renderable)
        text = console.export_text()
        for binding in KnmApp.BINDINGS:
            assert (binding.tooltip or binding.description) in text
        assert "1…9" in text and "Jump to cluster 1–9" in text
        assert "Next node" in text  # the table's own bindings
        assert "!ready" in text and "cordoned" in text and "pressure" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark", "question_mark")
        assert not isinstance(app.screen, HelpScreen)

    run_app(app, body)


def test_command_palette_jumps_to_a_node_in_another_cluster() -> None:
    app = make_app(three_clusters())

    async def body(pilot: Pilot) -> None:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"stg", "minus", "2")
        await wait_until(pilot, lambda: "stg-2" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
                         if app.screen.query("CommandList") and app.screen.query_one("CommandList").option_count else False)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.table.cursor_key == "staging/stg-2")
        assert app.current_context == "staging"
        assert app.table.cursor_key == "staging/stg-2"

    run_app(app, body)


def test_q_quits_cleanly_and_stops_the_fleet() -> None:
    fleet = three_clusters()
    app = make_app(fleet)

    async def body(pilot: Pilot) -> None:
        await pilot.press("q")
        await pilot.pause()

    run_app(app, body)
    assert app.return_code == 0
    assert fleet.stopped


# --------------------------------------------------------------------------- the real path


@pytest.fixture
def real_fleet(start_simulator: Callable[..., Any], tmp_path: Path) -> Any:
    """A simulator with two clusters (kind with pods; edge with live churn) and a dead context, and a Fleet."""
    simulator = start_simulator(
        [ClusterSpec("kind", nodes_from=str(REAL_OBJECTS / "kind-nodelist-3node-notready-worker-sonobuoy-healthsummary.json")),
         ClusterSpec("edge", nodes_from=str(REAL_OBJECTS / "aks-nodelist-3nodes-sanitized-no-images-edge-cloud-platform.json"),
                     churn_events_per_second=200.0)],
        unreachable_contexts=("gone",),
    )
    pods = [new_pod(f"web-{index}", "kind-worker2") for index in range(5)] + [new_pod("db-0", "kind-control-plane")]
    simulator.cluster("kind").store.load("pods", pods)
    path = simulator.write_kubeconfig(tmp_path / "kubeconfig", current="kind")
    kubeconfig = load_kubeconfig(str(path))
    settings = SyncSettings(connect_timeout=1.0, read_timeout=3.0, backoff_initial=0.2, backoff_max=1.0)
    fleet = Fleet(kubeconfig, kubeconfig.context_names, settings=settings)
    yield simulator, fleet
    fleet.stop(timeout=2.0)


def test_real_fleet_live_clusters_dead_context_node_going_notready_and_pods(real_fleet: Any) -> None:
    simulator, fleet = real_fleet
    app = KnmApp(fleet, tz=timezone.utc, initial_context="kind", stop_timeout=2.0)

    async def body(pilot: Pilot) -> None:
        await wait_until(pilot, lambda: app.table.row_count == 3)
        await wait_until(pilot, lambda: app.model.cluster("gone").state == SyncState.ERROR)
        await wait_until(pilot, lambda: app.model.cluster("edge").state == SyncState.LIVE)
        await wait_until(pilot, lambda: app.model.last_event_at("edge") is not None)  # churn is flowing
        assert tab_text(app, "gone").startswith("3 gone ✖ unreachable")
        await pilot.press("end")
        cursor = app.table.cursor_key
        assert cursor == "kind/kind-worker2"

        def not_ready(obj: dict) -> None:
            for condition in obj["status"]["conditions"]:
                if condition["type"] == "Ready":
                    condition["status"] = "False"
                    condition["reason"] = "KubeletNotReady"

        simulator.cluster("kind").store.mutate("nodes", "", "kind-worker2", not_ready)
        started = time.monotonic()
        await wait_until(pilot, lambda: cells(app, "kind-worker2")["status"] == "NotReady", timeout=1.0)
        assert time.monotonic() - started < 1.0
        assert app.table.cursor_key == cursor
        assert "Status  NotReady" in app.panel.lines[0]

        await pilot.press("p")
        await wait_until(pilot, lambda: cells(app, "kind-worker2")["pods"] != "")
        assert cells(app, "kind-worker2")["pods"] == "5/110"
        assert cells(app, "kind-control-plane")["pods"] == "1/110"
        assert "pods as of" in status_text(app)
        await pilot.press("3")
        assert "gone: unreachable" in banner_text(app)
        await pilot.press("q")

    run_app(app, body)
    assert all(not thread.is_alive() for thread in fleet.threads())
