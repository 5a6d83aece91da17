"""The world generator builds realistic, deterministic clusters; the dump loader reads real dumps.

Covers ``knm_tui.sim.world`` (nodes, leases, DaemonSets, pods, PDBs, events, ``compute_pdb_status``)
and ``knm_tui.sim.fixtures`` over every file in the shared folder of real objects.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import REAL_OBJECTS

from knm_tui.sim.cluster import SimCluster
from knm_tui.sim.fixtures import (
    FixtureError,
    load_leases,
    load_nodes,
    load_objects,
    load_pdbs,
    load_pods,
    split_by_kind,
)
from knm_tui.sim.simulator import ClusterSpec, populate
from knm_tui.sim.store import Store
from knm_tui.sim.world import (
    KUBELET_CONDITION_TYPES,
    NODE_STATUS_UNKNOWN_MESSAGE,
    World,
    WorldSpec,
    build_world,
    compute_pdb_status,
    parse_time,
)

NOW = datetime(2025, 9, 11, 20, 55, 9, tzinfo=timezone.utc)
NOW_EPOCH = NOW.timestamp()
KUBELET_VERSION = re.compile(r"^v1\.3[12]\.\d+")


def world(**overrides) -> World:
    """A world for ``overrides`` on top of a 50-node, 10-pods-per-node spec."""
    fields = {"name": "test", "nodes": 50, "pods_per_node": 10, "seed": 7}
    fields.update(overrides)
    return build_world(WorldSpec(**fields), NOW)


def compact_size(obj: dict) -> int:
    return len(json.dumps(obj, separators=(",", ":")))


def everything(built: World) -> list[dict]:
    return built.nodes + built.pods + built.leases + built.namespaces + built.daemonsets + built.pdbs + built.events


def nodes_by_name(built: World) -> dict[str, dict]:
    return {node["metadata"]["name"]: node for node in built.nodes}


def conditions_of(node: dict) -> dict[str, dict]:
    return {condition["type"]: condition for condition in node["status"]["conditions"]}


def taint_keys(node: dict) -> set[tuple[str, str]]:
    return {(taint["key"], taint["effect"]) for taint in node["spec"].get("taints", [])}


def owner_kind(pod: dict) -> str | None:
    owners = pod["metadata"].get("ownerReferences") or []
    return owners[0]["kind"] if owners else None


# ------------------------------------------------------------------------------ determinism


def test_the_same_spec_and_time_give_the_same_world() -> None:
    first = world(profile="eks", unhealthy_share=0.1, cordoned_share=0.1)
    second = world(profile="eks", unhealthy_share=0.1, cordoned_share=0.1)
    assert json.dumps(everything(first), sort_keys=True) == json.dumps(everything(second), sort_keys=True)


def test_different_seeds_give_different_worlds() -> None:
    first = world(profile="gke", seed=1)
    second = world(profile="gke", seed=2)
    assert {n["metadata"]["name"] for n in first.nodes}.isdisjoint({n["metadata"]["name"] for n in second.nodes})
    assert {p["metadata"]["uid"] for p in first.pods}.isdisjoint({p["metadata"]["uid"] for p in second.pods})


def test_cloud_profile_picks_a_managed_provider_by_seed() -> None:
    flavours = {world(profile="cloud", seed=seed, nodes=3, pods_per_node=3).flavour for seed in range(12)}
    assert flavours <= {"eks", "gke", "aks"}
    assert len(flavours) >= 2


def test_unknown_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown world profile"):
        world(profile="openstack")


# ------------------------------------------------------------------------------ counts and sizes


@pytest.mark.parametrize("profile", ["eks", "gke", "aks", "edge", "staging"])
def test_counts_of_every_kind(profile: str) -> None:
    built = world(profile=profile)
    assert len(built.nodes) == 50
    assert len(built.leases) == 50
    assert {lease["metadata"]["name"] for lease in built.leases} == set(nodes_by_name(built))
    namespaces = {ns["metadata"]["name"] for ns in built.namespaces}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "monitoring"} <= namespaces
    assert len(namespaces) > 5
    scheduled = [pod for pod in built.pods if pod["spec"].get("nodeName")]
    assert 490 <= len(scheduled) <= 510
    per_node = Counter(pod["spec"]["nodeName"] for pod in scheduled)
    assert set(per_node) <= set(nodes_by_name(built))
    assert max(per_node.values()) <= 20
    assert all(pod["metadata"]["namespace"] in namespaces for pod in built.pods)
    for kind in ("Node", "Pod", "Lease", "Namespace", "DaemonSet", "PodDisruptionBudget", "Event"):
        assert any(obj["kind"] == kind for obj in everything(built))
    for obj in everything(built):
        meta = obj["metadata"]
        assert "resourceVersion" not in meta
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", meta["uid"])
        assert parse_time(meta["creationTimestamp"]) <= NOW_EPOCH
        assert obj["apiVersion"]
    keys = [(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]) for obj in everything(built)]
    assert len(keys) == len(set(keys))


def test_a_world_loads_into_a_simulated_cluster() -> None:
    cluster = SimCluster("loaded")
    try:
        populate(cluster, ClusterSpec(name="loaded", world=WorldSpec(name="loaded", nodes=20, pods_per_node=8, seed=3)))
        assert cluster.store.count("nodes") == 20
        assert cluster.store.count("leases") == 20
        assert cluster.store.count("pods") >= 160
        assert cluster.store.count("poddisruptionbudgets") > 0
    finally:
        cluster.close()


@pytest.mark.parametrize("profile", ["eks", "gke", "aks", "edge", "staging"])
def test_nodes_and_pods_have_realistic_sizes(profile: str) -> None:
    built = world(profile=profile, pods_per_node=20)
    node_sizes = [compact_size(node) for node in built.nodes]
    pod_sizes = [compact_size(pod) for pod in built.pods]
    assert 7_500 <= sum(node_sizes) / len(node_sizes) <= 15_000
    assert max(node_sizes) <= 20_000
    assert 2_000 <= sum(pod_sizes) / len(pod_sizes) <= 4_500
    assert min(pod_sizes) >= 1_000 and max(pod_sizes) <= 7_000


def test_images_per_node_follow_the_spec_and_the_kubelet_cap() -> None:
    built = world(profile="eks", images_per_node=(10, 60))
    counts = [len(node["status"]["images"]) for node in built.nodes]
    assert min(counts) >= 10 and max(counts) <= 50
    for node in built.nodes:
        images = node["status"]["images"]
        sizes = [image["sizeBytes"] for image in images]
        assert sizes == sorted(sizes, reverse=True)
        for image in images:
            assert re.fullmatch(r".+@sha256:[0-9a-f]{64}", image["names"][0])
            assert ":" in image["names"][1].rsplit("/", 1)[-1]


def test_no_two_objects_share_a_mutable_part() -> None:
    built = world(profile="aks", nodes=20)
    seen: set[int] = set()

    def walk(value) -> None:
        if isinstance(value, (dict, list)):
            assert id(value) not in seen, "a dict or list is shared between objects"
            seen.add(id(value))
            for child in value.values() if isinstance(value, dict) else value:
                walk(child)

    for obj in everything(built):
        walk(obj)


# ------------------------------------------------------------------------------ nodes


@pytest.mark.parametrize(("profile", "pattern"), [
    ("eks", r"ip-10-\d+-\d+-\d+\.(ec2\.internal|[a-z]+-[a-z]+-\d\.compute\.internal)"),
    ("gke", r"gke-test-[a-z0-9-]+-[0-9a-f]{8}-[a-z0-9]{4}"),
    ("aks", r"aks-[a-z0-9]+-\d{8}-vmss[0-9a-z]{6}"),
])
def test_managed_nodes_have_provider_names_and_labels(profile: str, pattern: str) -> None:
    built = world(profile=profile)
    label_by_provider = {"eks": "topology.k8s.aws/zone-id", "gke": "cloud.google.com/gke-nodepool",
                         "aks": "kubernetes.azure.com/agentpool"}
    for node in built.nodes:
        name = node["metadata"]["name"]
        labels = node["metadata"]["labels"]
        assert re.fullmatch(pattern, name)
        assert labels["kubernetes.io/hostname"] == name
        assert labels["node.kubernetes.io/instance-type"] == labels["beta.kubernetes.io/instance-type"]
        assert labels["topology.kubernetes.io/zone"].startswith(labels["topology.kubernetes.io/region"])
        assert label_by_provider[profile] in labels
        assert "node-role.kubernetes.io/control-plane" not in labels
        info = node["status"]["nodeInfo"]
        assert KUBELET_VERSION.match(info["kubeletVersion"])
        assert info["architecture"] == labels["kubernetes.io/arch"]
        assert info["containerRuntimeVersion"].startswith("containerd://")
        assert node["spec"]["providerID"].split(":")[0] in ("aws", "gce", "azure")
        assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
        address_types = [address["type"] for address in node["status"]["addresses"]]
        assert address_types[0] == "InternalIP" and "Hostname" in address_types
    if profile == "eks":
        assert all("-eks-" in n["status"]["nodeInfo"]["kubeletVersion"] for n in built.nodes)
        assert any("karpenter.sh/nodepool" in n["metadata"]["labels"] or "eks.amazonaws.com/nodegroup"
                   in n["metadata"]["labels"] for n in built.nodes)
    if profile in ("gke", "aks"):
        assert all("NetworkUnavailable" in conditions_of(n) for n in built.nodes)


def test_managed_clusters_have_no_control_plane_nodes() -> None:
    for profile in ("eks", "gke", "aks"):
        built = world(profile=profile, nodes=12)
        assert not any(taint[0] == "node-role.kubernetes.io/control-plane" for n in built.nodes for taint in taint_keys(n))
        assert not any(pod["metadata"].get("annotations", {}).get("kubernetes.io/config.mirror") for pod in built.pods)


def test_self_managed_clusters_have_tainted_control_planes() -> None:
    big = world(profile="staging", nodes=12)
    control_planes = [n for n in big.nodes if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]]
    assert len(control_planes) == 3
    for node in control_planes:
        assert ("node-role.kubernetes.io/control-plane", "NoSchedule") in taint_keys(node)
    workers = [n for n in big.nodes if n not in control_planes]
    assert all("node-role.kubernetes.io/worker" in n["metadata"]["labels"] for n in workers)
    assert not any(("node-role.kubernetes.io/control-plane", "NoSchedule") in taint_keys(n) for n in workers)
    small = world(profile="edge", nodes=5)
    assert sum("node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] for n in small.nodes) == 1
    explicit = world(profile="staging", nodes=12, control_planes=5)
    assert sum("node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] for n in explicit.nodes) == 5


def test_a_single_node_cluster_keeps_its_control_plane_schedulable() -> None:
    built = world(profile="staging", nodes=1, pods_per_node=12)
    node = built.nodes[0]
    assert node["metadata"]["name"] == "test-control-plane"
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert "taints" not in node["spec"]
    assert sum(1 for pod in built.pods if pod["spec"].get("nodeName") == "test-control-plane") == 12


def test_healthy_nodes_heartbeat_within_five_minutes_and_transitions_follow_creation() -> None:
    built = world(profile="aks", npd_share=0.5)
    for node in built.nodes:
        created = parse_time(node["metadata"]["creationTimestamp"])
        conditions = conditions_of(node)
        assert conditions["Ready"]["status"] == "True"
        assert conditions["Ready"]["reason"] == "KubeletReady"
        heartbeat = parse_time(conditions["Ready"]["lastHeartbeatTime"])
        assert NOW_EPOCH - 300 <= heartbeat <= NOW_EPOCH
        for condition in conditions.values():
            assert created <= parse_time(condition["lastTransitionTime"]) <= parse_time(condition["lastHeartbeatTime"])
        for condition_type in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            assert conditions[condition_type]["status"] == "False"
    heartbeats = {conditions_of(n)["Ready"]["lastHeartbeatTime"] for n in built.nodes}
    assert len(heartbeats) > 20
    npd_nodes = [n for n in built.nodes if "KernelDeadlock" in conditions_of(n)]
    assert len(npd_nodes) == 25
    for node in npd_nodes:
        conditions = conditions_of(node)
        assert conditions["KernelDeadlock"] == {**conditions["KernelDeadlock"], "status": "False",
                                                "reason": "KernelHasNoDeadlock"}
        assert conditions["ReadonlyFilesystem"]["status"] == "False"
        assert conditions["FrequentKubeletRestart"]["status"] == "False"


def test_unhealthy_nodes_are_unknown_or_not_ready_like_upstream() -> None:
    built = world(profile="eks", unhealthy_share=0.4)
    leases = {lease["metadata"]["name"]: lease for lease in built.leases}
    unknown = [n for n in built.nodes if conditions_of(n)["Ready"]["status"] == "Unknown"]
    not_ready = [n for n in built.nodes if conditions_of(n)["Ready"]["status"] == "False"]
    assert len(unknown) + len(not_ready) == 20
    assert unknown and not_ready
    for node in unknown:
        conditions = conditions_of(node)
        for condition_type in KUBELET_CONDITION_TYPES:
            condition = conditions[condition_type]
            assert condition["status"] == "Unknown"
            assert condition["reason"] == "NodeStatusUnknown"
            assert condition["message"] == NODE_STATUS_UNKNOWN_MESSAGE
            assert parse_time(condition["lastTransitionTime"]) >= parse_time(condition["lastHeartbeatTime"]) + 50
        taints = {(t["key"], t["effect"]): t for t in node["spec"]["taints"]}
        assert "timeAdded" in taints[("node.kubernetes.io/unreachable", "NoSchedule")]
        assert "timeAdded" in taints[("node.kubernetes.io/unreachable", "NoExecute")]
        renew = parse_time(leases[node["metadata"]["name"]]["spec"]["renewTime"])
        assert renew < NOW_EPOCH - 40
    for node in not_ready:
        ready = conditions_of(node)["Ready"]
        assert ready["reason"] == "KubeletNotReady"
        assert ("node.kubernetes.io/not-ready", "NoSchedule") in taint_keys(node)
    bad_nodes = {n["metadata"]["name"] for n in unknown + not_ready}
    for pod in built.pods:
        if pod["spec"].get("nodeName") in bad_nodes and pod["status"]["phase"] == "Running":
            ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
            assert ready["status"] == "False"


def test_cordoned_and_pressured_nodes() -> None:
    built = world(profile="gke", cordoned_share=0.2, pressure_share=0.2)
    cordoned = [n for n in built.nodes if n["spec"].get("unschedulable")]
    assert len(cordoned) == 10
    for node in cordoned:
        taint = next(t for t in node["spec"]["taints"] if t["key"] == "node.kubernetes.io/unschedulable")
        assert taint["effect"] == "NoSchedule" and parse_time(taint["timeAdded"]) <= NOW_EPOCH
    pressured = [n for n in built.nodes
                 if any(conditions_of(n)[t]["status"] == "True" for t in ("MemoryPressure", "DiskPressure", "PIDPressure"))]
    assert len(pressured) == 10
    reasons = {"KubeletHasInsufficientMemory", "KubeletHasDiskPressure", "KubeletHasInsufficientPID"}
    for node in pressured:
        true = [c for c in node["status"]["conditions"] if c["status"] == "True" and c["type"] != "Ready"]
        assert len(true) == 1 and true[0]["reason"] in reasons
        assert any(t["key"].endswith("-pressure") for t in node["spec"]["taints"])


def test_gpu_nodes_are_tainted_and_only_gpu_pods_land_on_them() -> None:
    built = world(profile="eks", gpu_share=0.2)
    gpu_nodes = {n["metadata"]["name"]: n for n in built.nodes if "nvidia.com/gpu" in n["status"]["capacity"]}
    assert len(gpu_nodes) == 10
    for node in gpu_nodes.values():
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == node["status"]["capacity"]["nvidia.com/gpu"]
        taint = next(t for t in node["spec"]["taints"] if t["key"] == "nvidia.com/gpu")
        assert (taint["value"], taint["effect"]) == ("present", "NoSchedule")
    for pod in built.pods:
        if pod["spec"].get("nodeName") in gpu_nodes:
            tolerations = pod["spec"]["tolerations"]
            assert any(t.get("key") == "nvidia.com/gpu" or ("key" not in t and t["operator"] == "Exists")
                       for t in tolerations)


def test_capacity_and_allocatable_follow_the_instance_type() -> None:
    built = world(profile="eks")
    for node in built.nodes:
        capacity, allocatable = node["status"]["capacity"], node["status"]["allocatable"]
        assert set(capacity) >= {"cpu", "memory", "pods", "ephemeral-storage"}
        cpu_millis = int(allocatable["cpu"].rstrip("m"))
        assert 0.9 * int(capacity["cpu"]) * 1000 < cpu_millis < int(capacity["cpu"]) * 1000
        assert int(allocatable["memory"].rstrip("Ki")) < int(capacity["memory"].rstrip("Ki"))
        assert allocatable["pods"] == capacity["pods"]


# ------------------------------------------------------------------------------ leases and events


def test_leases_are_owned_by_their_node_and_renewed_with_microseconds() -> None:
    built = world(profile="edge")
    nodes = nodes_by_name(built)
    for lease in built.leases:
        name = lease["metadata"]["name"]
        assert lease["apiVersion"] == "coordination.k8s.io/v1"
        assert lease["metadata"]["namespace"] == "kube-node-lease"
        assert lease["spec"]["holderIdentity"] == name
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", lease["spec"]["renewTime"])
        assert NOW_EPOCH - 10 <= parse_time(lease["spec"]["renewTime"]) <= NOW_EPOCH
        owner = lease["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Node", name, nodes[name]["metadata"]["uid"])


def test_node_events_reference_their_node() -> None:
    built = world(profile="staging", unhealthy_share=0.1)
    nodes = nodes_by_name(built)
    reasons = Counter(event["reason"] for event in built.events)
    assert reasons["RegisteredNode"] == 50
    assert reasons["NodeNotReady"] == 5
    for event in built.events:
        involved = event["involvedObject"]
        assert event["metadata"]["namespace"] == "default"
        assert involved["kind"] == "Node" and involved["apiVersion"] == "v1"
        assert involved["uid"] == nodes[involved["name"]]["metadata"]["uid"]
        assert event["type"] in ("Normal", "Warning")
        assert event["count"] >= 1
        assert event["source"]["component"] in ("kubelet", "node-controller")
        assert parse_time(event["firstTimestamp"]) <= parse_time(event["lastTimestamp"]) <= NOW_EPOCH


def test_recently_created_nodes_have_their_start_up_events() -> None:
    built = world(profile="eks", nodes=200, pods_per_node=2)
    recent = [n for n in built.nodes if NOW_EPOCH - parse_time(n["metadata"]["creationTimestamp"]) < 3600]
    assert recent
    for node in recent:
        reasons = {e["reason"] for e in built.events if e["involvedObject"]["name"] == node["metadata"]["name"]}
        assert {"Starting", "NodeHasSufficientMemory", "NodeReady", "RegisteredNode"} <= reasons


# ------------------------------------------------------------------------------ pods and DaemonSets


@pytest.mark.parametrize("profile", ["eks", "edge", "staging"])
def test_daemonset_pods_run_on_every_node_owned_by_their_daemonset(profile: str) -> None:
    built = world(profile=profile, gpu_share=0.1)
    nodes = nodes_by_name(built)
    gpu_nodes = {name for name, n in nodes.items() if "nvidia.com/gpu" in n["status"]["capacity"]}
    assert any("hostPath" in volume for ds in built.daemonsets for volume in ds["spec"]["template"]["spec"]["volumes"])
    for daemonset in built.daemonsets:
        uid = daemonset["metadata"]["uid"]
        pods = [p for p in built.pods
                if any(o["kind"] == "DaemonSet" and o["uid"] == uid for o in p["metadata"].get("ownerReferences", []))]
        expected_nodes = gpu_nodes if daemonset["spec"]["template"]["spec"].get("nodeSelector") else set(nodes)
        assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(expected_nodes)
        assert daemonset["status"]["desiredNumberScheduled"] == len(pods)
        assert daemonset["apiVersion"] == "apps/v1"
        selector = daemonset["spec"]["selector"]["matchLabels"]
        for pod in pods:
            owner = pod["metadata"]["ownerReferences"][0]
            assert (owner["apiVersion"], owner["name"], owner["controller"]) == ("apps/v1", daemonset["metadata"]["name"], True)
            assert pod["metadata"]["namespace"] == daemonset["metadata"]["namespace"]
            assert selector.items() <= pod["metadata"]["labels"].items()
            template_volumes = daemonset["spec"]["template"]["spec"]["volumes"]
            assert [v["name"] for v in pod["spec"]["volumes"] if "hostPath" in v] == [
                v["name"] for v in template_volumes if "hostPath" in v]
            assert pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
                "nodeSelectorTerms"][0]["matchFields"][0]["values"] == [pod["spec"]["nodeName"]]


def test_mirror_pods_run_on_control_planes_only() -> None:
    built = world(profile="staging", nodes=12)
    nodes = nodes_by_name(built)
    control_planes = {name for name, n in nodes.items() if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]}
    mirrors = [p for p in built.pods if "kubernetes.io/config.mirror" in p["metadata"].get("annotations", {})]
    assert len(mirrors) == 4 * len(control_planes) == 12
    for pod in mirrors:
        owner = pod["metadata"]["ownerReferences"][0]
        node = pod["spec"]["nodeName"]
        assert node in control_planes
        assert (owner["kind"], owner["apiVersion"], owner["name"]) == ("Node", "v1", node)
        assert owner["uid"] == nodes[node]["metadata"]["uid"]
        assert pod["metadata"]["name"].endswith("-" + node)
        assert pod["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
        assert pod["metadata"]["labels"]["tier"] == "control-plane"
    assert {p["metadata"]["labels"]["component"] for p in mirrors} == {
        "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


def test_pods_come_in_every_shape_a_drain_meets() -> None:
    built = world(profile="gke", nodes=60, pods_per_node=12)
    pods = built.pods
    phases = Counter(p["status"]["phase"] for p in pods)
    assert phases["Running"] > 600 and phases["Succeeded"] >= 5 and phases["Failed"] >= 2 and phases["Pending"] >= 1
    kinds = Counter(owner_kind(p) for p in pods)
    assert kinds["ReplicaSet"] > 200 and kinds["StatefulSet"] > 0 and kinds["Job"] >= 5 and kinds[None] >= 3
    assert any(any("emptyDir" in v for v in p["spec"].get("volumes", [])) for p in pods if owner_kind(p) == "ReplicaSet")
    for pod in pods:
        if owner_kind(pod) == "Job":
            assert pod["status"]["phase"] in ("Succeeded", "Failed")
            assert pod["spec"]["restartPolicy"] == "Never"
        if pod["status"]["phase"] == "Pending":
            assert "nodeName" not in pod["spec"]
            scheduled = pod["status"]["conditions"][0]
            assert (scheduled["type"], scheduled["status"], scheduled["reason"]) == ("PodScheduled", "False", "Unschedulable")
        else:
            assert pod["spec"]["nodeName"]


def test_pod_fields_are_consistent_with_their_node() -> None:
    built = world(profile="aks")
    nodes = nodes_by_name(built)
    for pod in built.pods:
        spec, status = pod["spec"], pod["status"]
        assert spec["terminationGracePeriodSeconds"] == 30
        assert status["qosClass"] in ("Guaranteed", "Burstable", "BestEffort")
        for container in spec["containers"]:
            assert container["image"] and "resources" in container
        if not spec.get("nodeName"):
            continue
        node = nodes[spec["nodeName"]]
        internal_ip = node["status"]["addresses"][0]["address"]
        assert status["hostIP"] == internal_ip and status["hostIPs"] == [{"ip": internal_ip}]
        if spec.get("hostNetwork"):
            assert status["podIP"] == internal_ip
        else:
            assert status["podIP"] != internal_ip
        assert parse_time(pod["metadata"]["creationTimestamp"]) >= parse_time(node["metadata"]["creationTimestamp"])
        assert parse_time(status["startTime"]) <= NOW_EPOCH
        statuses = {s["name"] for s in status["containerStatuses"]}
        assert statuses == {c["name"] for c in spec["containers"]}
    guaranteed = [p for p in built.pods if p["status"]["qosClass"] == "Guaranteed"]
    for pod in guaranteed:
        for container in pod["spec"]["containers"]:
            resources = container["resources"]
            assert resources["limits"]["cpu"] == resources.get("requests", resources["limits"])["cpu"]


def test_replicaset_pods_share_their_owner_and_hash() -> None:
    built = world(profile="eks")
    by_owner: dict[str, list[dict]] = {}
    for pod in built.pods:
        if owner_kind(pod) == "ReplicaSet" and pod["status"]["phase"] != "Pending":
            by_owner.setdefault(pod["metadata"]["ownerReferences"][0]["uid"], []).append(pod)
    for pods in by_owner.values():
        owners = {p["metadata"]["ownerReferences"][0]["name"] for p in pods}
        hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in pods}
        assert len(owners) == 1 and len(hashes) == 1
        owner = owners.pop()
        assert owner.endswith("-" + hashes.pop())
        assert all(p["metadata"]["name"].startswith(owner + "-") for p in pods)


# ------------------------------------------------------------------------------ PDBs


def test_pdbs_select_app_pods_and_some_allow_no_disruption() -> None:
    built = world(profile="eks", nodes=80)
    assert len(built.pdbs) >= 10
    allowed = [pdb["status"]["disruptionsAllowed"] for pdb in built.pdbs]
    assert 0 in allowed and any(value > 0 for value in allowed)
    for pdb in built.pdbs:
        assert pdb["apiVersion"] == "policy/v1"
        status = pdb["status"]
        assert status["expectedPods"] >= 2
        assert status == compute_pdb_status(pdb, built.pods)
        assert status["conditions"][0]["reason"] == ("SufficientPods" if status["disruptionsAllowed"] else "InsufficientPods")


def test_pdb_blocking_share_controls_how_many_block() -> None:
    none_blocking = world(profile="gke", nodes=80, pdb_blocking_share=0.0)
    all_blocking = world(profile="gke", nodes=80, pdb_blocking_share=1.0)
    assert sum(p["status"]["disruptionsAllowed"] == 0 for p in none_blocking.pdbs) < len(none_blocking.pdbs) / 4
    app_pdbs = [p for p in all_blocking.pdbs if p["metadata"]["name"] != "coredns"]
    assert app_pdbs and all(p["status"]["disruptionsAllowed"] == 0 for p in app_pdbs)


def pod(name: str, labels: dict[str, str], ready: bool = True, terminating: bool = False,
        namespace: str = "shop") -> dict:
    meta: dict = {"name": name, "namespace": namespace, "labels": labels}
    if terminating:
        meta["deletionTimestamp"] = "2025-09-11T21:00:00Z"
    return {"metadata": meta, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def pdb(spec: dict, namespace: str = "shop") -> dict:
    return {"metadata": {"name": "web", "namespace": namespace, "generation": 3},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


WEB = {"app": "web"}


@pytest.mark.parametrize(("spec", "healthy", "expected", "desired", "allowed"), [
    ({"minAvailable": 2}, 3, 3, 2, 1),
    ({"minAvailable": 3}, 3, 3, 3, 0),
    ({"minAvailable": "50%"}, 3, 3, 2, 1),
    ({"minAvailable": "100%"}, 3, 3, 3, 0),
    ({"maxUnavailable": 1}, 3, 3, 2, 1),
    ({"maxUnavailable": 0}, 3, 3, 3, 0),
    ({"maxUnavailable": "25%"}, 5, 5, 3, 2),
    ({"maxUnavailable": "34%"}, 2, 3, 1, 1),
    ({}, 3, 3, 0, 3),
])
def test_compute_pdb_status_arithmetic(spec: dict, healthy: int, expected: int, desired: int, allowed: int) -> None:
    pods = [pod(f"web-{i}", WEB, ready=i < healthy) for i in range(expected)]
    status = compute_pdb_status(pdb(spec), pods, NOW)
    assert (status["currentHealthy"], status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        healthy, expected, desired, allowed)
    assert status["observedGeneration"] == 3
    condition = status["conditions"][0]
    assert condition["type"] == "DisruptionAllowed"
    assert (condition["status"], condition["reason"]) == (
        ("True", "SufficientPods") if allowed else ("False", "InsufficientPods"))
    assert condition["observedGeneration"] == 3 and condition["lastTransitionTime"] == "2025-09-11T20:55:09Z"


def test_compute_pdb_status_counts_only_selected_live_ready_pods() -> None:
    pods = [
        pod("web-0", WEB),
        pod("web-1", WEB, terminating=True),
        pod("web-2", WEB, ready=False),
        pod("web-3", WEB, namespace="other"),
        pod("api-0", {"app": "api"}),
        pod("web-4", {"app": "web", "tier": "front"}),
    ]
    status = compute_pdb_status(pdb({"minAvailable": 1}), pods, NOW)
    assert (status["expectedPods"], status["currentHealthy"], status["disruptionsAllowed"]) == (4, 2, 1)


def test_compute_pdb_status_with_no_pods_allows_nothing() -> None:
    status = compute_pdb_status(pdb({"maxUnavailable": 1}), [], NOW)
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (0, 0, 0)


def test_compute_pdb_status_is_stable_and_moves_transition_time_only_on_change() -> None:
    budget = pdb({"minAvailable": 2})
    pods = [pod("web-0", WEB), pod("web-1", WEB), pod("web-2", WEB)]
    budget["status"] = compute_pdb_status(budget, pods, NOW)
    later = NOW + timedelta(minutes=5)
    again = compute_pdb_status(budget, pods, later)
    assert again == budget["status"]
    assert compute_pdb_status(budget, pods) == budget["status"]
    pods[0] = pod("web-0", WEB, terminating=True)
    changed = compute_pdb_status(budget, pods, later)
    assert changed["disruptionsAllowed"] == 0
    assert changed["conditions"][0]["status"] == "False"
    assert changed["conditions"][0]["lastTransitionTime"] == "2025-09-11T21:00:09Z"
    budget["status"] = changed
    assert compute_pdb_status(budget, pods, later + timedelta(minutes=1)) == changed


# ------------------------------------------------------------------------------ fixtures loader

FIXTURE_FILES = sorted(path for path in REAL_OBJECTS.glob("*.json"))


def test_the_fixture_folder_is_there() -> None:
    assert len(FIXTURE_FILES) >= 28


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: path.name)
def test_every_real_dump_loads(path: Path) -> None:
    objects = load_objects(path)
    assert objects
    for obj in objects:
        assert obj["kind"] in ("Node", "Pod", "Lease", "PodDisruptionBudget")
        assert obj["apiVersion"]
        assert obj["metadata"]["name"]
    groups = split_by_kind(objects)
    loaders = {"Node": load_nodes, "Pod": load_pods, "Lease": load_leases, "PodDisruptionBudget": load_pdbs}
    for kind, members in groups.items():
        loaded = loaders[kind](path)
        assert [o["metadata"]["name"] for o in loaded] == [o["metadata"]["name"] for o in members]
        for obj in loaded:
            assert "resourceVersion" not in obj["metadata"]
            if kind == "Node":
                assert "namespace" not in obj["metadata"]
            else:
                assert obj["metadata"]["namespace"]
            if kind == "PodDisruptionBudget":
                assert obj["apiVersion"] == "policy/v1"


def test_the_real_dumps_hold_the_documented_number_of_objects() -> None:
    totals: Counter[str] = Counter()
    files_with_nodes = 0
    for path in FIXTURE_FILES:
        kinds = Counter(obj["kind"] for obj in load_objects(path))
        totals.update(kinds)
        files_with_nodes += 1 if kinds["Node"] else 0
    assert (totals["Node"], totals["Pod"], totals["Lease"], totals["PodDisruptionBudget"]) == (39, 68, 2, 5)
    assert files_with_nodes == 17


def test_items_without_kind_are_recognised_by_shape() -> None:
    nodes = load_nodes(REAL_OBJECTS / "eks-nodelist-cluster-info-dump.json")
    assert [n["kind"] for n in nodes] == ["Node", "Node"]
    pods = load_pods(REAL_OBJECTS / "eks-podlist-kube-system-cluster-info-dump.json")
    assert len(pods) == 6 and all(p["apiVersion"] == "v1" for p in pods)
    single = load_nodes(REAL_OBJECTS / "gke-preemptible-node-npd-conditions-cost-attribution.json")
    assert single[0]["metadata"]["name"] == "gke-gar-1-pool-1-dce25db1-2mm5"


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty"),
    ("   \n", "empty"),
    ('{"kind": "NodeList", "items": [', "invalid JSON"),
    ("42", "the top level is a number"),
    ('["node-a", "node-b"]', "item 0 is a string"),
    ('{"kind": "NodeList", "items": {"a": 1}}', "'items' is"),
    ('[{"metadata": {"name": "x"}, "spec": {}}]', "cannot tell the kind"),
    ('[{"kind": "Node", "spec": {}}]', "no metadata"),
])
def test_malformed_dumps_raise_a_fixture_error_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken-dump.json"
    path.write_text(content)
    with pytest.raises(FixtureError) as raised:
        load_objects(path)
    assert str(raised.value).startswith("broken-dump.json: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_file_and_missing_kind_raise_fixture_errors(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match=r"^absent\.json: no such file"):
        load_nodes(tmp_path / "absent.json")
    with pytest.raises(FixtureError, match=r"^kind-leases-kube-node-lease-sonobuoy-results\.json: no Node objects found"):
        load_nodes(REAL_OBJECTS / "kind-leases-kube-node-lease-sonobuoy-results.json")


def test_duplicate_names_and_yaml_dumps(tmp_path: Path) -> None:
    duplicate = tmp_path / "twice.json"
    node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1"}, "status": {"nodeInfo": {}}}
    duplicate.write_text(json.dumps([node, node]))
    with pytest.raises(FixtureError, match=r'^twice\.json: two Node objects are named "n1"'):
        load_nodes(duplicate)
    yaml_dump = tmp_path / "nodes.yaml"
    yaml_dump.write_text("apiVersion: v1\nkind: Node\nmetadata:\n  name: y1\n  creationTimestamp: 2024-01-02T03:04:05Z\n"
                         "---\nkind: List\nitems:\n- metadata: {name: y2}\n  status: {nodeInfo: {}}\n")
    nodes = load_nodes(yaml_dump)
    assert [n["metadata"]["name"] for n in nodes] == ["y1", "y2"]
    assert nodes[0]["metadata"]["creationTimestamp"] == "2024-01-02T03:04:05Z"
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("kind: Node\nmetadata: [unclosed\n")
    with pytest.raises(FixtureError, match=r"^broken\.yaml: invalid YAML"):
        load_objects(broken_yaml)


def test_objects_loaded_without_encoding_are_served_as_the_same_bytes() -> None:
    eager, lazy = Store(now=lambda: NOW), Store(now=lambda: NOW)
    for store, encode in ((eager, True), (lazy, False)):
        built = world(pods_per_node=3)
        for resource, objects in (("nodes", built.nodes), ("pods", built.pods)):
            store.load(resource, objects, encode=encode)
    for resource in ("nodes", "pods"):
        lazy_items = lazy.items(resource)
        assert lazy_items and all(item._raw is None for item in lazy_items)
        assert [item.raw for item in lazy_items] == [item.raw for item in eager.items(resource)]
