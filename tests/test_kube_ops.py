"""Node operations against the simulator over HTTP, with the real ``kubectl`` as the witness.

Each test works on a fresh simulated cluster (the three kind nodes) whose clock runs 100x faster,
so pods' grace periods pass in a fraction of a second. Pods, DaemonSets and PDBs are created in
the simulator's store with the conftest builders. What the server saw is read from the
simulator's request log: no test may find a write it did not ask for, and no drain a DELETE
unless deleting was chosen.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client

from conftest import (
    KIND_THREE_NODES,
    Kubectl,
    api_client_for,
    daemonset_owner,
    new_daemonset,
    new_pdb,
    new_pod,
)
from knm_tui.kube.nodeview import (
    ANNOTATION_CORDON_REASON,
    ANNOTATION_CORDONED_AT,
    ANNOTATION_CORDONED_BY,
    Taint,
)
from knm_tui.kube.ops import (
    ACTION_CORDON,
    ACTION_DRAIN,
    CHOICE_DELETE_EMPTYDIR_DATA,
    CHOICE_FORCE,
    CHOICE_IGNORE_DAEMONSETS,
    MAX_CONFLICT_RETRIES,
    ApiCaller,
    Disposition,
    Drain,
    DrainOptions,
    NodeOperations,
    OperationError,
    OperationInputError,
    PodProgress,
    PodState,
    ReadOnlyError,
    apply_labels,
    apply_taints,
    cordon,
    node_permissions,
    parse_label_changes,
    parse_taint_changes,
    plan_drain,
    uncordon,
)
from knm_tui.sim import ClusterSpec, SimClock, Simulator
from knm_tui.sim.cluster import SimCluster
from knm_tui.sim.faults import Faults

CLUSTER = "ops"
NODE = "kind-worker2"
OTHER_NODE = "kind-worker"
USER = "ops-admin"
CLOCK_SPEED = 100.0
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REPLICASET = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4f9", "uid": "5b1e0c9a-0000-4000-8000-00000000000a"}
FAST = {"poll_interval": 0.02, "retry_429_after": 0.03}


# ---------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture
def sim(start_simulator: Callable[..., Simulator]) -> Simulator:
    """A simulator with the three kind nodes and a clock 100x faster than real time."""
    return start_simulator([ClusterSpec(CLUSTER, nodes_from=str(KIND_THREE_NODES))], clock=SimClock(speed=CLOCK_SPEED))


@pytest.fixture
def cluster(sim: Simulator) -> SimCluster:
    return sim.cluster(CLUSTER)


@pytest.fixture
def api(sim: Simulator) -> Iterator[k8s_client.ApiClient]:
    client = api_client_for(sim, CLUSTER)
    yield client
    client.close()


@pytest.fixture
def kctl(sim: Simulator, kubectl: Kubectl, tmp_path: Path) -> Kubectl:
    kubectl.kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    return kubectl


def run_kubectl(kctl: Kubectl, *args: str) -> str:
    result = kctl(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def node_json(kctl: Kubectl, node: str = NODE) -> dict[str, Any]:
    return json.loads(run_kubectl(kctl, "get", "node", node, "-o", "json"))


def node_status_column(kctl: Kubectl, node: str = NODE) -> str:
    lines = run_kubectl(kctl, "get", "node", node).splitlines()
    return lines[1].split()[1]


def described_taints(kctl: Kubectl, node: str = NODE) -> list[str]:
    """The taints ``kubectl describe node`` lists (sorted), or ``["<none>"]``."""
    described = run_kubectl(kctl, "describe", "node", node)
    block = re.search(r"^Taints:\s+(.*?)\n(?=\S)", described, re.MULTILINE | re.DOTALL)
    assert block, described
    return sorted(line.strip() for line in block.group(1).splitlines())


def pods_on_node(kctl: Kubectl, node: str = NODE) -> list[str]:
    out = run_kubectl(kctl, "get", "pods", "-A", "--field-selector", f"spec.nodeName={node}", "-o",
                      "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}")
    return sorted(line for line in out.splitlines() if line)


def writes(cluster: SimCluster, count: int = 0) -> list[tuple[str, str, int]]:
    """The write requests the simulator logged as (method, path, status).

    The simulator logs a request just after answering it, so a caller that knows how many
    writes must have happened passes ``count`` to wait (up to 5 s) until that many are logged.
    """
    deadline = time.monotonic() + 5.0
    while True:
        logged = [(r.method, r.path, r.code) for r in cluster.faults.requests() if r.method in WRITE_METHODS]
        if len(logged) >= count or time.monotonic() > deadline:
            return logged
        time.sleep(0.01)


def replicaset_pod(name: str, *, labels: dict[str, str] | None = None, grace: int = 10, **kwargs: Any) -> dict[str, Any]:
    return new_pod(name, NODE, labels=labels or {"app": "web"}, owner=REPLICASET, grace_seconds=grace, **kwargs)


def add(cluster: SimCluster, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    return cluster.store.create(resource, obj)


class ConcurrentWriter(Faults):
    """Changes a node's labels right before each of the next ``times`` PATCHes is served.

    The client's PATCH then carries a resourceVersion that is no longer current, as when another
    client writes between its GET and its PATCH.
    """

    def __init__(self, cluster: SimCluster, node: str, times: int) -> None:
        super().__init__()
        self.cluster = cluster
        self.node = node
        self.remaining = times

    def pick_error(self, verb: str) -> int | None:
        if verb == "patch" and self.remaining > 0:
            self.remaining -= 1
            mark = f"concurrent-{self.remaining}"
            self.cluster.store.mutate("nodes", "", self.node,
                                      lambda node: node["metadata"].setdefault("labels", {}).update({mark: "yes"}))
        return super().pick_error(verb)


# ---------------------------------------------------------------------------- input validation
def test_label_changes_parse_like_kubectl() -> None:
    assert parse_label_changes("team=infra  tier-, example.com/pool=gpu-a") == {
        "team": "infra", "tier": None, "example.com/pool": "gpu-a"}
    assert parse_label_changes("empty=") == {"empty": ""}


@pytest.mark.parametrize(("text", "message"), [
    ("bad_key!=x", 'invalid label key "bad_key!": name part must consist of alphanumeric characters'),
    ("-lead=x", 'invalid label key "-lead": name part must consist'),
    ("Example.COM/pool=a", 'invalid label key "Example.COM/pool": prefix part a lowercase RFC 1123 subdomain'),
    ("a/b/c=1", 'invalid label key "a/b/c": a qualified name must consist'),
    ("k" * 64 + "=v", "name part must be no more than 63 characters"),
    ("k=" + "v" * 64, 'invalid label value: "k=' + "v" * 64 + '": must be no more than 63 characters'),
    ("k=-v", 'invalid label value: "k=-v": a valid label must be an empty string or consist of'),
    ("k=v=w", "invalid label spec: k=v=w"),
    ("justakey", "unknown label spec: justakey"),
    ("a=1 a-", "can not both modify and remove a label in the same command"),
    ("a=1 a=2", 'label "a" is given more than once'),
    ("   ", "no label change given"),
])
def test_label_input_errors_read_like_kubectl(text: str, message: str) -> None:
    with pytest.raises(OperationInputError) as caught:
        parse_label_changes(text)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_taint_changes_parse_like_kubectl() -> None:
    add, remove = parse_taint_changes("dedicated=gpu:NoSchedule spot:PreferNoSchedule, old:NoExecute- legacy-")
    assert add == [Taint("dedicated", "gpu", "NoSchedule"), Taint("spot", "", "PreferNoSchedule")]
    assert remove == [("old", "NoExecute"), ("legacy", None)]


@pytest.mark.parametrize(("text", "message"), [
    ("k=v:Sometimes", "invalid taint effect: Sometimes, unsupported taint effect"),
    ("k=v:noschedule", "invalid taint effect: noschedule, unsupported taint effect"),
    ("k=v", "invalid taint spec: k=v, name part must consist of alphanumeric characters"),
    ("k:NoSchedule:x", "invalid taint spec: k:NoSchedule:x"),
    ("k=a=b:NoSchedule", "invalid taint spec: k=a=b:NoSchedule"),
    ("k=" + "v" * 64 + ":NoSchedule", "must be no more than 63 characters"),
    ("bad!key=v:NoExecute", "invalid taint spec: bad!key=v:NoExecute, name part must consist"),
    ("a:NoSchedule a=b:NoSchedule", "duplicated taints with the same key and effect: a:NoSchedule"),
    ("a=b:NoSchedule a-", "can not both modify and remove the following taint(s) in the same command: a="),
    ("", "no taint change given"),
])
def test_taint_input_errors_read_like_kubectl(text: str, message: str) -> None:
    with pytest.raises(OperationInputError) as caught:
        parse_taint_changes(text)
    assert message in caught.value.message


# ---------------------------------------------------------------------------- cordon, labels, taints
def test_cordon_and_uncordon_as_kubectl_sees_them(api: k8s_client.ApiClient, cluster: SimCluster,
                                                  kctl: Kubectl) -> None:
    outcome = cordon(api, NODE, reason="kernel   upgrade\nCVE-2024-1086", user=USER)
    assert (outcome.ok, outcome.changed) == (True, True)
    assert node_status_column(kctl) == "Ready,SchedulingDisabled"
    annotations = node_json(kctl)["metadata"]["annotations"]
    assert annotations[ANNOTATION_CORDON_REASON] == "kernel upgrade CVE-2024-1086"
    assert annotations[ANNOTATION_CORDONED_BY] == USER
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", annotations[ANNOTATION_CORDONED_AT])
    assert writes(cluster, 1) == [("PATCH", f"/api/v1/nodes/{NODE}", 200)]

    again = cordon(api, NODE, user=USER)
    assert (again.ok, again.changed, again.summary) == (True, False, "already cordoned")
    assert len(writes(cluster)) == 1, "a cordon of a cordoned node must not send a PATCH"

    assert uncordon(api, NODE).changed
    assert node_status_column(kctl) == "Ready"
    annotations = node_json(kctl)["metadata"].get("annotations", {})
    assert not {ANNOTATION_CORDON_REASON, ANNOTATION_CORDONED_BY, ANNOTATION_CORDONED_AT} & set(annotations)
    assert len(writes(cluster, 2)) == 2
    assert not uncordon(api, NODE).changed
    assert len(writes(cluster)) == 2


def test_a_new_reason_on_a_cordoned_node_changes_only_the_annotations(api: k8s_client.ApiClient,
                                                                       cluster: SimCluster) -> None:
    cordon(api, NODE, reason="first", user="alice")
    outcome = cordon(api, NODE, reason="second", user="bob")
    assert outcome.changed and "second" in outcome.summary
    node = cluster.store.get("nodes", "", NODE).obj
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"][ANNOTATION_CORDON_REASON] == "second"
    assert node["metadata"]["annotations"][ANNOTATION_CORDONED_BY] == "bob"


def test_labels_added_changed_and_removed_as_kubectl_sees_them(api: k8s_client.ApiClient, cluster: SimCluster,
                                                                kctl: Kubectl) -> None:
    apply_labels(api, NODE, parse_label_changes("team=infra tier=batch example.com/pool=gpu-a"))
    labels = node_json(kctl)["metadata"]["labels"]
    assert (labels["team"], labels["tier"], labels["example.com/pool"]) == ("infra", "batch", "gpu-a")

    outcome = apply_labels(api, NODE, parse_label_changes("team=platform tier- absent-"))
    assert outcome.summary == "labels: ~team=platform (was infra), -tier"
    shown = run_kubectl(kctl, "get", "node", NODE, "--show-labels")
    assert "team=platform" in shown and "tier=" not in shown and "example.com/pool=gpu-a" in shown
    assert "kubernetes.io/hostname=kind-worker2" in shown

    patches_before = len(writes(cluster, 2))
    assert not apply_labels(api, NODE, {"team": "platform", "tier": None}).changed
    assert len(writes(cluster)) == patches_before, "an unchanged label set must not send a PATCH"


def test_taints_added_and_removed_as_kubectl_describe_shows(api: k8s_client.ApiClient, cluster: SimCluster,
                                                            kctl: Kubectl) -> None:
    add, remove = parse_taint_changes("dedicated=gpu:NoSchedule maintenance:NoExecute")
    assert apply_taints(api, NODE, add, remove).changed
    assert described_taints(kctl) == ["dedicated=gpu:NoSchedule", "maintenance:NoExecute"]
    taints = node_json(kctl)["spec"]["taints"]
    assert "timeAdded" in next(t for t in taints if t["effect"] == "NoExecute")

    add, remove = parse_taint_changes("dedicated=cpu:NoSchedule maintenance-")
    outcome = apply_taints(api, NODE, add, remove)
    assert outcome.summary == "taints: -maintenance:NoExecute, ~dedicated=cpu:NoSchedule"
    assert node_json(kctl)["spec"]["taints"] == [{"key": "dedicated", "value": "cpu", "effect": "NoSchedule"}]

    assert apply_taints(api, NODE, [], [("dedicated", "NoSchedule")]).changed
    assert described_taints(kctl) == ["<none>"]
    assert "taints" not in cluster.store.get("nodes", "", NODE).obj["spec"]

    outcome = apply_taints(api, NODE, [], [("dedicated", None)])
    assert not outcome.changed and 'taint "dedicated" not found' in outcome.summary


def test_a_taint_conflict_is_retried_on_a_fresh_read(api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    cluster.faults = ConcurrentWriter(cluster, NODE, times=1)
    outcome = apply_taints(api, NODE, [Taint("dedicated", "gpu", "NoSchedule")], [])
    assert outcome.changed
    assert [code for method, _, code in writes(cluster, 2)] == [409, 200]
    node = cluster.store.get("nodes", "", NODE).obj
    assert node["metadata"]["labels"]["concurrent-0"] == "yes", "the concurrent change must survive"
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


def test_a_node_that_keeps_changing_gives_a_conflict_after_bounded_retries(api: k8s_client.ApiClient,
                                                                            cluster: SimCluster) -> None:
    cluster.faults = ConcurrentWriter(cluster, NODE, times=100)
    with pytest.raises(OperationError) as caught:
        apply_taints(api, NODE, [Taint("dedicated", "gpu", "NoSchedule")], [])
    assert caught.value.kind == "conflict"
    assert "gave up after 5 attempts" in caught.value.message
    assert [code for method, _, code in writes(cluster, MAX_CONFLICT_RETRIES)] == [409] * MAX_CONFLICT_RETRIES
    assert "taints" not in cluster.store.get("nodes", "", NODE).obj["spec"]


# ---------------------------------------------------------------------------- errors and RBAC
def test_forbidden_patch_is_a_clear_error_and_rbac_marks_the_actions_unavailable(
        api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    cluster.faults.forbid("patch", "nodes")
    with pytest.raises(OperationError) as caught:
        cordon(api, NODE, user=USER)
    assert caught.value.kind == "forbidden"
    assert caught.value.message.startswith(f'nodes "{NODE}" is forbidden: User "knm-sim-admin" cannot patch')

    permissions = node_permissions(api)
    assert not permissions[ACTION_CORDON].allowed
    assert permissions[ACTION_CORDON].reason == "not allowed to patch nodes"
    assert not permissions["label"].allowed and not permissions["taint"].allowed
    assert not permissions[ACTION_DRAIN].allowed and "patch nodes" in permissions[ACTION_DRAIN].reason

    cluster.faults.allow("patch", "nodes")
    cluster.faults.forbid("create", "pods")
    permissions = node_permissions(api)
    assert permissions[ACTION_CORDON].allowed and not permissions[ACTION_CORDON].unknown
    assert not permissions[ACTION_DRAIN].allowed
    assert permissions[ACTION_DRAIN].reason == "not allowed to create pods/eviction"


def test_an_access_review_that_fails_is_reported_unknown(api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    cluster.faults.error_verbs = frozenset({"create"})
    cluster.faults.error_codes = (503,)
    cluster.faults.error_rate = 1.0
    decision = node_permissions(api)[ACTION_CORDON]
    assert decision.allowed and decision.unknown
    assert decision.reason.startswith("could not check whether patch nodes is allowed: ")


def test_missing_node_timeout_and_unreachable_server_are_told_apart(
        api: k8s_client.ApiClient, sim: Simulator, cluster: SimCluster,
        start_simulator: Callable[..., Simulator]) -> None:
    with pytest.raises(OperationError) as caught:
        cordon(api, "no-such-node", user=USER)
    assert (caught.value.kind, caught.value.message) == ("not-found", 'nodes "no-such-node" not found')

    cluster.faults.stall_next_requests(1, 2.0)
    with pytest.raises(OperationError) as caught:
        cordon(ApiCaller(api_client_for(sim, CLUSTER, retries=False), request_timeout=(1.0, 0.3)), NODE, user=USER)
    assert (caught.value.kind, caught.value.message) == ("timeout", "timed out waiting for the server to answer")
    assert writes(cluster) == []

    down = start_simulator([ClusterSpec("up")], unreachable_contexts=("down",))
    with pytest.raises(OperationError) as caught:
        cordon(api_client_for(down, "down", token="", retries=False), NODE, user=USER)
    assert caught.value.kind == "unreachable"
    assert caught.value.message.startswith("cannot connect to the server")


def test_a_batch_reports_every_node_even_when_one_fails(api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    operations = NodeOperations(api, CLUSTER, USER)
    result = operations.cordon([OTHER_NODE, "ghost", NODE], reason="rack 12 power work")
    assert [(o.node, o.ok, o.changed) for o in result.outcomes] == [
        (OTHER_NODE, True, True), ("ghost", False, False), (NODE, True, True)]
    assert result.outcomes[1].error is not None and result.outcomes[1].error.kind == "not-found"
    assert result.message == 'cordon: 2 of 3 nodes changed; 1 failed (ghost: nodes "ghost" not found)'
    for name in (OTHER_NODE, NODE):
        assert cluster.store.get("nodes", "", name).obj["spec"]["unschedulable"] is True


def test_read_only_sends_no_write_request(api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    add(cluster, "pods", replicaset_pod("web-0"))
    operations = NodeOperations(api, CLUSTER, USER, read_only=True)
    before = cluster.store.get("nodes", "", NODE).obj
    refused: list[Callable[[], object]] = [
        lambda: operations.cordon(NODE, reason="x"),
        lambda: operations.uncordon(NODE),
        lambda: operations.label(NODE, "a=b"),
        lambda: operations.taint(NODE, "a=b:NoSchedule"),
        lambda: operations.drain(NODE, plan),
        lambda: cordon(ApiCaller(api, read_only=True), NODE, user=USER),
        lambda: apply_taints(ApiCaller(api, read_only=True), NODE, [Taint("a", "", "NoSchedule")], []),
        lambda: Drain(ApiCaller(api, read_only=True), NODE, plan).run(),
    ]
    plan = operations.plan_drain(NODE, DrainOptions())
    assert [pod.name for pod in plan.to_evict] == ["web-0"], "the preflight works read-only, as a dry run"
    for attempt in refused:
        with pytest.raises(ReadOnlyError):
            attempt()
    permissions = operations.permissions()
    assert all(not decision.allowed and "read-only" in decision.reason for decision in permissions.values())
    assert writes(cluster) == []
    assert cluster.store.get("nodes", "", NODE).obj == before


# ---------------------------------------------------------------------------- drain: preflight
def populate_mixed_node(cluster: SimCluster) -> None:
    """DaemonSet, orphaned-DaemonSet, mirror, emptyDir, unmanaged, Succeeded and terminating pods, and PDBs."""
    proxy = add(cluster, "daemonsets", new_daemonset("kube-proxy"))
    add(cluster, "pods", new_pod("kube-proxy-x7k2p", NODE, namespace="kube-system", labels={"app": "kube-proxy"},
                                 owner=daemonset_owner(proxy)))
    gone_ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "old-agent", "uid": "0d5e0c9a-0000-4000-8000-0000000000ff"}
    add(cluster, "pods", new_pod("old-agent-q8r4t", NODE, namespace="kube-system", owner=gone_ds))
    add(cluster, "pods", new_pod(f"etcd-{NODE}", NODE, namespace="kube-system",
                                 annotations={"kubernetes.io/config.mirror": "4f2a"},
                                 owner={"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": "n-uid"}))
    add(cluster, "pods", replicaset_pod("cache-0", labels={"app": "cache"}, empty_dir=True))
    add(cluster, "pods", new_pod("debug-shell", NODE))
    add(cluster, "pods", new_pod("backup-28712", NODE, phase="Succeeded"))
    leaving = replicaset_pod("web-old", labels={"app": "web"})
    leaving["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    add(cluster, "pods", leaving)
    add(cluster, "pods", replicaset_pod("web-0", labels={"app": "web"}))
    add(cluster, "pods", replicaset_pod("api-0", labels={"app": "api"}))
    add(cluster, "pods", new_pod("api-1", OTHER_NODE, labels={"app": "api"}, owner=REPLICASET))
    add(cluster, "poddisruptionbudgets", new_pdb("web", {"app": "web"}, min_available=1))
    add(cluster, "poddisruptionbudgets", new_pdb("api", {"app": "api"}, max_unavailable=1))


def test_preflight_classifies_pods_like_kubectl_and_names_blocking_pdbs(api: k8s_client.ApiClient,
                                                                         cluster: SimCluster) -> None:
    populate_mixed_node(cluster)
    plan = plan_drain(api, NODE, DrainOptions())
    by_name = {pod.name: pod for pod in (*plan.to_evict, *plan.skipped, *plan.needs_choice)}
    assert {name: pod.disposition for name, pod in by_name.items()} == {
        "kube-proxy-x7k2p": Disposition.SKIP, f"etcd-{NODE}": Disposition.SKIP, "web-old": Disposition.SKIP,
        "old-agent-q8r4t": Disposition.NEEDS_CHOICE, "cache-0": Disposition.NEEDS_CHOICE,
        "debug-shell": Disposition.NEEDS_CHOICE,
        "backup-28712": Disposition.EVICT, "web-0": Disposition.EVICT, "api-0": Disposition.EVICT,
    }
    assert by_name["kube-proxy-x7k2p"].reason == "managed by DaemonSet kube-proxy"
    assert by_name[f"etcd-{NODE}"].reason.startswith("mirror pod")
    assert by_name["web-old"].reason == "already terminating" and plan.waiting_for == (by_name["web-old"],)
    assert by_name["old-agent-q8r4t"].needs == (CHOICE_FORCE,)
    assert "DaemonSet old-agent no longer exists" in by_name["old-agent-q8r4t"].reason
    assert by_name["cache-0"].needs == (CHOICE_DELETE_EMPTYDIR_DATA,)
    assert by_name["debug-shell"].needs == (CHOICE_FORCE,)

    assert not plan.can_start
    assert plan.blocked_reasons == [
        "1 pod uses emptyDir volumes whose data is lost on eviction (default/cache-0): choose to delete emptyDir data",
        "2 pods would not be recreated by any controller (default/debug-shell, kube-system/old-agent-q8r4t): "
        "choose force",
    ]
    assert [(pdb.name, pdb.pods) for pdb in plan.blocking_pdbs] == [("web", ("default/web-0",))]
    assert plan.blocking_pdbs[0].message == ("PodDisruptionBudget web needs 1 healthy pods and has 1 currently; "
                                             "it allows no disruption now")
    assert by_name["api-0"].pdbs == ("api",), "a PDB that allows a disruption covers the pod but does not block"
    assert plan.eviction_version == "policy/v1"
    assert writes(cluster) == [], "the preflight must not write"

    chosen = plan_drain(api, NODE, DrainOptions(force=True, delete_emptydir_data=True, ignore_daemonsets=False))
    assert chosen.blocked_reasons == [
        "1 pod is managed by a DaemonSet (kube-system/kube-proxy-x7k2p): choose to ignore DaemonSets"]
    assert [pod.needs for pod in chosen.needs_choice] == [(CHOICE_IGNORE_DAEMONSETS,)]
    warnings = {pod.name: pod.warning for pod in chosen.to_evict}
    assert warnings["cache-0"] == "its emptyDir data will be deleted"
    assert warnings["debug-shell"] == "no controller will recreate it"
    assert warnings["old-agent-q8r4t"] == "its DaemonSet old-agent no longer exists"
    assert plan_drain(api, NODE, DrainOptions(force=True, delete_emptydir_data=True)).can_start


# ---------------------------------------------------------------------------- drain: runs
def test_drain_evicts_everything_but_daemonset_and_mirror_pods(api: k8s_client.ApiClient, cluster: SimCluster,
                                                               kctl: Kubectl) -> None:
    proxy = add(cluster, "daemonsets", new_daemonset("kube-proxy"))
    add(cluster, "pods", new_pod("kube-proxy-x7k2p", NODE, namespace="kube-system", owner=daemonset_owner(proxy)))
    add(cluster, "pods", new_pod(f"etcd-{NODE}", NODE, namespace="kube-system",
                                 annotations={"kubernetes.io/config.mirror": "4f2a"},
                                 owner={"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": "n-uid"}))
    for index in range(3):
        add(cluster, "pods", replicaset_pod(f"web-{index}"))
    add(cluster, "pods", replicaset_pod("cache-0", labels={"app": "cache"}, empty_dir=True))
    add(cluster, "pods", new_pod("debug-shell", NODE, grace_seconds=5))
    add(cluster, "pods", new_pod("backup-28712", NODE, phase="Succeeded"))
    add(cluster, "poddisruptionbudgets", new_pdb("web", {"app": "web"}, max_unavailable=1))
    options = DrainOptions(force=True, delete_emptydir_data=True, max_parallel=3, timeout_seconds=10, **FAST)
    plan = plan_drain(api, NODE, options)
    states: dict[str, list[PodState]] = {}
    lock = threading.Lock()

    def record(progress: PodProgress) -> None:
        with lock:
            states.setdefault(progress.name, []).append(progress.state)

    result = Drain(api, NODE, plan, options, record, user=USER).run()

    assert result.drained, result.message
    assert result.node_cordoned and not result.cancelled and not result.timed_out
    assert result.message == f"node {NODE} drained: 6 pods gone, 2 left in place"
    assert {pod.name for pod in result.pods} == {"web-0", "web-1", "web-2", "cache-0", "debug-shell", "backup-28712"}
    assert all(pod.state == PodState.GONE for pod in result.pods)
    assert states["web-1"][0] == PodState.EVICTING and states["web-1"][-1] == PodState.GONE
    assert PodState.TERMINATING in states["cache-0"]
    assert {pod.name for pod in result.skipped} == {"kube-proxy-x7k2p", f"etcd-{NODE}"}
    assert pods_on_node(kctl) == [f"kube-system/etcd-{NODE}", "kube-system/kube-proxy-x7k2p"]
    assert node_status_column(kctl) == "Ready,SchedulingDisabled"
    evictions = [path for method, path, _ in writes(cluster, 7) if method == "POST"]
    assert len(set(evictions)) == 6 and all(path.endswith("/eviction") for path in evictions)
    assert not [w for w in writes(cluster) if w[0] == "DELETE"], "a drain must never DELETE unless told to"


def test_a_pdb_that_allows_nothing_times_out_and_leaves_the_node_cordoned(
        api: k8s_client.ApiClient, cluster: SimCluster, kctl: Kubectl) -> None:
    add(cluster, "pods", replicaset_pod("db-0", labels={"app": "db"}))
    add(cluster, "pods", replicaset_pod("web-0"))
    add(cluster, "poddisruptionbudgets", new_pdb("db", {"app": "db"}, min_available=1))
    options = DrainOptions(timeout_seconds=0.5, **FAST)
    result = Drain(api, NODE, plan_drain(api, NODE, options), user=USER).run()

    assert not result.drained and result.timed_out and result.node_cordoned
    assert 0.5 <= result.elapsed_seconds < 2.5
    [blocked] = result.remaining
    assert (blocked.name, blocked.state, blocked.pdb) == ("db-0", PodState.BLOCKED_BY_PDB, "db")
    assert blocked.retries >= 3
    assert blocked.message == "The disruption budget db needs 1 healthy pods and has 1 currently"
    assert result.message.startswith(f"node {NODE} not drained: timed out after 0.5 s; 1 pod not gone "
                                     "(default/db-0 blocked-by-pdb after ")
    assert result.message.endswith("the node stays cordoned")
    assert node_status_column(kctl) == "Ready,SchedulingDisabled"
    assert pods_on_node(kctl) == ["default/db-0"]
    assert not [w for w in writes(cluster) if w[0] == "DELETE"]


def test_a_blocked_eviction_goes_through_once_the_pdb_allows_it(api: k8s_client.ApiClient,
                                                                 cluster: SimCluster) -> None:
    add(cluster, "pods", replicaset_pod("db-0", labels={"app": "db"}))
    add(cluster, "poddisruptionbudgets", new_pdb("db", {"app": "db"}, min_available=1))
    options = DrainOptions(timeout_seconds=10, **FAST)
    seen: list[tuple[PodState, int]] = []

    def on_progress(progress: PodProgress) -> None:
        seen.append((progress.state, progress.retries))
        if progress.state == PodState.BLOCKED_BY_PDB and progress.retries == 3:
            cluster.store.mutate("poddisruptionbudgets", "default", "db",
                                 lambda pdb: pdb["spec"].update({"minAvailable": 0}))

    result = Drain(api, NODE, plan_drain(api, NODE, options), on_progress=on_progress).run()
    assert result.drained, result.message
    blocked = [retries for state, retries in seen if state == PodState.BLOCKED_BY_PDB]
    assert blocked[:3] == [1, 2, 3], "every refusal must be visible with its retry count"
    assert seen[-1] == (PodState.GONE, 3)


def test_cancel_stops_evicting_and_keeps_the_node_cordoned(api: k8s_client.ApiClient, cluster: SimCluster,
                                                           kctl: Kubectl) -> None:
    for index in range(3):
        add(cluster, "pods", replicaset_pod(f"db-{index}", labels={"app": "db"}))
    add(cluster, "poddisruptionbudgets", new_pdb("db", {"app": "db"}, min_available=3))
    options = DrainOptions(**FAST)
    blocked = threading.Event()
    drain = Drain(api, NODE, plan_drain(api, NODE, options),
                  on_progress=lambda p: blocked.set() if p.state == PodState.BLOCKED_BY_PDB else None)
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(drain.run()))
    runner.start()
    assert blocked.wait(5)
    cancelled_at = time.monotonic()
    drain.cancel()
    runner.join(5)
    assert not runner.is_alive() and time.monotonic() - cancelled_at < 1.0
    [result] = results
    assert result.cancelled and not result.drained and result.node_cordoned
    assert result.message.startswith(f"node {NODE} not drained: cancelled; 3 pods not gone")
    time.sleep(0.1)
    evictions = len([w for w in writes(cluster) if w[0] == "POST"])
    time.sleep(0.2)
    assert len([w for w in writes(cluster) if w[0] == "POST"]) == evictions, "no eviction after cancel"
    assert node_status_column(kctl) == "Ready,SchedulingDisabled"
    assert pods_on_node(kctl) == ["default/db-0", "default/db-1", "default/db-2"]
    assert not [w for w in writes(cluster) if w[0] == "DELETE"]


def test_evictions_that_keep_failing_end_as_failed_and_never_fall_back_to_delete(
        api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    add(cluster, "pods", replicaset_pod("web-0"))
    options = DrainOptions(timeout_seconds=5, **FAST)
    plan = plan_drain(api, NODE, options)
    cluster.faults.error_verbs = frozenset({"create"})
    cluster.faults.error_codes = (503,)
    cluster.faults.error_rate = 1.0
    result = Drain(api, NODE, plan).run()
    assert not result.drained and not result.timed_out and result.node_cordoned
    [pod] = result.pods
    assert pod.state == PodState.FAILED
    assert pod.message == "the server is currently unable to handle the request (gave up after 5 retries)"
    assert result.message.startswith(f"node {NODE} not drained: 1 pod failed (default/web-0 failed: ")
    assert [(m, code) for m, _, code in writes(cluster, 7) if m != "PATCH"] == [("POST", 503)] * 6
    assert cluster.store.get("pods", "default", "web-0") is not None


def test_delete_instead_of_evict_only_when_chosen(api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    add(cluster, "pods", replicaset_pod("db-0", labels={"app": "db"}))
    add(cluster, "poddisruptionbudgets", new_pdb("db", {"app": "db"}, min_available=1))
    options = DrainOptions(disable_eviction=True, grace_period_seconds=0, timeout_seconds=5, **FAST)
    plan = plan_drain(api, NODE, options)
    assert any("DELETED, not evicted" in warning for warning in plan.warnings)
    result = Drain(api, NODE, plan).run()
    assert result.drained, result.message
    assert [(m, p) for m, p, _ in writes(cluster, 2) if m != "PATCH"] == [
        ("DELETE", "/api/v1/namespaces/default/pods/db-0")]


def test_a_plan_that_needs_a_choice_is_never_run(api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    add(cluster, "pods", new_pod("debug-shell", NODE))
    plan = plan_drain(api, NODE, DrainOptions(**FAST))
    result = Drain(api, NODE, plan).run()
    assert not result.drained and not result.node_cordoned
    assert result.message == (f"drain of {NODE} not started: 1 pod would not be recreated by any controller "
                              "(default/debug-shell): choose force")
    assert writes(cluster) == []
    with pytest.raises(OperationInputError):
        Drain(api, NODE, plan, DrainOptions(force=True, **FAST))


def test_pods_arriving_after_the_preflight_are_drained_too(api: k8s_client.ApiClient, cluster: SimCluster) -> None:
    add(cluster, "pods", replicaset_pod("web-0"))
    options = DrainOptions(timeout_seconds=5, **FAST)
    plan = plan_drain(api, NODE, options)
    add(cluster, "pods", replicaset_pod("web-late"))
    cluster.store.delete("pods", "default", "web-0")
    result = Drain(api, NODE, plan).run()
    assert result.drained, result.message
    assert {(pod.name, pod.message) for pod in result.pods} == {
        ("web-0", "gone before it was evicted"), ("web-late", "gone")}
    assert [p for m, p, _ in writes(cluster, 2) if m == "POST"] == ["/api/v1/namespaces/default/pods/web-late/eviction"]


def test_drain_options_are_checked() -> None:
    for bad in ({"grace_period_seconds": -1}, {"timeout_seconds": 0}, {"max_parallel": 0}, {"poll_interval": 0}):
        with pytest.raises(OperationInputError):
            DrainOptions(**bad)


# ---------------------------------------------------------------------------- a server without the Eviction API
class _NoEvictionServer(http.server.ThreadingHTTPServer):
    """A tiny API server whose discovery lists no pods/eviction; it records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        pod = replicaset_pod("web-0")
        pod["metadata"].update(uid="9e1c0c9a-0000-4000-8000-000000000001", resourceVersion="5")
        self.answers = {
            f"/api/v1/nodes/{NODE}": {"kind": "Node", "apiVersion": "v1", "metadata": {"name": NODE, "resourceVersion": "4"},
                                      "spec": {}},
            "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["get", "list", "delete"]}]},
            "/api/v1/pods": {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}, "items": [pod]},
        }
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                server.requests.append((self.command, self.path))
                body = json.dumps(server.answers.get(self.path.split("?")[0], {"kind": "Status", "code": 404})).encode()
                self.send_response(200 if self.path.split("?")[0] in server.answers else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

        super().__init__(("127.0.0.1", 0), Handler)


def test_without_an_eviction_api_the_drain_refuses_instead_of_deleting() -> None:
    server = _NoEvictionServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        configuration = k8s_client.Configuration()
        configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
        api = k8s_client.ApiClient(configuration)
        plan = plan_drain(api, NODE, DrainOptions(**FAST))
        assert plan.eviction_version == ""
        assert plan.blocked_reasons == ["the server offers no Eviction API (pods/eviction); pods are deleted only "
                                        "if you explicitly choose to delete instead of evict"]
        result = Drain(api, NODE, plan).run()
        assert not result.drained
        assert "no Eviction API" in result.message
        assert {method for method, _ in server.requests} == {"GET"}
    finally:
        server.shutdown()
        server.server_close()
