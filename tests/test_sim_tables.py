"""Server-side printing (meta.k8s.io/v1 Table) in the API simulator matches kube-apiserver 1.32."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from knm_tui.sim.tables import (
    NODE_COLUMNS,
    POD_COLUMNS,
    build_table,
    human_duration,
    node_row_cells,
    pod_row_cells,
)
from conftest import REAL_OBJECTS, real_objects as load_objects

FIXTURES = REAL_OBJECTS
NOW = datetime(2026, 1, 3, 0, 0, 0, tzinfo=timezone.utc)
AKS_NODES = "aks-nodelist-3nodes-sanitized-no-images-edge-cloud-platform.json"
AWS_NODES = "aws-k8s1.7-nodelist-50images-sonobuoy-results-0.8.json"


def by_name(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["metadata"]["name"] == name)


def created_at(obj: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))


def pod(name: str = "p", **status: Any) -> dict[str, Any]:
    """A one-container pod created an hour before NOW with the given status fields."""
    return {
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-01-02T23:00:00Z"},
        "spec": {"containers": [{"name": "app"}], "nodeName": "node-a"},
        "status": status,
    }


def container(ready: bool = False, **state: Any) -> dict[str, Any]:
    return {"name": "app", "ready": ready, "restartCount": 0, "state": state}


# ---------------------------------------------------------------------------------------------
# Column definitions
# ---------------------------------------------------------------------------------------------


def test_node_columns_match_upstream() -> None:
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in NODE_COLUMNS] == [
        ("Name", "string", "name", 0),
        ("Status", "string", "", 0),
        ("Roles", "string", "", 0),
        ("Age", "string", "", 0),
        ("Version", "string", "", 0),
        ("Internal-IP", "string", "", 1),
        ("External-IP", "string", "", 1),
        ("OS-Image", "string", "", 1),
        ("Kernel-Version", "string", "", 1),
        ("Container-Runtime", "string", "", 1),
    ]
    assert NODE_COLUMNS[1]["description"] == "The status of the node"
    assert NODE_COLUMNS[4]["description"] == "Kubelet Version reported by the node."


def test_pod_columns_match_upstream() -> None:
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in POD_COLUMNS] == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        ("Age", "string", "", 0),
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ]
    assert POD_COLUMNS[1]["description"] == "The aggregate readiness state of this pod for accepting traffic."


def test_every_column_definition_has_exactly_the_five_upstream_fields() -> None:
    for column in NODE_COLUMNS + POD_COLUMNS:
        assert set(column) == {"name", "type", "format", "description", "priority"}
        assert column["description"]
    age = next(column for column in NODE_COLUMNS if column["name"] == "Age")
    assert "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system." in age["description"]


# ---------------------------------------------------------------------------------------------
# HumanDuration
# ---------------------------------------------------------------------------------------------

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (45.9, "45s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (9 * MINUTE + 59, "9m59s"),
        (10 * MINUTE + 30, "10m"),
        (45 * MINUTE, "45m"),
        (3 * HOUR - 1, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 12 * MINUTE, "3h12m"),
        (8 * HOUR + 59 * MINUTE, "8h"),
        (47 * HOUR, "47h"),
        (2 * DAY, "2d"),
        (5 * DAY + 3 * HOUR, "5d3h"),
        (8 * DAY + 5 * HOUR, "8d"),
        (729 * DAY, "729d"),
        (2 * YEAR, "2y"),
        (3 * YEAR + 120 * DAY, "3y120d"),
        (8 * YEAR + 100 * DAY, "8y"),
    ],
)
def test_human_duration_matches_upstream(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


# ---------------------------------------------------------------------------------------------
# Node rows from real objects
# ---------------------------------------------------------------------------------------------


def test_cordoned_not_ready_k8s_1_4_node() -> None:
    nodes = load_objects("kuberang-vagrant-centos-k8s1.4-list-cordoned-notready.json")
    node1 = by_name(nodes, "node1")
    assert node_row_cells(node1, created_at(node1) + timedelta(days=5, hours=3)) == [
        "node1",
        "NotReady,SchedulingDisabled",
        "<none>",
        "5d3h",
        "v1.4.3",
        "192.168.205.11",
        "<none>",
        "CentOS Linux 7 (Core)",
        "3.10.0-327.22.2.el7.x86_64",
        "docker://1.11.2",
    ]
    assert node_row_cells(by_name(nodes, "node2"), NOW)[1] == "NotReady"


def test_openshift_3_7_node_without_ready_condition_is_unknown() -> None:
    node = load_objects("openshift3.7-cordoned-nodelist-no-ready-condition-insights-core.json")[0]
    cells = node_row_cells(node, NOW)
    assert cells[:3] == ["master37", "Unknown,SchedulingDisabled", "<none>"]


def test_node_with_unknown_ready_condition_is_not_ready() -> None:
    node = load_objects("openshift-baremetal-notready-unknown-node-issue-identify-must-gather.json")[0]
    assert node_row_cells(node, NOW)[1:3] == ["NotReady", "common,worker"]


@pytest.mark.parametrize(
    ("fixture", "name", "roles"),
    [
        ("minikube-node-k9s.json", "minikube", "master"),
        ("k3s-nodelist-troubleshoot-bundle.json", "c9b7eea91", "control-plane,master"),
        ("rke2-gpu-node-85labels-etcdisvoter-edge-cloud-platform.json", "nori", "control-plane,etcd,master"),
        (AKS_NODES, "aks-agentpool-30520393-vmss000000", "agent"),
        (AWS_NODES, "ip-10-0-19-88.us-west-2.compute.internal", "master"),
        (AWS_NODES, "ip-10-0-15-53.us-west-2.compute.internal", "<none>"),
        ("eks-nodelist-cluster-info-dump.json", "ip-10-0-10-170.ec2.internal", "<none>"),
    ],
)
def test_node_roles_from_real_labels(fixture: str, name: str, roles: str) -> None:
    node = by_name(load_objects(fixture), name)
    cells = node_row_cells(node, NOW)
    assert cells[0] == name
    assert cells[1] == "Ready"
    assert cells[2] == roles


def test_legacy_role_label_counts_as_a_role() -> None:
    node = {"metadata": {"name": "n", "labels": {"kubernetes.io/role": "edge", "node-role.kubernetes.io/": ""}}}
    assert node_row_cells(node, NOW)[2] == "edge"


def test_node_addresses_and_system_info_for_wide_output() -> None:
    gke = load_objects("gke-preemptible-node-npd-conditions-cost-attribution.json")[0]
    cells = node_row_cells(gke, NOW)
    assert cells[4:] == [
        "v1.10.7-gke.2",
        "10.128.0.4",
        "35.192.99.255",
        "Container-Optimized OS from Google",
        "4.14.56+",
        "docker://17.3.2",
    ]
    eks = by_name(load_objects("eks-nodelist-cluster-info-dump.json"), "ip-10-0-20-143.ec2.internal")
    assert node_row_cells(eks, NOW)[5:7] == ["10.0.20.143", "<none>"]


def test_node_with_missing_fields_prints_placeholders() -> None:
    assert node_row_cells({"metadata": {"name": "bare"}}, NOW) == [
        "bare",
        "Unknown",
        "<none>",
        "<unknown>",
        "",
        "<none>",
        "<none>",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]


def test_node_age_uses_the_given_clock() -> None:
    node = load_objects("minikube-node-k9s.json")[0]
    assert node_row_cells(node, created_at(node) + timedelta(minutes=45))[3] == "45m"
    assert node_row_cells(node, created_at(node) + timedelta(days=3 * 365 + 120))[3] == "3y120d"


def test_naive_clock_is_taken_as_utc() -> None:
    node = load_objects("minikube-node-k9s.json")[0]
    naive = (created_at(node) + timedelta(hours=2, minutes=5)).replace(tzinfo=None)
    assert node_row_cells(node, naive)[3] == "125m"


# ---------------------------------------------------------------------------------------------
# Pod rows
# ---------------------------------------------------------------------------------------------


def test_running_real_pods() -> None:
    pods = load_objects("eks-podlist-kube-system-cluster-info-dump.json")
    aws_node = by_name(pods, "aws-node-9t64t")
    assert pod_row_cells(aws_node, created_at(aws_node) + timedelta(hours=3, minutes=57)) == [
        "aws-node-9t64t",
        "2/2",
        "Running",
        "0",
        "3h57m",
        "10.0.10.170",
        "ip-10-0-10-170.ec2.internal",
        "<none>",
        "<none>",
    ]


def test_succeeded_real_pod_is_completed() -> None:
    pods = load_objects("k3s-podlist-kube-system-troubleshoot-bundle.json")
    cells = pod_row_cells(by_name(pods, "helm-install-traefik-vdfpr"), NOW)
    assert cells[1:4] == ["0/1", "Completed", "2"]


def test_restarts_show_when_the_last_container_restarted() -> None:
    pods = load_objects("kind-pods-kube-system-mirror-daemonset-sonobuoy-results.json")
    coredns = by_name(pods, "coredns-558bd4d5db-gv559")
    finished = datetime(2021, 8, 16, 17, 18, 52, tzinfo=timezone.utc)
    assert pod_row_cells(coredns, finished + timedelta(minutes=45))[3] == "2 (45m ago)"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"phase": "Pending"}, "Pending"),
        ({"phase": "Pending", "containerStatuses": [container(waiting={"reason": "ContainerCreating"})]},
         "ContainerCreating"),
        ({"phase": "Running", "containerStatuses": [container(waiting={"reason": "CrashLoopBackOff"})]},
         "CrashLoopBackOff"),
        ({"phase": "Failed", "containerStatuses": [container(terminated={"exitCode": 1, "reason": "Error"})]}, "Error"),
        ({"phase": "Failed", "containerStatuses": [container(terminated={"exitCode": 3})]}, "ExitCode:3"),
        ({"phase": "Failed", "containerStatuses": [container(terminated={"exitCode": 137, "signal": 9})]}, "Signal:9"),
        ({"phase": "Failed", "reason": "Evicted"}, "Evicted"),
        ({"phase": "Succeeded", "containerStatuses": [container(terminated={"exitCode": 0, "reason": "Completed"})]},
         "Completed"),
        ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]},
         "SchedulingGated"),
    ],
)
def test_pod_status_reason(status: dict[str, Any], expected: str) -> None:
    assert pod_row_cells(pod(**status), NOW)[2] == expected


def test_completed_container_with_a_running_sibling_shows_running_or_not_ready() -> None:
    spec_pod = pod(
        phase="Running",
        containerStatuses=[
            {
                "name": "done",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            },
            {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}},
        ],
    )
    spec_pod["spec"]["containers"].append({"name": "done"})
    assert pod_row_cells(spec_pod, NOW)[1:3] == ["1/2", "NotReady"]
    spec_pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert pod_row_cells(spec_pod, NOW)[2] == "Running"


def test_init_containers_status() -> None:
    init_status = {"name": "init", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
    waiting_pod = pod(phase="Pending", initContainerStatuses=[init_status])
    waiting_pod["spec"]["initContainers"] = [{"name": "init"}]
    assert pod_row_cells(waiting_pod, NOW)[2] == "Init:0/1"

    crashing = copy.deepcopy(waiting_pod)
    crashing["status"]["initContainerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    crashing["status"]["initContainerStatuses"][0]["restartCount"] = 4
    assert pod_row_cells(crashing, NOW)[2:4] == ["Init:CrashLoopBackOff", "4"]

    failed = copy.deepcopy(waiting_pod)
    failed["status"]["initContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 2}}
    assert pod_row_cells(failed, NOW)[2] == "Init:ExitCode:2"


def test_restartable_init_container_counts_as_a_container() -> None:
    sidecar_pod = pod(
        phase="Running",
        conditions=[{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
        initContainerStatuses=[
            {"name": "proxy", "ready": True, "started": True, "restartCount": 1, "state": {"running": {}}}
        ],
        containerStatuses=[container(ready=True, running={})],
    )
    sidecar_pod["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always"}]
    assert pod_row_cells(sidecar_pod, NOW)[1:4] == ["2/2", "Running", "1"]


def test_deleting_pods_show_terminating_or_unknown() -> None:
    deleting = pod(phase="Running", containerStatuses=[container(ready=True, running={})])
    deleting["metadata"]["deletionTimestamp"] = "2026-01-02T23:59:00Z"
    assert pod_row_cells(deleting, NOW)[2] == "Terminating"
    lost = copy.deepcopy(deleting)
    lost["status"]["reason"] = "NodeLost"
    assert pod_row_cells(lost, NOW)[2] == "Unknown"
    finished = pod(phase="Succeeded", containerStatuses=[container(terminated={"exitCode": 0, "reason": "Completed"})])
    finished["metadata"]["deletionTimestamp"] = "2026-01-02T23:59:00Z"
    assert pod_row_cells(finished, NOW)[2] == "Completed"


def test_wide_pod_cells() -> None:
    unscheduled = pod(phase="Pending", nominatedNodeName="node-b")
    del unscheduled["spec"]["nodeName"]
    unscheduled["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]
    unscheduled["status"]["conditions"] = [{"type": "example.com/lb", "status": "True"}]
    assert pod_row_cells(unscheduled, NOW)[4:] == ["60m", "<none>", "<none>", "node-b", "1/2"]
    assert pod_row_cells(pod(phase="Running", podIP="10.1.2.3"), NOW)[5:7] == ["10.1.2.3", "node-a"]


# ---------------------------------------------------------------------------------------------
# Whole tables
# ---------------------------------------------------------------------------------------------


def test_node_table_with_partial_object_metadata_by_default() -> None:
    nodes = load_objects("kind-nodelist-3node-notready-worker-sonobuoy-healthsummary.json")
    table = build_table("Node", nodes, NOW, list_metadata={"resourceVersion": "12"})
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "12"}
    assert table["columnDefinitions"] == NODE_COLUMNS
    assert [row["cells"][:2] for row in table["rows"]] == [
        ["kind-control-plane", "Ready"],
        ["kind-worker", "NotReady"],
        ["kind-worker2", "Ready"],
    ]
    first = table["rows"][0]["object"]
    assert first == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": nodes[0]["metadata"],
    }
    assert "conditions" not in table["rows"][0]
    json.dumps(table)


def test_include_object_none_and_object() -> None:
    node = load_objects("minikube-node-k9s.json")[0]
    assert build_table("Node", [node], NOW, include_object="None")["rows"][0]["object"] is None
    assert build_table("Node", [node], NOW, include_object="Object")["rows"][0]["object"] == node


def test_unknown_include_object_is_rejected() -> None:
    with pytest.raises(ValueError):
        build_table("Node", [], NOW, include_object="Everything")


def test_table_rows_do_not_share_structure_with_the_objects() -> None:
    node = load_objects("minikube-node-k9s.json")[0]
    untouched = copy.deepcopy(node)
    table = build_table("Node", [node], NOW, include_object="Object")
    table["rows"][0]["object"]["metadata"]["labels"]["x"] = "y"
    table["columnDefinitions"][0]["name"] = "changed"
    assert node == untouched
    assert NODE_COLUMNS[0]["name"] == "Name"


def test_watch_tables_after_the_first_carry_no_column_definitions() -> None:
    node = load_objects("minikube-node-k9s.json")[0]
    table = build_table("Node", [node], NOW, with_columns=False)
    assert table["columnDefinitions"] is None
    assert len(table["rows"]) == 1
    assert table["metadata"] == {}


def test_pod_table_marks_finished_pods_completed() -> None:
    pods = load_objects("k3s-podlist-kube-system-troubleshoot-bundle.json")
    table = build_table("Pod", pods, NOW)
    assert table["columnDefinitions"] == POD_COLUMNS
    rows = {row["cells"][0]: row for row in table["rows"]}
    assert rows["helm-install-traefik-vdfpr"]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
    ]
    assert "conditions" not in rows["coredns-64fd4b4794-p72lf"]
    failed = build_table("Pod", [pod(phase="Failed")], NOW)["rows"][0]
    assert failed["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ]


def test_other_kinds_get_name_and_age() -> None:
    lease = load_objects("k3s-leaselist-kube-node-lease-troubleshoot-bundle.json")[0]
    now = created_at(lease) + timedelta(hours=2)
    table = build_table("Lease", [lease], now)
    assert [column["name"] for column in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["rows"][0]["cells"] == [lease["metadata"]["name"], "120m"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
