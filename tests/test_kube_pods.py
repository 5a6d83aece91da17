"""On-demand pod counts against the simulator over real HTTP, and upstream's request rules."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from kubernetes import client as k8s_client

from conftest import KIND_THREE_NODES, REAL_OBJECTS, api_client_for, new_pod
from knm_tui.kube.pods import NodeLoad, PodCountError, count_pods, pod_limits, pod_requests
from knm_tui.sim import ClusterSpec, Simulator
from knm_tui.sim.fixtures import load_pods

NODES = ("kind-control-plane", "kind-worker", "kind-worker2")
REAL_POD_LISTS = (
    "eks-podlist-kube-system-cluster-info-dump.json",
    "k3s-podlist-kube-system-troubleshoot-bundle.json",
    "kind-pods-kube-system-mirror-daemonset-sonobuoy-results.json",
    "kind-pods-sonobuoy-ns-succeeded-emptydir-sonobuoy-results.json",
    "openshift-baremetal-podlist-kube-scheduler-mirror-succeeded-mustgather.json",
    "openshift-baremetal-podlist-monitoring-daemonset-emptydir-mustgather.json",
)
FIXED_NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------- helpers
def pod_with(name: str, node: str | None, *, phase: str = "Running", containers: list[dict] | None = None,
             init: list[dict] | None = None, overhead: dict | None = None, namespace: str = "default") -> dict:
    pod = new_pod(name, node, phase=phase, namespace=namespace)
    if containers is not None:
        pod["spec"]["containers"] = containers
    if init is not None:
        pod["spec"]["initContainers"] = init
    if overhead is not None:
        pod["spec"]["overhead"] = overhead
    return pod


def container(name: str, cpu: str | None = None, memory: str | None = None, *, limit_cpu: str | None = None,
              limit_memory: str | None = None, restart_policy: str | None = None) -> dict:
    requests = {key: value for key, value in (("cpu", cpu), ("memory", memory)) if value}
    limits = {key: value for key, value in (("cpu", limit_cpu), ("memory", limit_memory)) if value}
    body: dict[str, Any] = {"name": name, "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": requests, "limits": limits}}
    if restart_policy:
        body["restartPolicy"] = restart_policy
    return body


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
    return result


def pod_lists(sim: Simulator, cluster: str, count: int) -> list[Any]:
    """The simulator's ``count`` pod LIST records (it records a request after sending the answer)."""

    def found() -> list[Any] | None:
        lists = [r for r in sim.cluster(cluster).faults.requests() if r.verb == "list" and r.resource == "pods"]
        return lists if len(lists) == count else None

    return wait_until(found, what=f"{count} pod LIST requests")


def brute_force(sim: Simulator, cluster: str, node: str | None = None) -> tuple[Counter, int, int]:
    """Non-terminated pods per node, total and unscheduled, straight from the simulator's store."""
    per_node: Counter = Counter()
    total = unscheduled = 0
    for stored in sim.cluster(cluster).store.items("pods"):
        pod = stored.obj
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        bound_to = (pod.get("spec") or {}).get("nodeName")
        if node is not None and bound_to != node:
            continue
        total += 1
        if bound_to:
            per_node[bound_to] += 1
        else:
            unscheduled += 1
    return per_node, total, unscheduled


@pytest.fixture
def kind(start_simulator: Callable[..., Simulator]) -> Simulator:
    return start_simulator([ClusterSpec("kind", nodes_from=str(KIND_THREE_NODES))])


@pytest.fixture
def client_for(kind: Simulator) -> Iterator[Callable[[str], k8s_client.ApiClient]]:
    clients: list[k8s_client.ApiClient] = []

    def make(name: str = "kind") -> k8s_client.ApiClient:
        client = api_client_for(kind, name)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def populate(sim: Simulator, count: int) -> None:
    """``count`` pods spread over the nodes and phases, some unbound (10m cpu / 16Mi each)."""
    store = sim.cluster("kind").store
    phases = ("Running", "Running", "Pending", "Succeeded", "Failed", "Running", "Unknown")
    for index in range(count):
        node = None if index % 11 == 0 else NODES[index % 3]
        phase = phases[index % len(phases)] if node else ("Pending" if index % 2 else "Failed")
        store.create("pods", new_pod(f"pod-{index:05d}", node, phase=phase, namespace=f"ns-{index % 4}"))


# ---------------------------------------------------------------------------- counting
def test_cluster_count_matches_a_brute_force_count(kind: Simulator, client_for: Callable) -> None:
    populate(kind, 1300)
    seen: list[int] = []

    counts = count_pods(client_for(), context="kind", progress=seen.append, page_size=200,
                        clock=lambda: FIXED_NOW)

    per_node, total, unscheduled = brute_force(kind, "kind")
    assert {node: load.pods for node, load in counts.per_node.items()} == dict(per_node)
    assert (counts.total, counts.unscheduled) == (total, unscheduled)
    for node, load in counts.per_node.items():
        assert load == NodeLoad(pods=per_node[node], cpu_requests_millis=10 * per_node[node],
                                memory_requests_bytes=16 * 2**20 * per_node[node])
    assert counts.context == "kind" and counts.as_of == FIXED_NOW
    assert counts.pods == ()
    assert seen == sorted(seen) and seen[-1] == total  # the server already left terminated pods out
    assert counts.pages == len(seen) == -(-total // 200)
    lists = pod_lists(kind, "kind", counts.pages)
    assert all("status.phase%21%3DSucceeded" in r.query and "limit=200" in r.query for r in lists)


def test_one_node_count_lists_its_pods_with_owner_and_requests(kind: Simulator, client_for: Callable) -> None:
    store = kind.cluster("kind").store
    populate(kind, 60)
    web = pod_with("web-0", "kind-worker", namespace="shop",
                   containers=[container("app", "250m", "256Mi", limit_cpu="1", limit_memory="512Mi"),
                               container("proxy", "50m", "64Mi")])
    web["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9",
                                          "uid": "1", "controller": True}]
    store.create("pods", web)

    counts = count_pods(client_for(), context="kind", node_name="kind-worker")

    per_node, total, _ = brute_force(kind, "kind", "kind-worker")
    assert list(counts.per_node) == ["kind-worker"]
    assert counts.per_node["kind-worker"].pods == per_node["kind-worker"] == total == len(counts.pods)
    summary = next(pod for pod in counts.pods if pod.name == "web-0")
    assert (summary.namespace, summary.owner_kind, summary.phase) == ("shop", "ReplicaSet", "Running")
    assert (summary.cpu_requests_millis, summary.memory_requests_bytes) == (300, 320 * 2**20)
    assert (summary.cpu_limits_millis, summary.memory_limits_bytes) == (1000, 512 * 2**20)
    assert all(pod.phase not in ("Succeeded", "Failed") for pod in counts.pods)
    load = counts.per_node["kind-worker"]
    assert load.cpu_requests_millis == 300 + 10 * (total - 1)
    [request] = pod_lists(kind, "kind", 1)
    assert "spec.nodeName%3Dkind-worker" in request.query


def test_real_pod_lists_count_like_brute_force(start_simulator: Callable[..., Simulator]) -> None:
    sim = start_simulator([ClusterSpec("real", nodes_from=str(KIND_THREE_NODES))])
    loaded = 0
    for file_name in REAL_POD_LISTS:
        pods = load_pods(REAL_OBJECTS / file_name)
        for pod in pods:
            pod["metadata"]["name"] = f"{pod['metadata']['name']}-{loaded}"
            loaded += 1
        sim.cluster("real").store.load("pods", pods)
    client = api_client_for(sim, "real")
    try:
        counts = count_pods(client, context="real", page_size=50)
    finally:
        client.close()

    per_node, total, unscheduled = brute_force(sim, "real")
    assert total < loaded  # the fixtures include terminated pods
    assert {node: load.pods for node, load in counts.per_node.items()} == dict(per_node)
    assert (counts.total, counts.unscheduled) == (total, unscheduled)
    expected_cpu: Counter = Counter()
    for stored in sim.cluster("real").store.items("pods"):
        pod = stored.obj
        node = pod["spec"].get("nodeName")
        if node and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            expected_cpu[node] += pod_requests(pod)[0]
    assert {node: load.cpu_requests_millis for node, load in counts.per_node.items()} == dict(expected_cpu)
    assert sum(expected_cpu.values()) > 0


def test_cancel_stops_between_pages(kind: Simulator, client_for: Callable) -> None:
    populate(kind, 400)
    cancel = threading.Event()
    progress: list[int] = []

    def cancel_after_first_page(seen: int) -> None:
        progress.append(seen)
        cancel.set()

    with pytest.raises(PodCountError) as raised:
        count_pods(client_for(), context="kind", page_size=50, cancel=cancel, progress=cancel_after_first_page)

    assert raised.value.cancelled
    assert progress == [50]
    pod_lists(kind, "kind", 1)


def test_continue_token_expiring_mid_count_restarts_it(kind: Simulator, client_for: Callable) -> None:
    populate(kind, 300)
    store = kind.cluster("kind").store
    expired_once: list[bool] = []

    def expire_history(seen: int) -> None:
        if not expired_once:
            expired_once.append(True)
            store.create("pods", new_pod("late-arrival", "kind-worker2"))
            store.compact()  # the first page's snapshot is gone: its continue token now gets 410

    counts = count_pods(client_for(), context="kind", page_size=100, progress=expire_history)

    per_node, total, unscheduled = brute_force(kind, "kind")
    assert {node: load.pods for node, load in counts.per_node.items()} == dict(per_node)
    assert (counts.total, counts.unscheduled) == (total, unscheduled)
    pages = -(-total // 100)
    lists = pod_lists(kind, "kind", 2 + pages)  # first page, the expired second one, then a full count
    assert [r.code for r in lists].count(410) == 1


def test_forbidden_pods_raise_a_clean_error(kind: Simulator, client_for: Callable) -> None:
    kind.cluster("kind").faults.forbid("list", "pods")
    with pytest.raises(PodCountError) as raised:
        count_pods(client_for(), context="kind")
    assert raised.value.kind == "forbidden" and raised.value.status == 403
    assert raised.value.message.startswith('cannot count pods: pods is forbidden: User "knm-sim-admin"')
    assert not raised.value.cancelled


def test_unreachable_server_raises_a_clean_error(start_simulator: Callable[..., Simulator]) -> None:
    sim = start_simulator([ClusterSpec("up", nodes_from=str(KIND_THREE_NODES))], unreachable_contexts=("down",))
    configuration = k8s_client.Configuration()
    configuration.host = sim.url("down")
    configuration.retries = 0
    client = k8s_client.ApiClient(configuration)
    try:
        with pytest.raises(PodCountError) as raised:
            count_pods(client, context="down", request_timeout=(1.0, 1.0))
    finally:
        client.close()
    assert raised.value.message == "cannot count pods: connection refused"
    assert raised.value.kind == "unreachable"
    assert "127.0.0.1" not in raised.value.message


# ---------------------------------------------------------------------------- upstream's rules
def test_requests_take_the_larger_of_app_sum_and_largest_init_container() -> None:
    app_wins = pod_with("a", "n", containers=[container("x", "100m", "100Mi"), container("y", "200m", "50Mi")],
                        init=[container("i", "250m", "120Mi")])
    assert pod_requests(app_wins) == (300, 150 * 2**20)
    init_wins = pod_with("b", "n", containers=[container("x", "100m", "100Mi")],
                         init=[container("i1", "1", "1Gi"), container("i2", "500m", "2Gi")])
    assert pod_requests(init_wins) == (1000, 2 * 2**30)


def test_sidecar_init_containers_add_to_the_app_and_to_later_init_containers() -> None:
    pod = pod_with("s", "n", containers=[container("app", "100m", "100Mi")],
                   init=[container("setup", "200m", "10Mi"),
                         container("sidecar", "50m", "20Mi", restart_policy="Always"),
                         container("migrate", "500m", "30Mi")])
    # app sum: 100m + sidecar 50m = 150m; init: setup 200m, migrate 500m + sidecar 50m = 550m.
    # memory: app 100Mi + 20Mi = 120Mi; init: max(10Mi, 20Mi, 30Mi + 20Mi) = 50Mi.
    assert pod_requests(pod) == (550, 120 * 2**20)


def test_overhead_and_pod_level_resources_count() -> None:
    pod = pod_with("o", "n", containers=[container("app", "100m", "64Mi")],
                   overhead={"cpu": "10m", "memory": "1Mi"})
    assert pod_requests(pod) == (110, 65 * 2**20)
    pod["spec"]["resources"] = {"requests": {"cpu": "2"}}
    assert pod_requests(pod) == (2010, 65 * 2**20)


def test_limits_follow_the_same_rules_and_missing_values_count_as_zero() -> None:
    pod = pod_with("l", "n", containers=[container("app", limit_cpu="500m", limit_memory="1Gi"),
                                         container("bare")],
                   init=[container("i", limit_cpu="2")])
    assert pod_limits(pod) == (2000, 2**30)
    assert pod_requests(pod) == (0, 0)
    assert pod_requests({"spec": {"containers": [{"resources": {"requests": {"cpu": "junk"}}}, "odd"]}}) == (0, 0)
    assert pod_requests({}) == (0, 0)
