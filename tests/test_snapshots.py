"""Snapshot tests of the dashboard (pytest-textual-snapshot), on fixed data with a frozen clock.

Six clusters cover every kind and state: a cloud cluster and an edge cluster (live, with
unhealthy nodes), staging (reconnecting), one still priming, one unreachable and one
unauthorised. Times are UTC and the clock never moves, so every frame is the same on every run.
Update with ``pytest tests/test_snapshots.py --snapshot-update`` and review every changed SVG.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from fake_fleet import NOW, FakeFleet, FrozenClock, make_lease, make_node, make_status, pod_counts
from textual.pilot import Pilot

from knm_tui.app import KnmApp
from knm_tui.kube.cache import SyncState

SIZE = (150, 42)
UNREACHABLE_TAINTS = [
    {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": "2024-01-15T10:12:00Z"},
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-01-15T10:12:05Z"},
]


def cloud_nodes() -> list:
    """An EKS-like node group: mostly healthy, one NotReady, one cordoned, one under pressure."""
    nodes = []
    for index in range(14):
        zone = f"eu-west-1{'abc'[index % 3]}"
        name = f"ip-10-0-{index}-{10 + index * 7}.eu-west-1.compute.internal"
        options: dict[str, Any] = dict(ip=f"10.0.{index}.{10 + index * 7}", zone=zone,
                                       created=NOW - timedelta(days=30 + index),
                                       labels={"eks.amazonaws.com/nodegroup": "general"})
        if index == 3:
            options.update(ready="False", transition=NOW - timedelta(minutes=7))
        if index == 5:
            options.update(cordoned=True, taints=[{"key": "node.kubernetes.io/unschedulable",
                                                   "effect": "NoSchedule", "timeAdded": "2024-01-15T09:00:00Z"}])
        if index == 8:
            options.update(pressure="MemoryPressure", transition=NOW - timedelta(minutes=2))
        if index == 11:
            options.update(instance_type="g5.2xlarge", cpu="7910m", memory="30310Mi", pods="58")
        nodes.append(make_node(name, **options))
    return nodes


def edge_nodes() -> list:
    """k3s nodes on poor links: one NodeStatusUnknown with stale heartbeats, one with no times at all."""
    nodes = []
    for index in range(6):
        name = f"store-{index + 1:02d}"
        options: dict[str, Any] = dict(ip=f"192.168.{index}.20", zone="depot-12", instance_type="k3s",
                                       version="v1.30.4+k3s1", role="control-plane" if index == 0 else None,
                                       cpu="4", memory="7820Mi")
        if index == 2:
            options.update(ready="Unknown", heartbeat=NOW - timedelta(minutes=18),
                           transition=NOW - timedelta(minutes=17), taints=UNREACHABLE_TAINTS)
        if index == 4:
            options.update(heartbeat=None, transition=None)
        nodes.append(make_node(name, **options))
    return nodes


def snapshot_fleet() -> FakeFleet:
    """Six clusters covering every kind and sync state."""
    fleet = FakeFleet()
    cloud = cloud_nodes()
    leases = [make_lease(view.name, renewed=NOW - timedelta(seconds=3 + index % 9)) for index, view in enumerate(cloud)]
    leases[3] = make_lease(cloud[3].name, renewed=NOW - timedelta(minutes=7, seconds=12))
    fleet.add_cluster("cloud-prod", cloud, leases=leases)
    fleet.api_clients["cloud-prod"] = object()
    staging = [make_node(f"staging-{index}", zone="eu-west-1a", instance_type="t3.large", role=None) for index in range(4)]
    fleet.add_cluster("staging", staging, status=make_status(
        "staging", SyncState.RECONNECTING, nodes=staging, message="watch stream closed: connection reset by peer",
        since=NOW - timedelta(seconds=12)))
    edge = edge_nodes()
    fleet.add_cluster("edge-stores", edge, leases=[make_lease(view.name) for view in edge if view.name not in ("store-03", "store-05")])
    fleet.add_cluster("big-batch", [], status=make_status(
        "big-batch", SyncState.PRIMING, synced=False, message="listing nodes", since=NOW - timedelta(seconds=2)))
    fleet.add_cluster("dc-legacy", [], status=make_status(
        "dc-legacy", SyncState.ERROR, error_kind="unreachable", synced=False,
        message="connection refused (retrying in 16 s)", since=NOW - timedelta(minutes=4),
        next_retry_at=NOW + timedelta(seconds=16)))
    fleet.add_cluster("partner", [], status=make_status(
        "partner", SyncState.ERROR, error_kind="auth", synced=False,
        message="Unauthorized: the token was rejected (retrying every 60 s)", since=NOW - timedelta(minutes=9)))
    return fleet


def counter(api_client: Any, *, context: str, node_name: str | None = None, progress: Any = None,
            cancel: Any = None) -> Any:
    """A pod counter with fixed results for cloud-prod."""
    loads = {view.name: 8 + index * 3 % 17 for index, view in enumerate(cloud_nodes())}
    return pod_counts(context, loads, as_of=NOW)


def make_app(**options: Any) -> KnmApp:
    return KnmApp(snapshot_fleet(), clock=FrozenClock(), tz=timezone.utc, pod_counter=counter, **options)


def test_first_frame_shows_conditions_with_their_times(snap_compare: Any) -> None:
    """The founding bug: the first frame must show every condition time, never a dash."""
    assert snap_compare(make_app(), terminal_size=SIZE)


def test_cloud_cluster_cursor_on_a_notready_node(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["down", "down", "down"], terminal_size=SIZE)


def test_edge_cluster_with_unknown_node_and_missing_times(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["3", "down", "down"], terminal_size=SIZE)


def test_reconnecting_cluster(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["2"], terminal_size=SIZE)


def test_priming_cluster(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["4"], terminal_size=SIZE)


def test_dead_cluster(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["5"], terminal_size=SIZE)


def test_unauthorised_cluster(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["6"], terminal_size=SIZE)


def test_all_clusters_view(snap_compare: Any) -> None:
    assert snap_compare(make_app(read_only=True), press=["0"], terminal_size=SIZE)


def test_filtered_and_sorted_table(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["0", "slash", *"unhealthy", "enter", "s"], terminal_size=SIZE)


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=SIZE)


def test_pod_counts_loaded(snap_compare: Any) -> None:
    async def load_pods(pilot: Pilot) -> None:
        await pilot.press("p")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=load_pods)
