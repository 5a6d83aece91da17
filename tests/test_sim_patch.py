"""PATCH bodies in the API simulator: JSON patch, merge patch, strategic merge and apply."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from knm_tui.sim.patch import PatchError, apply_patch

JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
REJECTED = "the server rejected our request due to an error in our request"


def make_node() -> dict[str, Any]:
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": "node-a",
            "resourceVersion": "41",
            "labels": {"kubernetes.io/hostname": "node-a", "pool": "blue"},
            "finalizers": ["a/one"],
        },
        "spec": {
            "podCIDR": "10.244.1.0/24",
            "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
        },
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                },
            ],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "node-a"}],
        },
    }


def make_pod() -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "web-0", "namespace": "default"},
        "spec": {
            "containers": [
                {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "sidecar", "image": "proxy:1"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "config", "configMap": {"name": "cfg"}}],
            "tolerations": [{"key": "a", "operator": "Exists"}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]},
    }


def patch_node(body: Any, content_type: str = STRATEGIC) -> dict[str, Any]:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return apply_patch(make_node(), raw, content_type, "nodes")


def condition_types(obj: dict[str, Any]) -> list[str]:
    return [condition["type"] for condition in obj["status"]["conditions"]]


# ---------------------------------------------------------------------------------------------
# General behaviour
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (JSON_PATCH, b'[{"op":"replace","path":"/status/conditions/0/status","value":"True"}]'),
        (MERGE, b'{"metadata":{"labels":{"pool":null}},"status":{"conditions":[]}}'),
        (STRATEGIC, b'{"status":{"conditions":[{"type":"Ready","status":"False"}]},"spec":{"taints":null}}'),
        (APPLY, b"metadata:\n  labels:\n    pool: green\n"),
    ],
)
def test_the_input_object_is_never_changed(content_type: str, body: bytes) -> None:
    node = make_node()
    untouched = copy.deepcopy(node)
    patched = apply_patch(node, body, content_type, "nodes")
    assert node == untouched
    assert patched != untouched
    patched["metadata"].setdefault("labels", {})["new"] = "x"
    for condition in patched["status"].get("conditions", []):
        condition["status"] = "changed"
    for address in patched["status"]["addresses"]:
        address["address"] = "changed"
    assert node == untouched


def test_content_type_parameters_and_case_are_ignored() -> None:
    patched = patch_node(b'{"spec":{"unschedulable":true}}', "Application/Strategic-Merge-Patch+JSON; charset=utf-8")
    assert patched["spec"]["unschedulable"] is True


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "", "application/yaml"])
def test_unknown_content_types_are_415(content_type: str) -> None:
    with pytest.raises(PatchError) as caught:
        patch_node(b"{}", content_type)
    assert caught.value.code == 415
    assert caught.value.reason == "UnsupportedMediaType"
    assert caught.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
        "application/strategic-merge-patch+json"
    )


@pytest.mark.parametrize("content_type", [MERGE, STRATEGIC, JSON_PATCH])
def test_malformed_json_is_400(content_type: str) -> None:
    with pytest.raises(PatchError) as caught:
        patch_node(b'{"spec": ', content_type)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"


@pytest.mark.parametrize("content_type", [MERGE, STRATEGIC, APPLY])
@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_non_object_bodies_for_merge_types_are_400(content_type: str, body: bytes) -> None:
    with pytest.raises(PatchError) as caught:
        patch_node(body, content_type)
    assert caught.value.code == 400


def test_str_bodies_are_accepted_as_well_as_bytes() -> None:
    assert patch_node('{"metadata":{"labels":{"pool":"red"}}}', MERGE)["metadata"]["labels"]["pool"] == "red"


# ---------------------------------------------------------------------------------------------
# JSON patch (RFC 6902)
# ---------------------------------------------------------------------------------------------


def test_json_patch_operations_apply_in_order() -> None:
    patched = patch_node(
        [
            {"op": "add", "path": "/metadata/labels/node-role.kubernetes.io~1worker", "value": ""},
            {"op": "replace", "path": "/metadata/labels/pool", "value": "green"},
            {"op": "remove", "path": "/spec/podCIDR"},
            {"op": "add", "path": "/spec/taints/-", "value": {"key": "x", "effect": "NoExecute"}},
            {"op": "add", "path": "/spec/taints/0", "value": {"key": "first", "effect": "NoSchedule"}},
            {"op": "copy", "from": "/metadata/labels/pool", "path": "/metadata/annotations"},
            {"op": "move", "from": "/metadata/finalizers", "path": "/metadata/oldFinalizers"},
            {"op": "test", "path": "/metadata/labels/pool", "value": "green"},
            {"op": "add", "path": "/metadata/labels/tilde~0key", "value": "t"},
        ],
        JSON_PATCH,
    )
    assert patched["metadata"]["labels"] == {
        "kubernetes.io/hostname": "node-a",
        "pool": "green",
        "node-role.kubernetes.io/worker": "",
        "tilde~key": "t",
    }
    assert "podCIDR" not in patched["spec"]
    assert [taint["key"] for taint in patched["spec"]["taints"]] == ["first", "dedicated", "x"]
    assert patched["metadata"]["annotations"] == "green"
    assert patched["metadata"]["oldFinalizers"] == ["a/one"]
    assert "finalizers" not in patched["metadata"]


def test_json_patch_test_compares_json_values() -> None:
    node = make_node()
    node["spec"]["count"] = 1
    patched = apply_patch(
        node, json.dumps([{"op": "test", "path": "/spec/count", "value": 1.0}]), JSON_PATCH, "nodes"
    )
    assert patched == node
    with pytest.raises(PatchError):
        apply_patch(node, json.dumps([{"op": "test", "path": "/spec/count", "value": True}]), JSON_PATCH, "nodes")


def test_failed_json_patch_test_is_422_with_the_detail_as_a_cause() -> None:
    with pytest.raises(PatchError) as caught:
        patch_node([{"op": "test", "path": "/metadata/resourceVersion", "value": "7"}], JSON_PATCH)
    error = caught.value
    assert (error.code, error.reason, error.message) == (422, "Invalid", REJECTED)
    assert error.causes == [
        {"reason": "UnexpectedServerResponse", "message": "testing value /metadata/resourceVersion failed: test failed"}
    ]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "/metadata/annotations"},
        {"op": "replace", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/x", "value": "y"},
        {"op": "remove", "path": "/spec/taints/5"},
        {"op": "add", "path": "/spec/taints/7", "value": {}},
        {"op": "add", "path": "/spec/taints/01", "value": {}},
        {"op": "move", "from": "/nope", "path": "/spec/x"},
        {"op": "copy", "from": "/nope", "path": "/spec/x"},
        {"op": "move", "from": "/spec", "path": "/spec/inner"},
        {"op": "frobnicate", "path": "/spec"},
        {"path": "/spec"},
        {"op": "add", "path": "spec", "value": 1},
    ],
)
def test_json_patch_operations_that_do_not_apply_are_422(operation: dict[str, Any]) -> None:
    with pytest.raises(PatchError) as caught:
        patch_node([operation], JSON_PATCH)
    assert caught.value.code == 422
    assert caught.value.message == REJECTED
    assert caught.value.causes and caught.value.causes[0]["message"]


@pytest.mark.parametrize(("body", "kind"), [(b'{"op":"add"}', "object"), (b'"x"', "string"), (b"[1]", "number")])
def test_json_patch_body_that_is_not_a_list_of_operations_is_400(body: bytes, kind: str) -> None:
    with pytest.raises(PatchError) as caught:
        patch_node(body, JSON_PATCH)
    assert caught.value.code == 400
    assert f"cannot unmarshal {kind}" in caught.value.message


def test_json_patch_replacing_the_root_with_a_non_object_is_rejected() -> None:
    with pytest.raises(PatchError) as caught:
        patch_node([{"op": "replace", "path": "", "value": [1]}], JSON_PATCH)
    assert caught.value.code == 422


def test_json_patch_can_replace_the_whole_document() -> None:
    patched = patch_node([{"op": "replace", "path": "", "value": {"metadata": {"name": "other"}}}], JSON_PATCH)
    assert patched == {"metadata": {"name": "other"}}


def test_empty_json_patch_changes_nothing() -> None:
    assert patch_node([], JSON_PATCH) == make_node()


# ---------------------------------------------------------------------------------------------
# Merge patch (RFC 7386)
# ---------------------------------------------------------------------------------------------


def test_merge_patch_sets_and_deletes_keys_kubectl_label_style() -> None:
    patched = patch_node({"metadata": {"labels": {"pool": None, "env": "prod"}}}, MERGE)
    assert patched["metadata"]["labels"] == {"kubernetes.io/hostname": "node-a", "env": "prod"}
    assert patched["metadata"]["name"] == "node-a"


def test_merge_patch_replaces_lists_whole_even_merge_lists() -> None:
    patched = patch_node({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, MERGE)
    assert patched["status"]["conditions"] == [{"type": "Ready", "status": "False"}]


def test_merge_patch_drops_nulls_inside_new_objects() -> None:
    patched = patch_node({"metadata": {"annotations": {"a": "1", "b": None}}}, MERGE)
    assert patched["metadata"]["annotations"] == {"a": "1"}


# ---------------------------------------------------------------------------------------------
# Strategic merge patch
# ---------------------------------------------------------------------------------------------


def test_kubectl_cordon_and_uncordon_bodies() -> None:
    cordoned = patch_node({"spec": {"unschedulable": True}})
    assert cordoned["spec"]["unschedulable"] is True
    assert cordoned["spec"]["taints"] == make_node()["spec"]["taints"]
    uncordoned = apply_patch(cordoned, json.dumps({"spec": {"unschedulable": None}}), STRATEGIC, "nodes")
    assert "unschedulable" not in uncordoned["spec"]


def test_taints_are_replaced_whole_and_null_removes_them() -> None:
    patched = patch_node({"spec": {"taints": [{"key": "new", "effect": "NoExecute"}]}})
    assert patched["spec"]["taints"] == [{"key": "new", "effect": "NoExecute"}]
    assert "taints" not in patch_node({"spec": {"taints": None}})["spec"]


def test_node_conditions_merge_by_type_keeping_other_fields() -> None:
    not_ready = {"type": "Ready", "status": "False", "reason": "KubeletNotReady"}
    patched = patch_node({"status": {"conditions": [not_ready]}})
    assert condition_types(patched) == ["MemoryPressure", "DiskPressure", "Ready"]
    ready = patched["status"]["conditions"][2]
    assert ready == {
        "type": "Ready",
        "status": "False",
        "reason": "KubeletNotReady",
        "message": "kubelet is posting ready status",
    }


def test_node_addresses_merge_by_type() -> None:
    patched = patch_node({"status": {"addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}]}})
    assert {a["type"]: a["address"] for a in patched["status"]["addresses"]} == {
        "InternalIP": "10.0.0.5",
        "Hostname": "node-a",
        "ExternalIP": "1.2.3.4",
    }


def test_new_merge_list_items_go_before_the_live_items_like_upstream() -> None:
    patched = patch_node({"status": {"conditions": [{"type": "KernelDeadlock", "status": "False"}]}})
    assert condition_types(patched) == ["KernelDeadlock", "MemoryPressure", "DiskPressure", "Ready"]


def test_kubelet_status_patch_with_set_element_order() -> None:
    patched = patch_node(
        {
            "status": {
                "$setElementOrder/conditions": [
                    {"type": "MemoryPressure"},
                    {"type": "DiskPressure"},
                    {"type": "PIDPressure"},
                    {"type": "Ready"},
                ],
                "conditions": [
                    {"type": "PIDPressure", "status": "False"},
                    {"type": "Ready", "lastHeartbeatTime": "2025-01-01T00:05:00Z"},
                ],
            }
        }
    )
    assert condition_types(patched) == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert patched["status"]["conditions"][3]["lastHeartbeatTime"] == "2025-01-01T00:05:00Z"
    assert patched["status"]["conditions"][3]["status"] == "True"
    assert not any(key.startswith("$") for key in patched["status"])


def test_set_element_order_alone_reorders_a_list() -> None:
    patched = patch_node(
        {
            "status": {
                "$setElementOrder/conditions": [{"type": "Ready"}, {"type": "DiskPressure"}, {"type": "MemoryPressure"}]
            }
        }
    )
    assert condition_types(patched) == ["Ready", "DiskPressure", "MemoryPressure"]


def test_patch_delete_directive_removes_a_list_item() -> None:
    patched = patch_node({"status": {"conditions": [{"type": "DiskPressure", "$patch": "delete"}]}})
    assert condition_types(patched) == ["MemoryPressure", "Ready"]


def test_patch_replace_directive_replaces_a_merge_list() -> None:
    patched = patch_node({"status": {"conditions": [{"$patch": "replace"}, {"type": "Ready", "status": "Unknown"}]}})
    assert patched["status"]["conditions"] == [{"type": "Ready", "status": "Unknown"}]


def test_patch_replace_directive_replaces_a_map() -> None:
    patched = patch_node({"metadata": {"labels": {"$patch": "replace", "only": "this"}}})
    assert patched["metadata"]["labels"] == {"only": "this"}


def test_patch_delete_directive_empties_a_map() -> None:
    assert patch_node({"metadata": {"labels": {"$patch": "delete"}}})["metadata"]["labels"] == {}


def test_merge_list_item_without_its_merge_key_is_rejected() -> None:
    with pytest.raises(PatchError) as caught:
        patch_node({"status": {"conditions": [{"status": "False"}]}})
    assert caught.value.code == 422
    assert "does not contain declared merge key: type" in caught.value.causes[0]["message"]


def test_unknown_patch_directive_is_rejected() -> None:
    with pytest.raises(PatchError) as caught:
        patch_node({"status": {"conditions": [{"type": "Ready", "$patch": "bogus"}]}})
    assert caught.value.code == 422


def test_finalizers_merge_as_a_set_and_can_be_deleted_from() -> None:
    added = patch_node({"metadata": {"finalizers": ["b/two", "a/one"]}})
    assert sorted(added["metadata"]["finalizers"]) == ["a/one", "b/two"]
    removed = apply_patch(
        added, json.dumps({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/one"]}}), STRATEGIC, "nodes"
    )
    assert removed["metadata"]["finalizers"] == ["b/two"]
    assert not any(key.startswith("$") for key in removed["metadata"])


def test_retain_keys_directive_does_not_leak_into_the_object() -> None:
    pod = make_pod()
    patched = apply_patch(
        pod,
        json.dumps(
            {"spec": {"volumes": [{"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}}
        ),
        STRATEGIC,
        "pods",
    )
    data = next(volume for volume in patched["spec"]["volumes"] if volume["name"] == "data")
    assert data == {"name": "data", "hostPath": {"path": "/x"}}


def test_pod_containers_merge_by_name_and_env_by_name() -> None:
    patched = apply_patch(
        make_pod(),
        json.dumps({"spec": {"containers": [{"name": "app", "image": "app:2", "env": [{"name": "B", "value": "3"}]}]}}),
        STRATEGIC,
        "pods",
    )
    containers = {container["name"]: container for container in patched["spec"]["containers"]}
    assert containers["app"]["image"] == "app:2"
    assert containers["sidecar"]["image"] == "proxy:1"
    assert containers["app"]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]


def test_pod_volumes_merge_by_name_and_tolerations_are_replaced() -> None:
    patched = apply_patch(
        make_pod(),
        json.dumps(
            {
                "spec": {
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                    "tolerations": [{"key": "b", "operator": "Exists"}],
                }
            }
        ),
        STRATEGIC,
        "pods",
    )
    assert sorted(volume["name"] for volume in patched["spec"]["volumes"]) == ["cache", "config", "data"]
    assert patched["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_pod_status_conditions_merge_by_type() -> None:
    body = json.dumps({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    patched = apply_patch(make_pod(), body, STRATEGIC, "pods/status")
    assert patched["status"]["conditions"] == [
        {"type": "Ready", "status": "False"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_other_resources_replace_lists_but_merge_maps() -> None:
    pdb = {
        "metadata": {"name": "p"},
        "spec": {"selector": {"matchLabels": {"a": "1"}}},
        "status": {"conditions": [{"type": "X"}]},
    }
    patched = apply_patch(
        pdb,
        json.dumps({"spec": {"selector": {"matchLabels": {"b": "2"}}}, "status": {"conditions": [{"type": "Y"}]}}),
        STRATEGIC,
        "poddisruptionbudgets",
    )
    assert patched["spec"]["selector"]["matchLabels"] == {"a": "1", "b": "2"}
    assert patched["status"]["conditions"] == [{"type": "Y"}]


# ---------------------------------------------------------------------------------------------
# Apply (simulated as a merge patch)
# ---------------------------------------------------------------------------------------------


def test_apply_yaml_is_merged_and_keeps_timestamps_as_strings() -> None:
    body = (
        b"apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n"
        b"  annotations:\n    seen: 2025-01-01T00:00:00Z\n  labels:\n    pool: null\n"
    )
    patched = patch_node(body, APPLY)
    assert patched["metadata"]["annotations"] == {"seen": "2025-01-01T00:00:00Z"}
    assert "pool" not in patched["metadata"]["labels"]
    assert patched["status"] == make_node()["status"]


def test_apply_accepts_json_bodies() -> None:
    assert patch_node(b'{"spec":{"unschedulable":true}}', APPLY)["spec"]["unschedulable"] is True


def test_apply_with_malformed_yaml_is_400() -> None:
    with pytest.raises(PatchError) as caught:
        patch_node(b"metadata: [unclosed", APPLY)
    assert caught.value.code == 400
