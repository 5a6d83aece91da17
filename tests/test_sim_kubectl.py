"""The real ``kubectl`` against the simulator: each test asserts what kubectl prints or changes.

Most tests share one module-scoped simulator and work on their own node, so they do not
interfere; each kubectl call still gets a private ``HOME`` (kubectl caches discovery there).
The shared cluster's clock runs 50x faster than real time so drain grace periods pass quickly.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    KIND_THREE_NODES,
    REAL_OBJECTS,
    Kubectl,
    daemonset_owner,
    new_daemonset,
    new_lease,
    new_node,
    new_pdb,
    new_pod,
)
from knm_tui.sim import ClusterSpec, SimClock, Simulator
from knm_tui.sim.world import WorldSpec

CLUSTER = "kubectl-sim"
CLOCK_SPEED = 50.0
REPLICASET_OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-5d9c7b", "uid": "3f0c1d3e-0000-4000-8000-000000000001"}
JOB_OWNER = {"apiVersion": "batch/v1", "kind": "Job", "name": "backup-28712", "uid": "3f0c1d3e-0000-4000-8000-000000000002"}


# ---------------------------------------------------------------------------- helpers
def parse_columns(text: str) -> list[dict[str, str]]:
    """The rows of kubectl's column output, keyed by header (columns are split where the header's are)."""
    lines = [line for line in text.splitlines() if line.strip()]
    headers = list(re.finditer(r"\S+(?: \S+)*", lines[0]))
    rows = []
    for line in lines[1:]:
        cells = {}
        for index, header in enumerate(headers):
            end = headers[index + 1].start() if index + 1 < len(headers) else len(line)
            cells[header.group()] = line[header.start():end].strip()
        rows.append(cells)
    return rows


def rows_by_name(text: str) -> dict[str, dict[str, str]]:
    """kubectl's column output keyed by the NAME column."""
    return {row["NAME"]: row for row in parse_columns(text)}


def section(text: str, title: str) -> list[str]:
    """The lines of one ``kubectl describe`` section: from ``title:`` up to the next unindented line."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(f"{title}:"))
    body = [lines[start]]
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):
            break
        body.append(line)
    return body


def describe_time(rfc3339: str) -> str:
    """A timestamp the way ``kubectl describe`` prints it (RFC 1123 with a numeric zone, in UTC here)."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(timezone.utc)
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def expected_status(node: dict[str, Any]) -> str:
    """The STATUS kube-apiserver prints for a node: the Ready condition, then SchedulingDisabled."""
    ready = [c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
    if not ready:
        status = "Unknown"
    else:
        status = "Ready" if ready[-1].get("status") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def expected_roles(node: dict[str, Any]) -> str:
    """The ROLES kube-apiserver prints: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values."""
    roles = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def nodes_in_dump(path: Path) -> list[dict[str, Any]]:
    """The Node objects in a dump: kind Node, items of a NodeList, or kind-less objects with ``status.nodeInfo``."""
    document = json.loads(path.read_text())

    def walk(value: Any, list_kind: str | None) -> Iterator[dict[str, Any]]:
        if isinstance(value, list):
            for item in value:
                yield from walk(item, None)
        elif isinstance(value, dict) and isinstance(value.get("items"), list):
            for item in value["items"]:
                yield from walk(item, value.get("kind"))
        elif isinstance(value, dict):
            kind = value.get("kind") or ("Node" if list_kind == "NodeList" else None)
            if kind == "Node" or (kind is None and "nodeInfo" in (value.get("status") or {})):
                yield value

    return list(walk(document, None))


NODE_DUMPS = sorted(path for path in REAL_OBJECTS.glob("*.json") if nodes_in_dump(path))


class LineReader:
    """Collects a process's stdout lines on a background thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        for line in process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 10.0) -> str | None:
        """The first new line matching ``pattern`` within ``timeout`` seconds, else None."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                return None
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        return None


# ---------------------------------------------------------------------------- the shared cluster
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One simulator for the module: the kind nodes plus a node (and pods) per test that changes things."""
    simulator = Simulator([ClusterSpec(CLUSTER, nodes_from=str(KIND_THREE_NODES))],
                          clock=SimClock(speed=CLOCK_SPEED)).start()
    store = simulator.cluster(CLUSTER).store
    for name in ("watch-me", "cordon-me", "label-me", "taint-me", "pods-node", "drain-ok", "drain-blocked"):
        store.create("nodes", new_node(name))
    store.create("nodes", new_node("describe-me", labels={"node-role.kubernetes.io/worker": ""},
                                   taints=[{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]))
    store.create("leases", new_lease("describe-me", "2024-05-01T10:00:07.123456Z"))
    store.create("events", {
        "metadata": {"name": "describe-me.17c8a1b2c3d4e5f6", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "describe-me", "uid": "describe-me"},
        "reason": "NodeHasSufficientMemory", "message": "Node describe-me status is now: NodeHasSufficientMemory",
        "source": {"component": "kubelet", "host": "describe-me"}, "type": "Normal", "count": 1,
        "firstTimestamp": "2024-05-01T09:59:00Z", "lastTimestamp": "2024-05-01T09:59:00Z"})
    store.create("pods", new_pod("describe-app", "describe-me", owner=REPLICASET_OWNER))
    store.create("pods", new_pod("describe-done", "describe-me", phase="Succeeded", owner=JOB_OWNER))
    store.create("pods", new_pod("api-0", "pods-node", labels={"app": "api"}))
    store.create("pods", new_pod("proxy-0", "pods-node", namespace="kube-system"))
    store.create("pods", new_pod("elsewhere", "kind-worker2"))
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def shared_kubeconfig(shared: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kubeconfig of the shared simulator."""
    return shared.write_kubeconfig(tmp_path_factory.mktemp("shared-kubeconfig") / "config")


@pytest.fixture
def kc(kubectl: Kubectl, shared_kubeconfig: Path) -> Kubectl:
    """kubectl with its own HOME, pointed at the shared simulator."""
    kubectl.kubeconfig = shared_kubeconfig
    return kubectl


def run_ok(kc: Kubectl, *args: str) -> str:
    """Run kubectl, insist that it succeeds, and return its stdout."""
    result = kc(*args)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def stored_node(simulator: Simulator, name: str) -> dict[str, Any]:
    """The node as the simulator stores it now."""
    return simulator.cluster(CLUSTER).store.get("nodes", "", name).obj


# ---------------------------------------------------------------------------- get
def test_get_nodes_prints_status_roles_and_version(kc: Kubectl) -> None:
    output = run_ok(kc, "get", "nodes")
    assert output.splitlines()[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = rows_by_name(output)
    assert {key: rows["kind-control-plane"][key] for key in ("STATUS", "ROLES", "VERSION")} == {
        "STATUS": "Ready", "ROLES": "control-plane,master", "VERSION": "v1.20.0"}
    assert (rows["kind-worker"]["STATUS"], rows["kind-worker"]["ROLES"]) == ("NotReady", "<none>")
    assert rows["describe-me"]["ROLES"] == "worker"
    assert rows["describe-me"]["VERSION"] == "v1.32.4"


def test_get_nodes_wide_adds_addresses_and_node_info(kc: Kubectl) -> None:
    output = run_ok(kc, "get", "nodes", "-o", "wide")
    assert output.splitlines()[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP",
                                              "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    worker = rows_by_name(output)["kind-worker"]
    assert {key: worker[key] for key in ("INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME")} == {
        "INTERNAL-IP": "172.18.0.2", "EXTERNAL-IP": "<none>", "OS-IMAGE": "Ubuntu Groovy Gorilla (development branch)",
        "KERNEL-VERSION": "5.10.76-linuxkit", "CONTAINER-RUNTIME": "containerd://1.4.0"}


def test_get_nodes_watch_prints_a_change_made_while_it_runs(kc: Kubectl, shared: Simulator) -> None:
    process = kc.popen("get", "nodes", "-w")
    reader = LineReader(process)
    try:
        assert reader.wait_for(r"^watch-me\s+Ready\s+<none>"), reader.seen
        shared.cluster(CLUSTER).store.mutate("nodes", "", "watch-me",
                                              lambda node: node["spec"].update(unschedulable=True))
        assert reader.wait_for(r"^watch-me\s+Ready,SchedulingDisabled\s+<none>\s+\S+\s+v1\.32\.4$"), reader.seen
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_get_pods_on_one_node_across_namespaces(kc: Kubectl) -> None:
    output = run_ok(kc, "get", "pods", "-A", "--field-selector", "spec.nodeName=pods-node")
    assert output.splitlines()[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = parse_columns(output)
    assert [(r["NAMESPACE"], r["NAME"], r["READY"], r["STATUS"], r["RESTARTS"]) for r in rows] == [
        ("default", "api-0", "1/1", "Running", "0"), ("kube-system", "proxy-0", "1/1", "Running", "0")]


def test_get_pods_wide_shows_the_node(kc: Kubectl) -> None:
    rows = rows_by_name(run_ok(kc, "get", "pods", "-n", "default", "-o", "wide", "--field-selector",
                               "spec.nodeName=pods-node"))
    assert list(rows) == ["api-0"]
    assert (rows["api-0"]["NODE"], rows["api-0"]["IP"], rows["api-0"]["NOMINATED NODE"]) == ("pods-node", "10.244.1.7", "<none>")


# ---------------------------------------------------------------------------- describe
def test_describe_node_shows_conditions_lease_taints_pods_and_events(kc: Kubectl) -> None:
    output = run_ok(kc, "describe", "node", "describe-me")
    assert re.search(r"^Roles:\s+worker$", output, re.M)
    assert re.search(r"^Taints:\s+dedicated=infra:NoSchedule$", output, re.M)
    lease = section(output, "Lease")
    assert re.search(r"HolderIdentity:\s+describe-me", "\n".join(lease))
    assert any(re.fullmatch(r"\s+RenewTime:\s+" + re.escape(describe_time("2024-05-01T10:00:07Z")), line) for line in lease)
    conditions = section(output, "Conditions")
    assert re.split(r"\s{2,}", conditions[1].strip()) == [
        "Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message"]
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", line.strip()) for line in conditions[3:] if line.strip())}
    assert rows["Ready"] == ["Ready", "True", describe_time("2024-05-01T10:00:00Z"), describe_time("2024-04-01T09:00:00Z"),
                             "KubeletReady", "kubelet is posting ready status"]
    assert rows["MemoryPressure"][1] == "False"
    pods = section(output, "Non-terminated Pods")
    assert "(1 in total)" in pods[0]
    assert any(re.match(r"\s+default\s+describe-app\s+10m \(0%\)", line) for line in pods)
    assert "describe-done" not in output
    events = "\n".join(section(output, "Events"))
    assert re.search(r"Normal\s+NodeHasSufficientMemory\s+.*kubelet\s+Node describe-me status is now: NodeHasSufficientMemory",
                     events)


# ---------------------------------------------------------------------------- cordon, label, taint
def test_cordon_then_uncordon(kc: Kubectl, shared: Simulator) -> None:
    assert run_ok(kc, "cordon", "cordon-me").strip() == "node/cordon-me cordoned"
    assert stored_node(shared, "cordon-me")["spec"]["unschedulable"] is True
    assert rows_by_name(run_ok(kc, "get", "node", "cordon-me"))["cordon-me"]["STATUS"] == "Ready,SchedulingDisabled"
    assert run_ok(kc, "cordon", "cordon-me").strip() == "node/cordon-me already cordoned"

    assert run_ok(kc, "uncordon", "cordon-me").strip() == "node/cordon-me uncordoned"
    assert "unschedulable" not in stored_node(shared, "cordon-me")["spec"]
    assert rows_by_name(run_ok(kc, "get", "node", "cordon-me"))["cordon-me"]["STATUS"] == "Ready"


def test_label_add_and_remove(kc: Kubectl, shared: Simulator) -> None:
    assert run_ok(kc, "label", "node", "label-me", "team=storage").strip() == "node/label-me labeled"
    assert stored_node(shared, "label-me")["metadata"]["labels"]["team"] == "storage"
    assert list(rows_by_name(run_ok(kc, "get", "nodes", "-l", "team=storage"))) == ["label-me"]
    assert run_ok(kc, "label", "node", "label-me", "team-").strip() == "node/label-me unlabeled"
    assert "team" not in stored_node(shared, "label-me")["metadata"]["labels"]
    result = kc("get", "nodes", "-l", "team=storage")
    assert result.returncode == 0 and result.stdout == ""
    assert "No resources found" in result.stderr


def test_taint_add_and_remove(kc: Kubectl, shared: Simulator) -> None:
    assert run_ok(kc, "taint", "nodes", "taint-me", "dedicated=gpu:NoSchedule").strip() == "node/taint-me tainted"
    assert stored_node(shared, "taint-me")["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    assert re.search(r"^Taints:\s+dedicated=gpu:NoSchedule$", run_ok(kc, "describe", "node", "taint-me"), re.M)

    assert run_ok(kc, "taint", "nodes", "taint-me", "dedicated=gpu:NoSchedule-").strip() == "node/taint-me untainted"
    assert not stored_node(shared, "taint-me")["spec"].get("taints")
    described = run_ok(kc, "describe", "node", "taint-me")
    assert re.search(r"^Taints:\s+<none>$", described, re.M)
    assert "dedicated=gpu" not in described


# ---------------------------------------------------------------------------- drain
def test_drain_evicts_what_it_may_and_leaves_daemonset_and_mirror_pods(kc: Kubectl, shared: Simulator) -> None:
    store = shared.cluster(CLUSTER).store
    daemonset = store.create("daemonsets", new_daemonset("node-exporter"))
    store.create("pods", new_pod("node-exporter-x1", "drain-ok", namespace="kube-system",
                                 labels={"app": "node-exporter"}, owner=daemonset_owner(daemonset)))
    store.create("pods", new_pod("kube-apiserver-drain-ok", "drain-ok", namespace="kube-system",
                                 annotations={"kubernetes.io/config.mirror": "5c2a2c3b"},
                                 owner={"apiVersion": "v1", "kind": "Node", "name": "drain-ok", "uid": "drain-ok"}))
    store.create("pods", new_pod("app-1", "drain-ok", owner=REPLICASET_OWNER, empty_dir=True))
    store.create("pods", new_pod("app-2", "drain-ok", owner=REPLICASET_OWNER))
    store.create("pods", new_pod("backup-done", "drain-ok", phase="Succeeded", owner=JOB_OWNER))

    result = kc("drain", "drain-ok", "--ignore-daemonsets", "--delete-emptydir-data", "--grace-period=5", "--timeout=30s")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "node/drain-ok cordoned"
    assert lines[-1] == "node/drain-ok drained"
    assert {line for line in lines if line.startswith("pod/")} == {
        "pod/app-1 evicted", "pod/app-2 evicted", "pod/backup-done evicted"}
    assert "Warning: ignoring DaemonSet-managed Pods: kube-system/node-exporter-x1" in result.stderr
    remaining = sorted(p.obj["metadata"]["name"] for p in store.items("pods") if p.obj["spec"].get("nodeName") == "drain-ok")
    assert remaining == ["kube-apiserver-drain-ok", "node-exporter-x1"]
    assert rows_by_name(run_ok(kc, "get", "node", "drain-ok"))["drain-ok"]["STATUS"] == "Ready,SchedulingDisabled"


def test_drain_refuses_an_emptydir_pod_without_the_flag(kc: Kubectl, shared: Simulator) -> None:
    store = shared.cluster(CLUSTER).store
    store.create("nodes", new_node("drain-emptydir"))
    store.create("pods", new_pod("cache-1", "drain-emptydir", owner=REPLICASET_OWNER, empty_dir=True))
    result = kc("drain", "drain-emptydir", "--ignore-daemonsets", "--timeout=10s")
    assert result.returncode != 0
    assert "cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache-1" in result.stderr
    assert store.get("pods", "default", "cache-1") is not None


def test_drain_blocked_by_a_budget_times_out_and_leaves_the_node_cordoned(kc: Kubectl, shared: Simulator) -> None:
    store = shared.cluster(CLUSTER).store
    store.create("pods", new_pod("guarded-0", "drain-blocked", labels={"app": "guarded"}, owner=REPLICASET_OWNER))
    store.create("poddisruptionbudgets", new_pdb("guarded-pdb", {"app": "guarded"}, min_available=1))
    started = time.monotonic()
    result = kc("drain", "drain-blocked", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=5s")
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "node/drain-blocked cordoned" in result.stdout
    assert "Cannot evict pod as it would violate the pod's disruption budget." in result.stderr
    assert 'error when evicting pods/"guarded-0" -n "default" (will retry after 5s)' in result.stderr
    assert "global timeout reached: 5s" in result.stderr
    assert 4.5 <= elapsed < 15
    assert store.get("pods", "default", "guarded-0").obj["metadata"].get("deletionTimestamp") is None
    assert rows_by_name(run_ok(kc, "get", "node", "drain-blocked"))["drain-blocked"]["STATUS"] == "Ready,SchedulingDisabled"


# ---------------------------------------------------------------------------- auth
def test_auth_can_i_follows_refused_verbs(kc: Kubectl, shared: Simulator) -> None:
    faults = shared.cluster(CLUSTER).faults
    allowed = kc("auth", "can-i", "patch", "nodes")
    assert (allowed.returncode, allowed.stdout.strip()) == (0, "yes")
    faults.forbid("patch", "nodes")
    try:
        denied = kc("auth", "can-i", "patch", "nodes")
        refused = kc("cordon", "kind-worker2")
    finally:
        faults.allow("patch", "nodes")
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    assert ('error: unable to cordon node "kind-worker2": nodes "kind-worker2" is forbidden: User '
            in refused.stderr)
    assert 'cannot patch resource "nodes"' in refused.stderr
    assert "unschedulable" not in stored_node(shared, "kind-worker2")["spec"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="TLS needs the openssl command")
def test_wrong_token_over_tls_is_unauthorized_and_the_right_one_works(
        start_simulator: Callable[..., Simulator], kubectl: Kubectl, tmp_path: Path) -> None:
    simulator = start_simulator([ClusterSpec("tls-sim", nodes_from=str(KIND_THREE_NODES))], tls=True, token="right")
    assert simulator.url("tls-sim").startswith("https://127.0.0.1:")
    right = simulator.write_kubeconfig(tmp_path / "right")
    config = yaml.safe_load(right.read_text())
    assert config["users"][0]["user"]["token"] == "right"
    config["users"][0]["user"]["token"] = "wrong"
    wrong = tmp_path / "wrong"
    wrong.write_text(yaml.safe_dump(config))

    refused = kubectl("get", "nodes", kubeconfig=wrong)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines()[-1] == (
        "error: You must be logged in to the server (the server has asked for the client to provide credentials)")
    raw = kubectl("get", "--raw", "/api/v1/nodes", kubeconfig=wrong)
    assert raw.returncode == 1
    assert raw.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"

    accepted = kubectl("get", "nodes", kubeconfig=right)
    assert accepted.returncode == 0, accepted.stderr
    assert list(rows_by_name(accepted.stdout)) == ["kind-control-plane", "kind-worker", "kind-worker2"]


# ---------------------------------------------------------------------------- a generated world
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, Path]]:
    """A generated 12-node cluster and its kubeconfig."""
    spec = WorldSpec(name="world", nodes=12, pods_per_node=4, seed=3, unhealthy_share=0.2, cordoned_share=0.2)
    simulator = Simulator([ClusterSpec("world", world=spec)]).start()
    yield simulator, simulator.write_kubeconfig(tmp_path_factory.mktemp("world") / "config")
    simulator.stop()


def test_generated_world_lists_with_the_status_its_objects_call_for(world: tuple[Simulator, Path], kubectl: Kubectl) -> None:
    _, kubectl.kubeconfig = world
    objects = {item["metadata"]["name"]: item for item in json.loads(run_ok(kubectl, "get", "nodes", "-o", "json"))["items"]}
    rows = rows_by_name(run_ok(kubectl, "get", "nodes"))
    assert len(rows) == 12 and list(rows) == sorted(objects)
    for name, node in objects.items():
        assert (rows[name]["STATUS"], rows[name]["ROLES"], rows[name]["VERSION"]) == (
            expected_status(node), expected_roles(node), node["status"]["nodeInfo"]["kubeletVersion"])
    assert any(row["STATUS"] != "Ready" for row in rows.values())


def test_generated_world_describes_a_node_with_its_lease_and_pods(world: tuple[Simulator, Path], kubectl: Kubectl) -> None:
    simulator, kubectl.kubeconfig = world
    store = simulator.cluster("world").store
    node = store.items("nodes")[0].obj["metadata"]["name"]
    lease = store.get("leases", "kube-node-lease", node).obj
    running = [p.obj for p in store.items("pods")
               if p.obj["spec"].get("nodeName") == node and p.obj["status"].get("phase") not in ("Succeeded", "Failed")]
    output = run_ok(kubectl, "describe", "node", node)
    assert re.search(r"^\s+RenewTime:\s+" + re.escape(describe_time(lease["spec"]["renewTime"])) + "$", output, re.M)
    assert f"({len(running)} in total)" in section(output, "Non-terminated Pods")[0]
    for pod in running:
        assert pod["metadata"]["name"] in output
    assert "LastHeartbeatTime" in section(output, "Conditions")[1]


# ---------------------------------------------------------------------------- real dumps
@pytest.mark.parametrize("dump", NODE_DUMPS, ids=[path.stem for path in NODE_DUMPS])
def test_every_real_node_dump_lists_with_the_status_a_real_server_prints(
        dump: Path, start_simulator: Callable[..., Simulator], kubectl: Kubectl, tmp_path: Path) -> None:
    simulator = start_simulator([ClusterSpec("dump", nodes_from=str(dump))])
    kubectl.kubeconfig = simulator.write_kubeconfig(tmp_path / "config")
    expected = {node["metadata"]["name"]: node for node in nodes_in_dump(dump)}

    listed = json.loads(run_ok(kubectl, "get", "nodes", "-o", "json"))
    assert listed["kind"] == "List"
    served = {item["metadata"]["name"]: item for item in listed["items"]}
    assert sorted(served) == sorted(expected)
    for name, node in expected.items():
        assert served[name]["status"].get("conditions") == (node.get("status") or {}).get("conditions")
        assert bool(served[name]["spec"].get("unschedulable")) == bool((node.get("spec") or {}).get("unschedulable"))

    rows = rows_by_name(run_ok(kubectl, "get", "nodes"))
    assert list(rows) == sorted(expected)
    for name, node in expected.items():
        node_info = (node.get("status") or {}).get("nodeInfo") or {}
        assert (rows[name]["STATUS"], rows[name]["ROLES"], rows[name]["VERSION"]) == (
            expected_status(node), expected_roles(node), node_info.get("kubeletVersion") or "")


@pytest.mark.parametrize(("dump", "node", "status"), [
    ("kuberang-vagrant-centos-k8s1.4-list-cordoned-notready.json", "node1", "NotReady,SchedulingDisabled"),
    ("kuberang-vagrant-centos-k8s1.4-list-cordoned-notready.json", "node2", "NotReady"),
    ("openshift3.7-cordoned-nodelist-no-ready-condition-insights-core.json", "master37", "Unknown,SchedulingDisabled"),
    ("openshift-baremetal-notready-unknown-node-issue-identify-must-gather.json", "test", "NotReady"),
    ("kind-node-unreachable-taint-while-ready-gitcd-readme.json", "trishanku-control-plane", "Ready"),
])
def test_known_statuses_of_real_nodes(dump: str, node: str, status: str, start_simulator: Callable[..., Simulator],
                                      kubectl: Kubectl, tmp_path: Path) -> None:
    simulator = start_simulator([ClusterSpec("dump", nodes_from=str(REAL_OBJECTS / dump))])
    kubectl.kubeconfig = simulator.write_kubeconfig(tmp_path / "config")
    assert rows_by_name(run_ok(kubectl, "get", "node", node))[node]["STATUS"] == status
