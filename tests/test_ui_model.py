"""Unit tests of the UI's pure parts: time and quantity formatting, rows, filters, the fleet model."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fake_fleet import NOW, FakeFleet, FrozenClock, make_lease, make_node, make_status, pod_counts, with_ready

from knm_tui.kube.cache import SyncState
from knm_tui.kube.leaseview import LeaseView
from knm_tui.ui.filters import SHORTCUTS, FilterError, parse_filter
from knm_tui.ui.fleet_model import FleetModel
from knm_tui.ui.format import (
    compact_age,
    format_bytes,
    format_cpu,
    format_row,
    format_timestamp,
    heartbeat_is_stale,
    make_row_data,
    short_time,
)
from knm_tui.ui.health import problem_line, tab_summary
from knm_tui.ui.node_table import TableRow


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(-5, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (185, "3m5s"), (599, "9m59s"),
     (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (5 * 3600 + 30 * 60, "5h30m"), (8 * 3600, "8h"),
     (47 * 3600, "47h"), (2 * 86400, "2d"), (3 * 86400 + 4 * 3600, "3d4h"), (40 * 86400, "40d"),
     (800 * 86400, "2y")],
)
def test_compact_age_reads_like_kubectl(seconds: int, expected: str) -> None:
    assert compact_age(timedelta(seconds=seconds)) == expected


def test_timestamps_are_absolute_local_and_relative_or_not_reported() -> None:
    moment = NOW - timedelta(minutes=3)
    assert format_timestamp(moment, NOW, timezone.utc) == "2024-01-15 10:27:00 · 3 minutes ago"
    tokyo = timezone(timedelta(hours=9))
    assert format_timestamp(moment, NOW, tokyo) == "2024-01-15 19:27:00 · 3 minutes ago"
    assert format_timestamp(NOW + timedelta(seconds=30), NOW, timezone.utc).endswith("30 seconds from now")
    assert format_timestamp(None, NOW, timezone.utc) == "not reported"
    assert short_time(moment, NOW, timezone.utc) == "10:27:00"
    assert short_time(moment - timedelta(days=2), NOW, timezone.utc) == "2024-01-13 10:27:00"


@pytest.mark.parametrize(
    ("millis", "expected"), [(None, ""), (4000, "4"), (3920, "3.92"), (250, "0.25"), (1500, "1.5"), (1, "0")]
)
def test_cpu_cells(millis: int | None, expected: str) -> None:
    assert format_cpu(millis) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), (512, "512B"), (2048, "2Ki"), (16 * 2**30, "16Gi"), (15896 * 2**20, "15.5Gi"),
     (3 * 2**40 // 2, "1.5Ti")],
)
def test_memory_cells(value: int | None, expected: str) -> None:
    assert format_bytes(value) == expected


def test_heartbeat_staleness_uses_the_lease_when_there_is_one() -> None:
    view = make_node("n", heartbeat=NOW - timedelta(minutes=4))
    fresh = make_lease("n", renewed=NOW - timedelta(seconds=39), duration=40)
    expired = make_lease("n", renewed=NOW - timedelta(seconds=41), duration=40)
    assert not heartbeat_is_stale(view, fresh, NOW)
    assert heartbeat_is_stale(view, expired, NOW)
    assert not heartbeat_is_stale(view, None, NOW)  # node status is written every 5 minutes
    assert heartbeat_is_stale(make_node("n", heartbeat=NOW - timedelta(minutes=6)), None, NOW)
    assert not heartbeat_is_stale(make_node("n", heartbeat=None), None, NOW)  # nothing to judge by
    no_renew = LeaseView(node_name="n", holder="n", renew_time=None, duration_seconds=40)
    assert not heartbeat_is_stale(view, no_renew, NOW)


def test_row_cells_sorting_and_severity() -> None:
    view = make_node("n", cordoned=True, pressure="MemoryPressure")
    row = format_row(make_row_data("ctx", view, make_lease("n"), None, NOW), NOW)
    assert row.key == "ctx/n"
    assert row.cells[:4] == ("n", "Ready,SchedulingDisabled,MemoryPressure", "5h", "4s")
    assert row.severity == "warning"
    not_ready = format_row(make_row_data("ctx", make_node("m", ready="Unknown"), None, None, NOW), NOW)
    assert not_ready.cells[1] == "NotReady" and not_ready.severity == "error"
    no_ready_condition = format_row(make_row_data("ctx", make_node("u", ready=None), None, None, NOW), NOW)
    assert no_ready_condition.cells[1] == "Unknown" and no_ready_condition.severity == "error"
    # Status sorts most alarming first; ages sort youngest first, by the moment itself.
    assert not_ready.sort_values[1] < row.sort_values[1]
    older = format_row(make_row_data("ctx", make_node("o", transition=NOW - timedelta(days=3)), None, None, NOW), NOW)
    assert row.sort_values[2] < older.sort_values[2]


# --------------------------------------------------------------------------- filters


def filter_rows() -> list[TableRow]:
    views = [
        make_node("web-1", labels={"tier": "web", "env": "prod"}),
        make_node("web-2", labels={"tier": "web", "env": "dev"}, ready="False"),
        make_node("db-1", labels={"tier": "db", "env": "prod"}, cordoned=True),
        make_node("cache-1", labels={"tier": "cache"}, pressure="DiskPressure", role="control-plane",
                  taints=[{"key": "dedicated", "value": "cache", "effect": "NoSchedule"}]),
    ]
    leases = {"web-1": make_lease("web-1", renewed=NOW - timedelta(minutes=5))}
    return [format_row(make_row_data("c", view, leases.get(view.name), None, NOW), NOW) for view in views]


def matching(text: str) -> list[str]:
    node_filter = parse_filter(text)
    rows = filter_rows()
    return [row.data.view.name for row in rows if node_filter is None or node_filter(row)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["web-1", "web-2", "db-1", "cache-1"]),
        ("   ", ["web-1", "web-2", "db-1", "cache-1"]),
        ("WEB", ["web-1", "web-2"]),
        ("b-1", ["web-1", "db-1"]),
        ("ready", ["web-1", "db-1", "cache-1"]),
        ("!ready", ["web-2"]),
        ("notready", ["web-2"]),
        ("cordoned", ["db-1"]),
        ("!cordoned", ["web-1", "web-2", "cache-1"]),
        ("pressure", ["cache-1"]),
        ("stale", ["web-1"]),
        ("unhealthy", ["web-1", "web-2", "cache-1"]),
        ("tainted", ["cache-1"]),
        ("control-plane", ["cache-1"]),
        ("tier=web", ["web-1", "web-2"]),
        ("tier==web", ["web-1", "web-2"]),
        ("tier = web", ["web-1", "web-2"]),
        ("tier!=web", ["db-1", "cache-1"]),
        ("tier=web,env=prod", ["web-1"]),
        ("tier in (web, db)", ["web-1", "web-2", "db-1"]),
        ("tier in(web,db)", ["web-1", "web-2", "db-1"]),
        ("env notin (prod)", ["web-2", "cache-1"]),
        ("env,!tier", []),
        ("!env", ["cache-1"]),
        ("env,tier!=db", ["web-1", "web-2"]),
        ("node-role.kubernetes.io/control-plane", ["cache-1"]),
        ("!node-role.kubernetes.io/control-plane", ["web-1", "web-2", "db-1"]),
        ("web ready env=prod", ["web-1"]),
        ("ready !cordoned tier in (db, cache)", ["cache-1"]),
    ],
)
def test_filter_terms(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [("tier in (web", "missing ')'"), ("tier=web)", "unbalanced ')'"), ("tier=web,,env=prod", "empty requirement"),
     ("tier in ()", "at least one value"), ("=web", "invalid label key"), ("tier=we(b)", "invalid label value")],
)
def test_malformed_selectors_say_why(text: str, reason: str) -> None:
    with pytest.raises(FilterError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(text)


def test_every_shortcut_can_be_negated() -> None:
    for word in SHORTCUTS:
        positive, negative = set(matching(word)), set(matching(f"!{word}"))
        assert positive.isdisjoint(negative) and positive | negative == {"web-1", "web-2", "db-1", "cache-1"}, word


# --------------------------------------------------------------------------- the fleet model


def model_with(fleet: FakeFleet, clock: FrozenClock | None = None) -> FleetModel:
    model = FleetModel(fleet.contexts, clock or FrozenClock())
    for context in fleet.contexts:
        model.set_status(fleet.status(context))
        model.load_context(context, fleet.cache(context))
    return model


def test_apply_reports_only_rows_whose_text_order_colour_or_labels_changed() -> None:
    fleet = FakeFleet()
    views = [make_node(f"n{index}") for index in range(4)]
    fleet.add_cluster("a", views, leases=[make_lease(view.name) for view in views])
    fleet.add_cluster("b", [make_node("other")])
    model = model_with(fleet)
    assert model.totals() == (5, 5)

    fleet.put_node("a", with_ready(views[0], "False"))
    fleet.put_lease("a", make_lease("n1"))  # same renew time: nothing visible changes
    fleet.put_lease("a", make_lease("n2", renewed=NOW - timedelta(seconds=1)))
    fleet.put_node("a", make_node("n3", labels={"team": "x"}))  # only a label: filters need it
    fleet.remove_node("a", "n0")  # upserted then removed: only the removal counts
    fleet.put_lease("a", make_lease("ghost"))  # a lease without a node is ignored
    changes = model.apply(fleet.feed.drain(), fleet)

    assert {row.key for row in changes.upserted["a"]} == {"a/n2", "a/n3"}
    assert changes.removed == {"a": ["a/n0"]}
    assert "a/n1" in changes.touched_keys and "ghost" not in model.cluster("a").leases
    assert model.cluster("a").ready_count == 3 and model.cluster("a").node_count == 3
    assert model.cluster("a").rows["n2"].cells[3] == "1s"
    assert model.event_rate("a", NOW) == pytest.approx(5 / 10)
    assert model.last_event_at("a") == NOW and model.last_event_at("b") is None
    assert model.rows(None)[0].cells[0] in ("a", "b")


def test_reset_rebuilds_from_the_cache_and_statuses_count_reconnects() -> None:
    fleet = FakeFleet()
    fleet.add_cluster("a", [make_node("old")])
    model = model_with(fleet)
    fleet.set_status("a", make_status("a", SyncState.RECONNECTING))
    model.apply(fleet.feed.drain(), fleet)
    assert model.cluster("a").reconnects == 1
    fleet.set_status("a", make_status("a", SyncState.STALE))
    model.apply(fleet.feed.drain(), fleet)
    assert model.cluster("a").reconnects == 1  # still the same outage
    fleet.put_node("a", make_node("ignored"))
    fleet.replace_all("a", [make_node("new-1"), make_node("new-2", ready="False")])
    changes = model.apply(fleet.feed.drain(), fleet)
    assert changes.reset == {"a"} and "a" in changes.status_changed
    assert not changes.upserted  # a reset replaces the context's rows wholesale
    assert sorted(model.cluster("a").rows) == ["new-1", "new-2"]
    assert model.cluster("a").ready_count == 1
    assert model.cluster("a").state == SyncState.LIVE
    fleet.set_status("a", make_status("a", SyncState.RECONNECTING, since=NOW))
    model.apply(fleet.feed.drain(), fleet)
    assert model.cluster("a").reconnects == 2


def test_stale_scan_and_visible_refresh_reformat_only_what_changed() -> None:
    clock = FrozenClock()
    fleet = FakeFleet()
    fleet.add_cluster("a", [make_node("n1"), make_node("n2")],
                      leases=[make_lease("n1", renewed=NOW - timedelta(seconds=35)), make_lease("n2")])
    model = model_with(fleet, clock)
    clock.advance(10)
    stale = model.stale_rows(["a"])
    assert [row.key for row in stale] == ["a/n1"]
    assert stale[0].cells[3] == "45s stale" and stale[0].severity == "warning"
    assert model.stale_rows(["a"]) == []
    refreshed = model.refresh_rows(["a/n2", "a/missing", "nowhere/n1"])
    assert [row.cells[3] for row in refreshed] == ["14s"]


def test_pod_counts_fill_rows_and_node_counts_take_the_newest() -> None:
    fleet = FakeFleet()
    fleet.add_cluster("a", [make_node("n1"), make_node("n2")])
    model = model_with(fleet)
    model.begin_pod_count("a")
    assert model.cluster("a").pods.loading
    rows = model.set_pod_counts(pod_counts("a", {"n1": 4}, as_of=NOW - timedelta(minutes=1)))
    assert {row.key: row.cells[4] for row in rows} == {"a/n1": "4/110", "a/n2": "0/110"}
    assert not model.cluster("a").pods.loading
    [row] = model.set_node_pods("n2", pod_counts("a", {"n2": 9}, as_of=NOW))
    assert row.cells[4] == "9/110"
    assert model.cluster("a").load_as_of("n2") == NOW
    assert model.cluster("a").load_as_of("n1") == NOW - timedelta(minutes=1)
    model.pod_count_failed("a", "forbidden")
    assert model.cluster("a").pods.error == "forbidden" and model.cluster("a").pods.counts is not None


# --------------------------------------------------------------------------- health words


def test_tab_summary_and_problem_lines_for_each_state() -> None:
    fleet = FakeFleet()
    views = [make_node("n1"), make_node("n2", ready="False")]
    fleet.add_cluster("a", views)
    model = model_with(fleet)
    cluster = model.cluster("a")
    since = NOW - timedelta(seconds=90)
    cases = [
        (make_status("a", SyncState.LIVE, nodes=views), "● 1/2", None),
        (make_status("a", SyncState.CONNECTING, synced=False), "… connecting",
         "a: connecting to https://a.example.com:6443…"),
        (make_status("a", SyncState.PRIMING, synced=False, message="listing page 3"), "◌ priming",
         "a: loading nodes… — listing page 3"),
        (make_status("a", SyncState.RECONNECTING, since=since), "↻ 1/2",
         "a: reconnecting since 10:28:30 (90s); showing the cached nodes"),
        (make_status("a", SyncState.STALE, since=since, message="timed out"), "⚠ stale 1/2",
         "a: stale since 10:28:30 (90s); the nodes shown may be out of date — timed out"),
        (make_status("a", SyncState.ERROR, error_kind="forbidden", synced=False, since=since,
                     message='nodes is forbidden: User "x" cannot list'), "✖ forbidden",
         'a: forbidden — nodes is forbidden: User "x" cannot list · failing since 10:28:30 (90s)'),
    ]
    for status, summary, line in cases:
        cluster.status = status
        assert tab_summary(cluster) == summary, status.state
        assert problem_line(cluster, NOW, timezone.utc) == line, status.state


def test_event_rate_forgets_old_changes() -> None:
    clock = FrozenClock()
    fleet = FakeFleet()
    fleet.add_cluster("a", [make_node("n1")])
    model = model_with(fleet, clock)
    fleet.put_lease("a", make_lease("n1", renewed=NOW))
    model.apply(fleet.feed.drain(), fleet)
    assert model.event_rate(None, clock()) == pytest.approx(0.1)
    clock.advance(11)
    assert model.event_rate(None, clock()) == 0.0


def test_aware_datetimes_only() -> None:
    """Every time the UI formats is timezone-aware, so local/UTC conversions are exact."""
    view = make_node("n")
    assert all(isinstance(c.last_heartbeat, datetime) and c.last_heartbeat.tzinfo for c in view.conditions)


def test_rows_of_a_loaded_cluster_format_on_need_exactly_as_formatted_rows() -> None:
    fleet = FakeFleet()
    views = [make_node(f"n{index}", ready="False" if index == 2 else "True") for index in range(5)]
    fleet.add_cluster("a", views, leases=[make_lease(view.name) for view in views[:3]])
    fleet.add_cluster("b", [make_node("other", cordoned=True)])
    clock = FrozenClock()
    model = model_with(fleet, clock)
    single = model.rows("a")
    merged = model.rows(None)
    assert not any(row.formatted for row in single + merged)
    assert [row.sort_value(0) for row in single] == [view.name for view in views]  # known: no formatting
    assert [row.sort_value(1) for row in merged] == [*(view.name for view in views), "other"]
    assert not any(row.formatted for row in single + merged)

    now = clock()
    expected = {}
    for context in ("a", "b"):
        cluster = model.cluster(context)
        for name, view in cluster.views.items():
            expected[f"{context}/{name}"] = format_row(
                make_row_data(context, view, cluster.leases.get(name), cluster.load_of(name), now), now)
    for row in merged:  # the merged row formats its single-cluster row on the way
        eager = expected[row.key]
        assert row.cells == (row.data.context, *eager.cells)
        assert row.sort_values[1:] == eager.sort_values and row.severity == eager.severity
    assert all(row.formatted for row in single)
    assert {row.key: row for row in single} == {key: row for key, row in expected.items() if key.startswith("a/")}
