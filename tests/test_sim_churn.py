"""A churning simulated cluster behaves like a living one, in simulated time.

The clock runs 100–200 times faster than real time, so a kubelet's 10 s lease renewals, its
5-minute status reports and the node controller's 50 s grace period all happen within a second or
two of the test.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from knm_tui.sim.churn import Churner
from knm_tui.sim.clock import SimClock
from knm_tui.sim.cluster import SimCluster
from knm_tui.sim.simulator import ClusterSpec, populate
from knm_tui.sim.store import WatchEvent
from knm_tui.sim.world import KUBELET_CONDITION_TYPES, WorldSpec, parse_time

QUIET = {"unreachable_share": 0.0, "flapping_share": 0.0, "pressure_per_node_hour": 0.0,
         "turnover_per_node_hour": 0.0}
"""Churner knobs that leave only heartbeats and pod churn."""


class Recorder:
    """Counts the store's watch events by resource and key, and remembers the nodes pods were added to."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_resource: Counter[str] = Counter()
        self.by_key: Counter[tuple[str, str, str]] = Counter()
        self.pod_nodes_added: set[str] = set()

    def __call__(self, event: WatchEvent) -> None:
        with self.lock:
            self.by_resource[event.resource] += 1
            self.by_key[(event.resource, event.type, event.key)] += 1
            if event.resource == "pods" and event.type == "ADDED":
                self.pod_nodes_added.add(event.current.obj.get("spec", {}).get("nodeName", ""))

    def deleted(self, resource: str) -> set[str]:
        """Keys of the objects of ``resource`` deleted so far."""
        with self.lock:
            return {key for (kind, event_type, key) in self.by_key if kind == resource and event_type == "DELETED"}


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., tuple[SimCluster, Recorder]]]:
    clusters: list[SimCluster] = []
    churners: list[Churner] = []

    def make(speed: float, nodes: int = 10, pods_per_node: int = 6, profile: str = "staging",
             **world_fields) -> tuple[SimCluster, Recorder]:
        cluster = SimCluster("churn", clock=SimClock(speed=speed))
        clusters.append(cluster)
        world = WorldSpec(name="churn", nodes=nodes, pods_per_node=pods_per_node, profile=profile, seed=5, **world_fields)
        populate(cluster, ClusterSpec(name="churn", world=world))
        recorder = Recorder()
        cluster.store.add_listener(recorder)
        return cluster, recorder

    make.churners = churners  # type: ignore[attr-defined]
    yield make
    for churner in churners:
        churner.stop()
    for cluster in clusters:
        cluster.close()
    assert [churner.errors for churner in churners] == [0] * len(churners), "a churn tick raised"


def start(make_cluster, cluster: SimCluster, rate: float, **knobs) -> Churner:
    churner = Churner(cluster, rate, seed=3, **knobs)
    make_cluster.churners.append(churner)
    return churner.start()


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def node(cluster: SimCluster, name: str) -> dict:
    return cluster.store.require("nodes", "", name).obj


def conditions(cluster: SimCluster, name: str) -> dict[str, dict]:
    return {c["type"]: c for c in node(cluster, name)["status"]["conditions"]}


def renew_time(cluster: SimCluster, name: str) -> str:
    return cluster.store.require("leases", "kube-node-lease", name).obj["spec"]["renewTime"]


def worker_names(cluster: SimCluster) -> list[str]:
    return [s.obj["metadata"]["name"] for s in cluster.store.items("nodes")
            if "node-role.kubernetes.io/control-plane" not in s.obj["metadata"]["labels"]]


def test_leases_are_renewed_about_every_ten_simulated_seconds(make_cluster) -> None:
    # 50x: the 25 simulated seconds allowed below are half a real second, so a churner thread
    # held up briefly on a busy machine does not fail the test.
    cluster, recorder = make_cluster(speed=50)
    names = [s.obj["metadata"]["name"] for s in cluster.store.items("nodes")]
    before = {name: renew_time(cluster, name) for name in names}
    started = cluster.clock.now().timestamp()
    start(make_cluster, cluster, 400, **QUIET)
    wait_for(lambda: all(renew_time(cluster, n) != before[n] for n in names), timeout=3)
    time.sleep(1.0)
    elapsed = cluster.clock.now().timestamp() - started
    for name in names:
        renewed = renew_time(cluster, name)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", renewed)
        assert cluster.clock.now().timestamp() - parse_time(renewed) < 25  # never near the 40 s lease duration
    renewals = sum(count for (resource, kind, _), count in recorder.by_key.items()
                   if resource == "leases" and kind == "MODIFIED")
    expected = len(names) * elapsed / 10
    assert 0.6 * expected <= renewals <= 1.3 * expected


def test_node_status_moves_heartbeats_every_five_minutes_and_keeps_transition_times(make_cluster) -> None:
    cluster, recorder = make_cluster(speed=200)
    name = worker_names(cluster)[0]
    before = conditions(cluster, name)
    started = cluster.clock.now().timestamp()
    start(make_cluster, cluster, 400, **QUIET)
    wait_for(lambda: conditions(cluster, name)["Ready"]["lastHeartbeatTime"] != before["Ready"]["lastHeartbeatTime"],
             timeout=3)
    time.sleep(1.0)
    elapsed = cluster.clock.now().timestamp() - started
    after = conditions(cluster, name)
    for condition_type in KUBELET_CONDITION_TYPES:
        assert after[condition_type]["status"] == before[condition_type]["status"]
        assert after[condition_type]["lastTransitionTime"] == before[condition_type]["lastTransitionTime"]
        assert parse_time(after[condition_type]["lastHeartbeatTime"]) > parse_time(before[condition_type]["lastHeartbeatTime"])
    assert after["NetworkUnavailable"] == before["NetworkUnavailable"]
    writes = recorder.by_key[("nodes", "MODIFIED", name)]
    assert 1 <= writes <= elapsed / 300 + 2


def test_a_silent_node_goes_unknown_after_the_grace_period_and_comes_back(make_cluster) -> None:
    cluster, _ = make_cluster(speed=100)
    name = worker_names(cluster)[1]
    churner = start(make_cluster, cluster, 300, **QUIET)
    before = conditions(cluster, name)
    churner.stop_heartbeats(name)
    wait_for(lambda: conditions(cluster, name)["Ready"]["status"] == "Unknown", timeout=4)
    last_renew = parse_time(renew_time(cluster, name))
    unknown = conditions(cluster, name)
    for condition_type in KUBELET_CONDITION_TYPES:
        condition = unknown[condition_type]
        assert (condition["status"], condition["reason"], condition["message"]) == (
            "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert condition["lastTransitionTime"] != before[condition_type]["lastTransitionTime"]
        assert parse_time(condition["lastTransitionTime"]) >= last_renew + 49
        assert parse_time(condition["lastHeartbeatTime"]) <= last_renew + 1
    taints = {(t["key"], t["effect"]): t for t in node(cluster, name)["spec"]["taints"]}
    assert parse_time(taints[("node.kubernetes.io/unreachable", "NoSchedule")]["timeAdded"]) >= last_renew + 49
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
    time.sleep(0.3)
    assert parse_time(renew_time(cluster, name)) == last_renew

    def running_pods() -> list[dict]:
        return [s.obj for s in cluster.store.items("pods")
                if s.obj["spec"].get("nodeName") == name and s.obj["status"]["phase"] == "Running"]

    assert running_pods()
    wait_for(lambda: all(next(c for c in p["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"
                         for p in running_pods()), timeout=4)

    churner.resume_heartbeats(name)
    wait_for(lambda: conditions(cluster, name)["Ready"]["status"] == "True", timeout=3)
    wait_for(lambda: not any(t["key"] == "node.kubernetes.io/unreachable"
                             for t in node(cluster, name)["spec"].get("taints", [])), timeout=2)
    back = conditions(cluster, name)
    assert back["Ready"]["reason"] == "KubeletReady"
    assert parse_time(back["Ready"]["lastTransitionTime"]) > parse_time(unknown["Ready"]["lastTransitionTime"])
    assert back["MemoryPressure"]["status"] == "False"
    assert parse_time(renew_time(cluster, name)) > last_renew
    reasons = [s.obj["reason"] for s in cluster.store.items("events") if s.obj["involvedObject"]["name"] == name]
    assert "NodeNotReady" in reasons and "NodeReady" in reasons


def test_unreachable_share_keeps_some_nodes_down(make_cluster) -> None:
    cluster, _ = make_cluster(speed=200, nodes=10)
    start(make_cluster, cluster, 300, **{**QUIET, "unreachable_share": 0.2})

    def unknown_nodes() -> list[str]:
        return [s.obj["metadata"]["name"] for s in cluster.store.items("nodes")
                if any(c["type"] == "Ready" and c["status"] == "Unknown" for c in s.obj["status"]["conditions"])]

    down = wait_for(unknown_nodes, timeout=3)
    assert 1 <= len(down) <= 2


def test_flapping_nodes_switch_between_ready_and_not_ready(make_cluster) -> None:
    cluster, _ = make_cluster(speed=200, nodes=6)
    churner = start(make_cluster, cluster, 300, **QUIET)
    churner.flapping_share = 1.0  # the knobs are read while running, so a demo can turn them on later
    names = worker_names(cluster)

    def not_ready() -> list[str]:
        return [n for n in names if conditions(cluster, n)["Ready"]["status"] == "False"]

    flapped = wait_for(not_ready, timeout=3)[0]
    ready = conditions(cluster, flapped)["Ready"]
    assert ready["reason"] == "KubeletNotReady" and "PLEG" in ready["message"]
    assert any(t["key"] == "node.kubernetes.io/not-ready" for t in node(cluster, flapped)["spec"]["taints"])
    wait_for(lambda: conditions(cluster, flapped)["Ready"]["status"] == "True", timeout=3)
    assert parse_time(conditions(cluster, flapped)["Ready"]["lastTransitionTime"]) > parse_time(ready["lastTransitionTime"])
    churner.flapping_share = 0.0
    # A flap the churner scheduled before its next tick saw the new share may still fire once
    # (and comes back 20-90 simulated seconds later); after that every node stays Ready.
    wait_for(lambda: not not_ready(), timeout=3)
    time.sleep(1.0)
    wait_for(lambda: not not_ready(), timeout=3)
    time.sleep(0.5)
    assert not not_ready()


def test_pressure_comes_and_goes(make_cluster) -> None:
    cluster, _ = make_cluster(speed=200, nodes=6)
    start(make_cluster, cluster, 300, **{**QUIET, "pressure_per_node_hour": 60.0})
    pressures = ("MemoryPressure", "DiskPressure", "PIDPressure")

    def pressured() -> tuple[str, str] | None:
        for name in worker_names(cluster):
            for condition_type in pressures:
                if conditions(cluster, name)[condition_type]["status"] == "True":
                    return name, condition_type
        return None

    name, condition_type = wait_for(pressured, timeout=3)
    raised = conditions(cluster, name)[condition_type]
    assert raised["reason"] in ("KubeletHasInsufficientMemory", "KubeletHasDiskPressure", "KubeletHasInsufficientPID")
    wait_for(lambda: conditions(cluster, name)[condition_type]["status"] == "False", timeout=4)
    cleared = conditions(cluster, name)[condition_type]
    assert parse_time(cleared["lastTransitionTime"]) > parse_time(raised["lastTransitionTime"])


def test_nodes_join_and_leave_with_their_leases(make_cluster) -> None:
    cluster, recorder = make_cluster(speed=200, nodes=8, profile="eks")
    original = {s.obj["metadata"]["name"] for s in cluster.store.items("nodes")}
    start(make_cluster, cluster, 400, **{**QUIET, "turnover_per_node_hour": 8.0})

    def joined_with_lease() -> tuple[dict, dict] | None:
        for stored in cluster.store.items("nodes"):
            name = stored.obj["metadata"]["name"]
            lease = cluster.store.get("leases", "kube-node-lease", name)
            if name not in original and lease is not None:
                return stored.obj, lease.obj
        return None

    new_node, lease = wait_for(joined_with_lease, timeout=4)
    new_name = new_node["metadata"]["name"]
    assert re.fullmatch(r"ip-10-\d+-\d+-\d+\..+\.internal", new_name)
    assert new_node["metadata"]["labels"]["kubernetes.io/hostname"] == new_name
    assert new_node["metadata"]["uid"] not in {cluster.store.require("nodes", "", n).obj["metadata"]["uid"]
                                               for n in original if cluster.store.get("nodes", "", n)}
    assert lease["metadata"]["ownerReferences"][0]["uid"] == new_node["metadata"]["uid"]
    ready = next(c for c in new_node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert not new_node["spec"].get("unschedulable")
    wait_for(lambda: new_name in recorder.pod_nodes_added, timeout=2)
    gone = wait_for(lambda: recorder.deleted("nodes") & original, timeout=6)
    wait_for(lambda: {f"kube-node-lease/{name}" for name in gone} <= recorder.deleted("leases"), timeout=2)


def test_write_rate_follows_events_per_second_and_pods_come_and_go(make_cluster) -> None:
    cluster, recorder = make_cluster(speed=50, nodes=20, pods_per_node=8, profile="gke")
    rate = 300
    rv_before = cluster.store.resource_version
    began = time.monotonic()
    churner = start(make_cluster, cluster, rate)
    time.sleep(1.5)
    churner.stop()
    elapsed = time.monotonic() - began
    writes = cluster.store.resource_version - rv_before
    assert 0.6 * rate * elapsed <= writes <= 1.3 * rate * elapsed
    assert 0.6 * rate * elapsed <= churner.events <= 1.3 * rate * elapsed
    assert churner.counts["pod-created"] > 0 and churner.counts["pod-deleted"] > 0
    assert recorder.by_resource["leases"] > 0 and recorder.by_resource["pods"] > 0


def test_a_big_cluster_shares_the_budget_instead_of_exceeding_it(make_cluster) -> None:
    cluster, recorder = make_cluster(speed=100, nodes=200, pods_per_node=2, profile="aks")
    rate = 200
    began = time.monotonic()
    churner = start(make_cluster, cluster, rate, **QUIET)
    time.sleep(1.0)
    churner.stop()
    elapsed = time.monotonic() - began
    assert churner.events <= 1.3 * rate * elapsed
    assert churner.counts["lease"] >= 0.5 * rate * elapsed
    assert churner.counts["pod-created"] + churner.counts["pod-deleted"] > 0


def test_stop_joins_promptly_and_writes_nothing_more(make_cluster) -> None:
    cluster, _ = make_cluster(speed=100)
    churner = start(make_cluster, cluster, 500)
    time.sleep(0.3)
    began = time.monotonic()
    churner.stop()
    assert time.monotonic() - began < 1.0
    assert not churner.running
    written = churner.events
    time.sleep(0.3)
    assert churner.events == written
