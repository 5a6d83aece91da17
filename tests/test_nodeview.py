"""Tests for the Node and Lease projections, against real objects and mutated copies of them."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tracemalloc
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knm_tui.kube.leaseview import LeaseProjectionError, LeaseView, project_lease
from knm_tui.kube.nodeview import (
    ANNOTATION_CORDON_REASON,
    ANNOTATION_CORDONED_AT,
    ANNOTATION_CORDONED_BY,
    ANNOTATION_DO_NOT_DISRUPT,
    ANNOTATION_SCALE_DOWN_DISABLED,
    NodeProjectionError,
    NodeView,
    drop_node_images,
    is_problem_condition,
    parse_quantity,
    parse_time,
    project_node,
    project_resources,
)
from conftest import REAL_OBJECTS

FIXTURES = REAL_OBJECTS
UTC = timezone.utc


# --------------------------------------------------------------------------------------------
# Fixture loading: NodeList, `kind: List`, bare JSON array, single object, items without kind


def load_items(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """All objects in a fixture file, with the kind of the list that holds them (if any)."""
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return data["items"], data.get("kind")
    return [data], None


def is_node(item: dict[str, Any], list_kind: str | None) -> bool:
    """Whether an item is a Node: by its kind, else by its list's kind or a ``status.nodeInfo``."""
    kind = item.get("kind")
    if kind:
        return kind == "Node"
    status = item.get("status")
    return list_kind == "NodeList" or (isinstance(status, dict) and "nodeInfo" in status)


def fixture_objects(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(file name, object) for every Node (``kind="Node"``) or Lease in the fixtures."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        items, list_kind = load_items(path)
        for item in items:
            if kind == "Node" and is_node(item, list_kind):
                found.append((path.name, item))
            elif kind == "Lease" and item.get("kind") == "Lease":
                found.append((path.name, item))
    return found


FIXTURE_NODES = fixture_objects("Node")
FIXTURE_LEASES = fixture_objects("Lease")


def fixture_node(name: str) -> dict[str, Any]:
    """A deep copy of the fixture node called ``name``."""
    matches = [obj for _, obj in FIXTURE_NODES if obj["metadata"]["name"] == name]
    assert len(matches) == 1, name
    return copy.deepcopy(matches[0])


def utc(text: str) -> datetime:
    """An independent oracle for second- or microsecond-precision UTC timestamps."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_loader_finds_every_node_the_sources_list() -> None:
    assert len(FIXTURE_NODES) == 39
    assert len({file for file, _ in FIXTURE_NODES}) == 17
    assert len(FIXTURE_LEASES) == 2


# --------------------------------------------------------------------------------------------
# Every real node


# The nodes that are not plain Ready and schedulable: name → (display_status, ready).
NOT_PLAIN_READY = {
    "kind-worker": ("NotReady", "False"),
    "node1": ("NotReady,SchedulingDisabled", "False"),
    "node2": ("NotReady", "False"),
    "node3": ("NotReady", "False"),
    "node4": ("NotReady", "False"),
    "test": ("NotReady", "Unknown"),
    "master37": ("Unknown,SchedulingDisabled", None),
}


@pytest.mark.parametrize(
    "obj", [obj for _, obj in FIXTURE_NODES], ids=[f"{f}:{o['metadata']['name']}" for f, o in FIXTURE_NODES]
)
def test_every_fixture_node_projects_with_the_expected_status_and_times(obj: dict[str, Any]) -> None:
    view = project_node(obj)

    assert view.name == obj["metadata"]["name"]
    assert view.uid == obj["metadata"]["uid"]
    display_status, ready = NOT_PLAIN_READY.get(view.name, ("Ready", "True"))
    assert view.display_status == display_status
    assert view.ready == ready
    assert view.schedulable is not bool(obj.get("spec", {}).get("unschedulable"))
    assert view.created == utc(obj["metadata"]["creationTimestamp"])

    json_conditions = obj["status"].get("conditions", [])
    assert [c.type for c in view.conditions] == [c["type"] for c in json_conditions]
    for condition, source in zip(view.conditions, json_conditions):
        assert condition.status == source["status"]
        for attribute, key in (("last_heartbeat", "lastHeartbeatTime"), ("last_transition", "lastTransitionTime")):
            value = getattr(condition, attribute)
            if source.get(key):
                assert value == utc(source[key])
                assert value.tzinfo is not None
            else:
                assert value is None

    json_taints = obj.get("spec", {}).get("taints", [])
    assert [(t.key, t.effect) for t in view.taints] == [(t["key"], t["effect"]) for t in json_taints]
    for taint, source in zip(view.taints, json_taints):
        assert taint.time_added == (utc(source["timeAdded"]) if source.get("timeAdded") else None)

    assert view.addresses == tuple((a["type"], a["address"]) for a in obj["status"]["addresses"])
    assert dict(view.labels) == obj["metadata"].get("labels", {})
    assert dict(view.capacity.raw) == obj["status"]["capacity"]
    assert dict(view.allocatable.raw) == obj["status"]["allocatable"]
    assert view.kubelet_version == obj["status"]["nodeInfo"]["kubeletVersion"]
    # None of the real nodes carries an annotation the product keeps.
    assert dict(view.annotations) == {}


def test_images_and_managed_fields_are_not_kept() -> None:
    obj = fixture_node("gke-gar-1-pool-1-dce25db1-2mm5")
    obj["metadata"]["managedFields"] = [{"manager": "kubelet-managed-fields-marker", "operation": "Update"}]
    image_name = obj["status"]["images"][0]["names"][0]

    text = repr(project_node(obj))

    assert image_name not in text
    assert "kubelet-managed-fields-marker" not in text


def test_cordoned_k8s_1_4_node_is_not_ready_and_unschedulable() -> None:
    view = project_node(fixture_node("node1"))

    assert (view.status, view.ready, view.schedulable, view.cordoned) == ("NotReady", "False", False, True)
    assert view.ready_condition is not None and view.ready_condition.reason == "KubeletNotReady"
    assert view.internal_ip == "192.168.205.11"  # the first InternalIP, not the LegacyHostIP
    assert view.addresses[0] == ("LegacyHostIP", "192.168.205.11")
    assert view.capacity.cpu_millis == 1000
    assert view.capacity.memory_bytes == 1016860 * 1024
    assert view.capacity.pods == 110
    assert view.capacity.gpus == 0  # alpha.kubernetes.io/nvidia-gpu: "0" is reported, so 0, not None
    assert view.cordon_reason is None


def test_openshift_3_7_node_without_ready_condition_is_unknown() -> None:
    view = project_node(fixture_node("master37"))

    assert (view.status, view.ready, view.ready_condition) == ("Unknown", None, None)
    assert view.display_status == "Unknown,SchedulingDisabled"
    assert view.cordoned
    assert view.roles == ()
    assert view.capacity.cpu_millis == 8000
    assert view.last_heartbeat == utc("2018-02-02T09:46:46Z")


def test_openshift_unreachable_node_keeps_unknown_conditions_and_taint_times() -> None:
    view = project_node(fixture_node("test"))

    assert (view.status, view.ready, view.schedulable) == ("NotReady", "Unknown", True)
    assert [str(t) for t in view.taints] == [
        "node.kubernetes.io/unreachable:NoSchedule",
        "node.kubernetes.io/unreachable:NoExecute",
    ]
    assert [t.time_added for t in view.taints] == [utc("2022-09-26T09:54:54Z"), utc("2022-09-26T09:55:00Z")]
    assert view.last_heartbeat == utc("2022-09-26T09:51:06Z")
    assert view.last_transition == utc("2022-09-26T09:54:54Z")
    assert view.pressure_conditions == ()  # Unknown is not a reported problem
    assert view.roles == ("common", "worker")
    assert view.capacity.cpu_millis == 80_000
    assert view.allocatable.cpu_millis == 74_000
    assert view.capacity.raw["hugepages-1Gi"] == "160Gi"
    assert view.capacity.ephemeral_storage_bytes == 932697068 * 1024


def test_gpu_nodes_count_their_gpus() -> None:
    kurl = project_node(fixture_node("ip-172-31-21-92"))
    rke2 = project_node(fixture_node("nori"))

    assert kurl.capacity.gpus == kurl.allocatable.gpus == 1
    assert rke2.capacity.gpus == 1
    assert len(kurl.labels) == 91
    assert rke2.roles == ("control-plane", "etcd", "master")
    assert kurl.is_control_plane and rke2.is_control_plane
    # EtcdIsVoter=True is a healthy, positive condition, not a problem.
    assert [c.type for c in rke2.conditions if c.status == "True"] == ["EtcdIsVoter", "Ready"]
    assert rke2.pressure_conditions == ()
    assert project_node(fixture_node("gke-gar-1-pool-1-dce25db1-2mm5")).capacity.gpus is None


def test_cloud_labels_become_zone_region_instance_type_and_pool() -> None:
    gke = project_node(fixture_node("gke-gar-1-pool-1-dce25db1-2mm5"))
    eks = project_node(fixture_node("ip-10-0-20-143.ec2.internal"))
    aks = project_node(fixture_node("aks-agentpool-30520393-vmss000001"))
    doks = project_node(fixture_node("biggernode-3i745"))

    # GKE 1.10 only has the beta labels.
    assert (gke.zone, gke.region, gke.instance_type, gke.node_pool) == (
        "us-central1-c", "us-central1", "n1-standard-1", "pool-1",
    )
    assert (gke.internal_ip, gke.external_ip, gke.hostname) == (
        "10.128.0.4", "35.192.99.255", "gke-gar-1-pool-1-dce25db1-2mm5",
    )
    assert gke.allocatable.cpu_millis == 940
    assert gke.provider_id == "gce://managedkube/us-central1-c/gke-gar-1-pool-1-dce25db1-2mm5"
    assert (eks.zone, eks.instance_type, eks.node_pool) == ("us-east-1b", "t3.small", "ecommerce-dev-node-group")
    assert eks.capacity.pods == 11
    assert eks.external_ip == ""
    assert (aks.zone, aks.node_pool, aks.roles) == ("1", "agentpool", ("agent",))
    assert (doks.node_pool, doks.instance_type) == ("biggernode", "g-8vcpu-32gb")


def test_ready_node_with_unreachable_taint_stays_ready() -> None:
    view = project_node(fixture_node("trishanku-control-plane"))

    assert view.status == "Ready"
    assert view.taints[0].key == "node.kubernetes.io/unreachable"
    assert view.taints[0].time_added == utc("2022-07-13T09:39:35Z")
    assert view.resource_version == ""


# --------------------------------------------------------------------------------------------
# Rules on synthetic variations of real nodes


def test_modern_cordon_with_product_annotations() -> None:
    obj = fixture_node("c9b7eea91")
    obj["spec"]["unschedulable"] = True
    obj["spec"]["taints"] = [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2025-09-11T21:00:00Z"}
    ]
    obj["metadata"]["annotations"].update(
        {
            ANNOTATION_CORDON_REASON: "kernel upgrade",
            ANNOTATION_CORDONED_BY: "alice",
            ANNOTATION_CORDONED_AT: "2025-09-11T21:00:00.5+02:00",
            ANNOTATION_SCALE_DOWN_DISABLED: "true",
            ANNOTATION_DO_NOT_DISRUPT: "true",
        }
    )

    view = project_node(obj)

    assert view.display_status == "Ready,SchedulingDisabled"
    assert view.cordoned
    assert (view.cordon_reason, view.cordoned_by) == ("kernel upgrade", "alice")
    assert view.cordoned_at == datetime(2025, 9, 11, 19, 0, 0, 500000, tzinfo=UTC)
    assert set(view.annotations) == {
        ANNOTATION_CORDON_REASON, ANNOTATION_CORDONED_BY, ANNOTATION_CORDONED_AT,
        ANNOTATION_SCALE_DOWN_DISABLED, ANNOTATION_DO_NOT_DISRUPT,
    }  # the k3s.io/* and flannel annotations are dropped
    assert view.taints[0].time_added == utc("2025-09-11T21:00:00Z")


def test_pressure_conditions_follow_the_documented_rule() -> None:
    def condition(kind: str, status: str) -> dict[str, str]:
        return {"type": kind, "status": status, "lastHeartbeatTime": "2024-05-01T10:00:00Z"}

    obj = fixture_node("c9b7eea91")
    obj["status"]["conditions"] = [
        condition("MemoryPressure", "True"),
        condition("DiskPressure", "False"),
        condition("PIDPressure", "Unknown"),
        condition("NetworkUnavailable", "True"),
        condition("KernelDeadlock", "True"),
        condition("FrequentUnregisterNetDevice", "False"),
        condition("EtcdIsVoter", "True"),
        condition("KernelReady", "False"),
        condition("Ready", "False"),
    ]

    view = project_node(obj)

    assert [c.type for c in view.pressure_conditions] == [
        "MemoryPressure", "NetworkUnavailable", "KernelDeadlock", "KernelReady",
    ]
    assert is_problem_condition("EtcdIsVoter", "False")
    assert not is_problem_condition("OutOfDisk", "False") and is_problem_condition("OutOfDisk", "True")


def test_status_follows_kubectl_for_every_ready_value_and_duplicates() -> None:
    obj = fixture_node("c9b7eea91")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    for value, expected in (("True", "Ready"), ("False", "NotReady"), ("Unknown", "NotReady"), ("", "NotReady")):
        ready["status"] = value
        assert (project_node(obj).status, project_node(obj).ready) == (expected, value)
    # kubectl keys conditions by type, so a later duplicate Ready wins.
    obj["status"]["conditions"].append({"type": "Ready", "status": "True", "reason": "Later"})
    view = project_node(obj)
    assert view.status == "Ready"
    assert view.ready_condition is not None and view.ready_condition.reason == "Later"


def test_roles_follow_kubectl() -> None:
    obj = fixture_node("c9b7eea91")
    obj["metadata"]["labels"] = {
        "node-role.kubernetes.io/worker": "anything",
        "node-role.kubernetes.io/": "ignored: no role name",
        "node-role.kubernetes.io/gpu": "",
        "kubernetes.io/role": "infra",
    }
    view = project_node(obj)
    assert view.roles == ("gpu", "infra", "worker")
    assert not view.is_control_plane


def test_label_precedence_and_empty_values() -> None:
    obj = fixture_node("c9b7eea91")
    obj["metadata"]["labels"] = {
        "topology.kubernetes.io/zone": "",
        "failure-domain.beta.kubernetes.io/zone": "old-zone",
        "topology.kubernetes.io/region": "new-region",
        "failure-domain.beta.kubernetes.io/region": "old-region",
        "beta.kubernetes.io/instance-type": "m5.large",
        "karpenter.sh/nodepool": "default",
        "alpha.eksctl.io/nodegroup-name": "ng-1",
    }
    view = project_node(obj)
    assert (view.zone, view.region, view.instance_type) == ("old-zone", "new-region", "m5.large")
    assert view.node_pool == "ng-1"  # eksctl's label comes before Karpenter's
    del obj["metadata"]["labels"]["alpha.eksctl.io/nodegroup-name"]
    assert project_node(obj).node_pool == "default"


def test_views_are_read_only_copies() -> None:
    obj = fixture_node("c9b7eea91")
    view = project_node(obj)
    cpu = obj["status"]["capacity"]["cpu"]
    obj["metadata"]["labels"]["kubernetes.io/hostname"] = "changed"
    obj["status"]["capacity"]["cpu"] = "99"

    assert view.labels["kubernetes.io/hostname"] == "c9b7eea91"
    assert view.capacity.raw["cpu"] == cpu != "99"
    with pytest.raises(TypeError):
        view.labels["new"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        view.name = "other"  # type: ignore[misc]


def test_views_share_repeated_strings_and_resource_sets() -> None:
    first = fixture_node("pool-yd23sqk7u-3i7i7")
    second = copy.deepcopy(first)
    second["metadata"]["name"] = "pool-yd23sqk7u-other"

    a = project_node(json.loads(json.dumps(first)))
    b = project_node(json.loads(json.dumps(second)))

    key = "doks.digitalocean.com/node-pool-id"
    assert next(k for k in a.labels if k == key) is next(k for k in b.labels if k == key)
    assert a.labels[key] is b.labels[key]
    assert a.kubelet_version is b.kubelet_version
    assert a.capacity is b.capacity
    assert a.conditions[0].message is b.conditions[0].message


def test_memory_retained_per_realistic_node_stays_small() -> None:
    base = fixture_node("gke-gar-1-pool-1-dce25db1-2mm5")  # ~10 KB of JSON with 32 images
    payloads = []
    for index in range(400):
        node = copy.deepcopy(base)
        name = f"gke-pool-node-{index:04d}"
        node["metadata"]["name"] = name
        node["metadata"]["uid"] = f"00000000-0000-0000-0000-{index:012d}"
        node["metadata"]["labels"]["kubernetes.io/hostname"] = name
        node["status"]["addresses"] = [
            {"type": "InternalIP", "address": f"10.1.{index // 250}.{index % 250}"},
            {"type": "Hostname", "address": name},
        ]
        for condition in node["status"]["conditions"]:
            condition["lastHeartbeatTime"] = f"2024-01-01T10:{index // 60 % 60:02d}:{index % 60:02d}Z"
        payloads.append(json.dumps(node))

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        views = [project_node(json.loads(payload)) for payload in payloads]
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert len(views) == 400
    # About 2.1 KB per node when measured; keeping images or whole dicts would cost several KB more.
    assert retained / len(views) < 3500


# --------------------------------------------------------------------------------------------
# Malformed objects never raise (except the one documented error)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield path + (key,)
            yield from _paths(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield path + (index,)
            yield from _paths(child, path + (index,))


REPLACEMENTS: tuple[Any, ...] = (None, "x", 7, -2.5, True, [], {}, ["x"], {"x": None}, "0001-01-01T00:00:00Z")
_DELETE = object()
STRING_FIELDS = (
    "name", "uid", "resource_version", "status", "kubelet_version", "internal_ip", "external_ip",
    "hostname", "os_image", "kernel_version", "container_runtime", "architecture", "operating_system",
    "zone", "region", "instance_type", "node_pool", "provider_id",
)


def _assert_well_typed(view: NodeView) -> None:
    for field_name in STRING_FIELDS:
        assert type(getattr(view, field_name)) is str, field_name
    assert view.status in {"Ready", "NotReady", "Unknown"}
    assert isinstance(view.schedulable, bool)
    assert all(type(role) is str for role in view.roles)
    assert all(type(k) is str and type(v) is str for k, v in view.labels.items())
    for resources in (view.capacity, view.allocatable):
        assert all(type(k) is str and type(v) is str for k, v in resources.raw.items())
        for number in (resources.cpu_millis, resources.memory_bytes, resources.pods, resources.gpus):
            assert number is None or type(number) is int
    for condition in view.conditions:
        assert all(type(getattr(condition, f)) is str for f in ("type", "status", "reason", "message"))
        for moment in (condition.last_heartbeat, condition.last_transition):
            assert moment is None or moment.tzinfo is not None
    for taint in view.taints:
        assert type(taint.key) is str and (taint.time_added is None or taint.time_added.tzinfo is not None)
    assert all(type(kind) is str and type(address) is str for kind, address in view.addresses)
    # The helpers must work on whatever came out.
    assert all(isinstance(c.is_problem, bool) for c in view.pressure_conditions)
    for moment in (view.last_heartbeat, view.last_transition, view.cordoned_at):
        assert moment is None or moment.tzinfo is not None
    assert view.display_status.startswith(view.status)
    assert view.cordon_reason is None or type(view.cordon_reason) is str
    assert isinstance(view.is_control_plane, bool)


def _usable_name(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool) and value != ""


@pytest.mark.parametrize("name", ["test", "nori", "node1", "gke-gar-1-pool-1-dce25db1-2mm5"])
def test_every_field_replaced_or_removed_never_raises(name: str) -> None:
    obj = fixture_node(name)
    obj["status"]["images"] = obj["status"].get("images", [])[:1]
    paths = list(_paths(obj))
    assert len(paths) > 60
    for path in paths:
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        original = parent[path[-1]]
        for replacement in REPLACEMENTS + (_DELETE,):
            if replacement is _DELETE:
                if isinstance(parent, list):
                    continue
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
            try:
                if path == ("metadata",) or (path == ("metadata", "name") and not _usable_name(replacement)):
                    with pytest.raises(NodeProjectionError):
                        project_node(obj)
                else:
                    _assert_well_typed(project_node(obj))
            finally:
                parent[path[-1]] = original


@pytest.mark.parametrize(
    "obj",
    [{}, {"metadata": None}, {"metadata": "x"}, {"metadata": {}}, {"metadata": {"name": ""}},
     {"metadata": {"name": None}}, {"metadata": {"name": ["a"]}}, {"metadata": {"name": False}}],
)
def test_objects_without_a_usable_name_raise_one_clear_error(obj: dict[str, Any]) -> None:
    with pytest.raises(NodeProjectionError, match="metadata.name") as caught:
        project_node(obj)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("obj", [None, [], "node", 3])
def test_non_objects_raise_the_same_error(obj: Any) -> None:
    with pytest.raises(NodeProjectionError, match="not a JSON object"):
        project_node(obj)


def test_minimal_node_reports_nothing_it_was_not_told() -> None:
    view = project_node({"metadata": {"name": "bare"}})

    assert (view.name, view.status, view.ready, view.schedulable) == ("bare", "Unknown", None, True)
    assert view.created is None and view.last_heartbeat is None and view.last_transition is None
    assert (view.roles, view.taints, view.conditions, view.addresses) == ((), (), (), ())
    assert (view.capacity.cpu_millis, view.capacity.memory_bytes, view.capacity.gpus) == (None, None, None)
    assert dict(view.labels) == {} and dict(view.annotations) == {}
    assert view.internal_ip == view.zone == view.node_pool == view.kubelet_version == ""


def test_junk_list_entries_are_skipped() -> None:
    obj = fixture_node("c9b7eea91")
    obj["status"]["conditions"] = ["x", None, {"status": "True"}, {"type": "Ready", "status": "True"}]
    obj["spec"]["taints"] = [
        None, {"effect": "NoSchedule"}, {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    ]
    obj["status"]["addresses"] = [{"type": "InternalIP"}, 5, {"type": "InternalIP", "address": "10.0.0.1"}]

    view = project_node(obj)

    assert [(c.type, c.status) for c in view.conditions] == [("Ready", "True")]
    assert [str(t) for t in view.taints] == ["dedicated=gpu:NoSchedule"]
    assert (view.addresses, view.internal_ip) == ((("InternalIP", "10.0.0.1"),), "10.0.0.1")


def test_numbers_where_strings_belong_are_read_as_their_text() -> None:
    obj = fixture_node("c9b7eea91")
    obj["metadata"]["name"] = 12345
    obj["metadata"]["resourceVersion"] = 987
    obj["metadata"]["labels"] = {"rack": 7, "ssd": True, "nested": {"x": 1}}
    obj["status"]["capacity"] = {"cpu": 4, "memory": 1.5e9, "pods": "110"}
    obj["spec"]["unschedulable"] = "true"

    view = project_node(obj)

    assert (view.name, view.resource_version) == ("12345", "987")
    assert dict(view.labels) == {"rack": "7", "ssd": "true"}
    assert (view.capacity.cpu_millis, view.capacity.memory_bytes, view.capacity.pods) == (4000, 1_500_000_000, 110)
    assert view.cordoned


# --------------------------------------------------------------------------------------------
# Quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0"), ("1", "1"), ("+1", "1"), ("-1", "-1"), ("1.", "1"), (".5", "0.5"), ("1.25", "1.25"),
        ("250m", "0.25"), ("1.5m", "0.0015"), ("100n", "0.0000001"), ("5u", "0.000005"),
        ("1k", "1000"), ("2M", "2000000"), ("3G", "3e9"), ("4T", "4e12"), ("5P", "5e15"), ("6E", "6e18"),
        ("1Ki", "1024"), ("1Mi", "1048576"), ("16Gi", "17179869184"), ("1Ti", str(2**40)),
        ("1Pi", str(2**50)), ("1Ei", str(2**60)), ("0.5Ki", "512"), ("1016860Ki", str(1016860 * 1024)),
        ("1e3", "1000"), ("1E3", "1000"), ("1e-3", "0.001"), ("1.5e+2", "150"), ("12e0", "12"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        (110, "110"), (1.5, "1.5"),
    ],
)
def test_parse_quantity_reads_the_upstream_grammar(text: Any, expected: str) -> None:
    assert parse_quantity(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    ["", " ", " 1", "1 ", "Ki", "m", "1KI", "1ki", "1Kib", "1K", "1.2.3", "1e", "1e+", "1e1.5", "0x10", "1_000",
     "NaN", "Infinity", "inf", "1,5", "١", "--1", "1e1001", "1e-1001", "1" * 201, None, True, [], {}, float("nan")],
)
def test_parse_quantity_returns_none_for_garbage(text: Any) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(
    ("capacity", "cpu_millis", "memory_bytes", "pods"),
    [
        ({"cpu": "1.5m", "memory": "1.5", "pods": "0.1"}, 2, 2, 1),  # rounded up like MilliValue/Value
        ({"cpu": "100m"}, 100, None, None),
        ({"cpu": "1n"}, 1, None, None),
        ({"cpu": "2", "memory": "129e6"}, 2000, 129_000_000, None),
        ({"cpu": "-1.5m"}, -2, None, None),  # away from zero, as upstream
        ({"cpu": "lots", "memory": "1Gi"}, None, 2**30, None),
    ],
)
def test_resources_are_scaled_and_rounded_like_upstream(
    capacity: dict[str, str], cpu_millis: int | None, memory_bytes: int | None, pods: int | None
) -> None:
    resources = project_resources(capacity)
    assert (resources.cpu_millis, resources.memory_bytes, resources.pods) == (cpu_millis, memory_bytes, pods)
    assert dict(resources.raw) == capacity


def test_gpus_sum_device_resources_only() -> None:
    resources = project_resources(
        {
            "nvidia.com/gpu": "2",
            "amd.com/gpu": "1",
            "gpu.intel.com/i915": "1",
            "gpu.intel.com/xe": "1",
            "gpu.intel.com/millicores": "1000",  # not a device count
            "gpu.intel.com/memory.max": "16Gi",  # not a device count
            "alpha.kubernetes.io/nvidia-gpu": "1",
            "example.com/fpga": "3",
        }
    )
    assert resources.gpus == 6
    assert project_resources({"nvidia.com/gpu": "broken"}).gpus is None
    assert project_resources({"cpu": "1"}).gpus is None


# --------------------------------------------------------------------------------------------
# Times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-08-31T04:43:11Z", datetime(2019, 8, 31, 4, 43, 11, tzinfo=UTC)),
        ("2019-08-31t04:43:11z", datetime(2019, 8, 31, 4, 43, 11, tzinfo=UTC)),
        ("2025-09-11T20:55:09.139040Z", datetime(2025, 9, 11, 20, 55, 9, 139040, tzinfo=UTC)),
        ("2025-09-11T20:55:09.1Z", datetime(2025, 9, 11, 20, 55, 9, 100000, tzinfo=UTC)),
        ("2025-09-11T20:55:09.123456789Z", datetime(2025, 9, 11, 20, 55, 9, 123456, tzinfo=UTC)),
        ("2025-09-11T22:55:09+02:00", datetime(2025, 9, 11, 20, 55, 9, tzinfo=UTC)),
        ("2025-09-11T18:25:09.999999999-02:30", datetime(2025, 9, 11, 20, 55, 9, 999999, tzinfo=UTC)),
        ("0001-01-01T00:00:01Z", datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_rfc3339(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        None, "", "garbage", 1700000000, True, ["2019-08-31T04:43:11Z"],
        "0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00",  # the zero time means "not set"
        "2019-08-31", "2019-08-31T04:43:11", "2019-08-31 04:43:11Z", "2019-08-31T04:43Z",
        "2019-08-31T04:43:11+0200", "2019-08-31T04:43:11+24:00", "2019-08-31T04:43:11+02:60",
        "2019-13-01T00:00:00Z", "2019-02-30T00:00:00Z", "2019-08-31T24:00:00Z", "2016-12-31T23:59:60Z",
        "0000-01-01T00:00:00Z", "9999-12-31T23:00:00-02:00", "0001-01-01T00:30:00+01:00", "10000-01-01T00:00:00Z",
        "2019-08-31T04:43:11.Z", " 2019-08-31T04:43:11Z", "2019-08-31T04:43:11Z ", "２０１９-08-31T04:43:11Z",
        "2019-08-31T04:43:11." + "1" * 100 + "Z",
    ],
)
def test_parse_time_returns_none_rather_than_a_fake_value(text: Any) -> None:
    assert parse_time(text) is None


# --------------------------------------------------------------------------------------------
# Leases


def test_fixture_leases_project() -> None:
    leases = {lease.node_name: lease for lease in (project_lease(obj) for _, obj in FIXTURE_LEASES)}

    assert leases["c9b7eea91"] == LeaseView(
        node_name="c9b7eea91",
        holder="c9b7eea91",
        renew_time=datetime(2025, 9, 11, 20, 55, 9, 139040, tzinfo=UTC),
        duration_seconds=40,
    )
    kind = leases["kind-control-plane"]
    assert kind.renew_time == datetime(2021, 8, 18, 16, 1, 46, 508799, tzinfo=UTC)
    assert kind.expires_at == datetime(2021, 8, 18, 16, 2, 26, 508799, tzinfo=UTC)
    assert kind.is_expired(datetime(2021, 8, 18, 16, 2, 26, 508798, tzinfo=UTC)) is False
    assert kind.is_expired(datetime(2021, 8, 18, 16, 2, 26, 508799, tzinfo=UTC)) is True


@pytest.mark.parametrize(
    ("spec", "holder", "renew_time", "duration"),
    [
        (None, "", None, None),
        ("x", "", None, None),
        ({"holderIdentity": 5, "renewTime": "soon", "leaseDurationSeconds": "40"}, "", None, None),
        ({"leaseDurationSeconds": True, "renewTime": "2021-08-18T16:01:46Z"}, "", utc("2021-08-18T16:01:46Z"), None),
        ({"leaseDurationSeconds": -1, "holderIdentity": "n"}, "n", None, None),
    ],
)
def test_malformed_leases_never_raise(spec: Any, holder: str, renew_time: datetime | None, duration: None) -> None:
    lease = project_lease({"metadata": {"name": "n"}, "spec": spec})
    assert (lease.holder, lease.renew_time, lease.duration_seconds) == (holder, renew_time, duration)
    assert lease.expires_at is None and lease.is_expired(datetime.now(UTC)) is None


@pytest.mark.parametrize("obj", [None, {}, {"metadata": None}, {"metadata": {"name": ""}}, {"metadata": {"name": []}}])
def test_lease_without_a_name_raises_one_clear_error(obj: Any) -> None:
    with pytest.raises(LeaseProjectionError):
        project_lease(obj)


# --------------------------------------------------------------------------------------------
# Layering


def test_kube_package_does_not_import_textual() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import knm_tui.kube as kube\n"
        "modules = [m.name for m in pkgutil.iter_modules(kube.__path__, 'knm_tui.kube.')]\n"
        "assert 'knm_tui.kube.nodeview' in modules and 'knm_tui.kube.leaseview' in modules, modules\n"
        "for name in modules:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'knm_tui.ui')))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# drop_node_images: image lists cut from raw JSON before parsing


def _without_images(value: Any) -> Any:
    """``value`` with every list under an ``images`` key emptied."""
    if isinstance(value, dict):
        return {key: [] if key == "images" and isinstance(item, list) else _without_images(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_without_images(item) for item in value]
    return value


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@pytest.mark.parametrize("obj", [obj for _, obj in FIXTURE_NODES],
                         ids=[f"{path}:{obj['metadata']['name']}" for path, obj in FIXTURE_NODES])
def test_every_fixture_node_loses_only_its_images(obj: dict[str, Any]) -> None:
    raw = _compact(obj)
    trimmed = drop_node_images(raw)
    assert json.loads(trimmed) == _without_images(obj)
    if obj.get("status", {}).get("images"):
        assert len(trimmed) < len(raw)
        assert b'"images":[]' in trimmed


def test_a_node_list_page_and_a_watch_event_lose_every_image_list() -> None:
    nodes = [copy.deepcopy(obj) for _, obj in FIXTURE_NODES if obj.get("status", {}).get("images")]
    page = {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}, "items": nodes}
    assert json.loads(drop_node_images(_compact(page))) == _without_images(page)
    event = {"type": "MODIFIED", "object": nodes[0]}
    assert json.loads(drop_node_images(_compact(event))) == _without_images(event)


@pytest.mark.parametrize("raw", [
    b'{"status":{"images":[],"volumesAttached":[{"name":"v"}]}}',  # empty: the next }] is not its end
    b'{"status":{"images":[{"names":["a\\"}],"],"sizeBytes":1}]}}',  # an escaped quote before }]
    b'{"metadata":{"labels":{"images":"[{x}]"}}}',  # a label called images
    b'{"status":{"images":[{"names":["a"]}]',  # truncated: no value follows the list
])
def test_image_lists_that_cannot_be_cut_exactly_are_left_alone(raw: bytes) -> None:
    assert drop_node_images(raw) == raw


def test_a_close_inside_a_name_is_skipped_or_leaves_no_json() -> None:
    followed_by_a_letter = b'{"status":{"images":[{"names":["a}]b"],"sizeBytes":1}],"x":1}}'
    assert drop_node_images(followed_by_a_letter) == b'{"status":{"images":[],"x":1}}'
    followed_by_a_comma = b'{"status":{"images":[{"names":["a}],b"],"sizeBytes":1}],"x":1}}'
    with pytest.raises(ValueError):
        json.loads(drop_node_images(followed_by_a_comma))


_IMAGE_NAME = st.text(st.sampled_from('ab:/@.-[]{}}]"\\,'), min_size=0, max_size=12)
_IMAGE = st.fixed_dictionaries({"names": st.lists(_IMAGE_NAME, max_size=3),
                                "sizeBytes": st.integers(min_value=0, max_value=10**10)})
_OTHER = st.recursive(
    st.none() | st.booleans() | st.integers() | _IMAGE_NAME,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_IMAGE_NAME, inner, max_size=3),
    max_leaves=12,
)


def _nodes_with(images: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(st.fixed_dictionaries({"status": st.fixed_dictionaries(
        {"before": _OTHER, "images": images, "after": _OTHER})}), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(_nodes_with(st.lists(_IMAGE, max_size=4)))
def test_trimmed_json_is_the_same_document_without_images(items: list[dict[str, Any]]) -> None:
    """Image lists as the apiserver's schema shapes them, any names, anything around them."""
    page = {"items": items}
    names = [name for item in items for image in item["status"]["images"] for name in image["names"]]
    try:
        parsed = json.loads(drop_node_images(_compact(page)))
    except ValueError:  # only a "}]" inside a name can end a cut inside a string
        assert any("}]" in name for name in names)
        return
    assert _without_images(parsed) == _without_images(page)
    for got, original in zip(parsed["items"], items):
        assert got["status"]["images"] in ([], original["status"]["images"])
        if not any(set(name) & set('"\\') or "}]" in name
                   for image in original["status"]["images"] for name in image["names"]):
            assert got["status"]["images"] == []


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(_nodes_with(st.lists(_OTHER, max_size=4)))
def test_off_schema_image_lists_never_yield_a_different_document(items: list[dict[str, Any]]) -> None:
    """Lists no apiserver would serve: the trimmed text is the same document with image lists
    emptied, or no JSON at all (the caller then parses the original)."""
    page = {"items": items}
    try:
        parsed = json.loads(drop_node_images(_compact(page)))
    except ValueError:
        return
    assert _without_images(parsed) == _without_images(page)


# --------------------------------------------------------------------------------------------
# project_node with the previous version of the node


@pytest.mark.parametrize("obj", [obj for _, obj in FIXTURE_NODES],
                         ids=[f"{path}:{obj['metadata']['name']}" for path, obj in FIXTURE_NODES])
def test_a_new_version_projects_equal_with_or_without_the_previous_view(obj: dict[str, Any]) -> None:
    previous = project_node(obj)
    changed = copy.deepcopy(obj)
    conditions = changed.get("status", {}).get("conditions") or []
    if conditions:
        conditions[-1]["lastHeartbeatTime"] = "2031-01-02T03:04:05Z"
    shared = project_node(changed, previous)
    assert shared == project_node(changed)
    assert shared.labels is previous.labels  # unchanged labels are shared, not rebuilt
    assert all(new is old for new, old in zip(shared.conditions[:-1], previous.conditions[:-1]))
    if conditions and any(c.last_heartbeat for c in previous.conditions[-1:]):
        assert shared.conditions[-1] is not previous.conditions[-1]


def test_every_change_is_seen_through_the_previous_view() -> None:
    base = copy.deepcopy(next(obj for _, obj in FIXTURE_NODES
                              if obj["metadata"].get("labels") and len(obj["status"].get("conditions", [])) > 1))
    previous = project_node(base)
    edits = [
        lambda o: o["metadata"].setdefault("labels", {}).update({"topology.kubernetes.io/zone": "elsewhere"}),
        lambda o: o["metadata"].setdefault("labels", {}).update({"node-role.kubernetes.io/gpu": ""}),
        lambda o: o["metadata"].__setitem__("labels", {"n": 1}),
        lambda o: o["metadata"].pop("labels", None),
        lambda o: o["status"]["conditions"][0].update({"status": "Unknown"}),
        lambda o: o["status"]["conditions"][0].update({"reason": None}),
        lambda o: o["status"]["conditions"][0].pop("message", None),
        lambda o: o["status"]["conditions"][0].update({"lastTransitionTime": "2030-01-01T00:00:00Z"}),
        lambda o: o["status"]["conditions"].insert(0, {"type": "Extra", "status": "True"}),
        lambda o: o["status"]["conditions"].pop(0),
        lambda o: o["status"]["conditions"][0].update({"type": 7}),
    ]
    for edit in edits:
        changed = copy.deepcopy(base)
        edit(changed)
        assert project_node(changed, previous) == project_node(changed)
