"""Server-side printing for the simulated API server: meta.k8s.io/v1 Table bodies.

``kubectl get`` asks for ``as=Table`` and prints the cells it gets back, so the columns and cell
values here follow kube-apiserver 1.32 (``pkg/printers/internalversion/printers.go``): nodes print
Name, Status, Roles, Age, Version and, at priority 1, Internal-IP, External-IP, OS-Image,
Kernel-Version, Container-Runtime; pods print Name, Ready, Status, Restarts, Age and, at priority
1, IP, Node, Nominated Node, Readiness Gates. As upstream, every cell is always sent and kubectl
hides the priority-1 columns unless ``-o wide``. Any other kind gets Name and Age.

Ages are rendered like ``duration.HumanDuration`` ("45s", "5m3s", "45m", "3h12m", "5d3h", "3y120d").
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

__all__ = [
    "DEFAULT_COLUMNS",
    "NODE_COLUMNS",
    "POD_COLUMNS",
    "build_table",
    "human_duration",
    "node_row_cells",
    "pod_row_cells",
    "table_columns",
]

_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_CREATION_TIMESTAMP_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
    "not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
    "system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_NODE_ADDRESSES_DESCRIPTION = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared "
    "as mergeable, but the merge key is not sufficiently unique, which can cause data corruption "
    "when it is merged. Callers should instead use a full-replacement patch. See "
    "https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change "
    "during the lifetime of a Node. However, there are some exceptions where this may not be "
    "possible, such as Pods that inherit a Node's address in its own status or consumers of the "
    "downward API (status.hostIP)."
)


def _column(name: str, description: str, *, column_type: str = "string", column_format: str = "",
            priority: int = 0) -> dict[str, Any]:
    """One TableColumnDefinition as kube-apiserver serialises it (every field present)."""
    return {
        "name": name,
        "type": column_type,
        "format": column_format,
        "description": description,
        "priority": priority,
    }


NODE_COLUMNS: list[dict[str, Any]] = [
    _column("Name", _NAME_DESCRIPTION, column_format="name"),
    _column("Status", "The status of the node"),
    _column("Roles", "The roles of the node"),
    _column("Age", _CREATION_TIMESTAMP_DESCRIPTION),
    _column("Version", "Kubelet Version reported by the node."),
    _column("Internal-IP", _NODE_ADDRESSES_DESCRIPTION, priority=1),
    _column("External-IP", _NODE_ADDRESSES_DESCRIPTION, priority=1),
    _column(
        "OS-Image",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        priority=1,
    ),
    _column(
        "Kernel-Version",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        priority=1,
    ),
    _column(
        "Container-Runtime",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
        priority=1,
    ),
]

POD_COLUMNS: list[dict[str, Any]] = [
    _column("Name", _NAME_DESCRIPTION, column_format="name"),
    _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    _column("Status", "The aggregate status of the containers in this pod."),
    _column(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    _column("Age", _CREATION_TIMESTAMP_DESCRIPTION),
    _column(
        "IP",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
        priority=1,
    ),
    _column(
        "Node",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for "
        "scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for "
        "this node becomes responsible for the lifecycle of this pod. This field should not be used to "
        "express a desire for the pod to be scheduled on a specific node. "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
        priority=1,
    ),
    _column(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be "
        "scheduled right away as preemption victims receive their graceful termination periods. This "
        "field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to "
        "place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to "
        "give the resources on this node to a higher priority pod that is created after preemption. As "
        "a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
        priority=1,
    ),
    _column(
        "Readiness Gates",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all "
        'its containers are ready AND all conditions specified in the readiness gates have status equal '
        'to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
        priority=1,
    ),
]

DEFAULT_COLUMNS: list[dict[str, Any]] = [
    _column("Name", _NAME_DESCRIPTION, column_format="name"),
    _column("Age", _CREATION_TIMESTAMP_DESCRIPTION),
]

_LABEL_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
_LABEL_NODE_ROLE = "kubernetes.io/role"
_NODE_UNREACHABLE_POD_REASON = "NodeLost"

_POD_SUCCEEDED_CONDITIONS = [
    {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
]
_POD_FAILED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


# --------------------------------------------------------------------------------------------
# Small readers that never raise on odd objects
# --------------------------------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    return 0


def _parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None when missing or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """A duration the way ``duration.HumanDuration`` prints it (about two significant figures)."""
    whole_seconds = int(seconds)  # truncates toward zero, like Go's int(d.Seconds())
    if whole_seconds < -1:
        return "<invalid>"
    if whole_seconds < 0:
        return "0s"
    if whole_seconds < 60 * 2:
        return f"{whole_seconds}s"
    minutes = whole_seconds // 60
    if minutes < 10:
        remainder = whole_seconds % 60
        return f"{minutes}m" if remainder == 0 else f"{minutes}m{remainder}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole_seconds // 3600
    if hours < 8:
        remainder = minutes % 60
        return f"{hours}h" if remainder == 0 else f"{hours}h{remainder}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        remainder = hours % 24
        return f"{hours // 24}d" if remainder == 0 else f"{hours // 24}d{remainder}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _since(timestamp: datetime | None, now: datetime) -> str:
    """Upstream's translateTimestampSince: "<unknown>" for a missing time, else the human age."""
    if timestamp is None:
        return "<unknown>"
    return human_duration((_aware(now) - timestamp).total_seconds())


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return _since(_parse_time(_map(obj.get("metadata")).get("creationTimestamp")), now)


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------


def _node_status(node: Mapping[str, Any]) -> str:
    ready_status: str | None = None
    for condition in _list(_map(node.get("status")).get("conditions")):
        condition = _map(condition)
        if condition.get("type") == "Ready":
            ready_status = _text(condition.get("status"))
    if ready_status is None:
        parts = ["Unknown"]
    elif ready_status == "True":
        parts = ["Ready"]
    else:
        parts = ["NotReady"]
    if _map(node.get("spec")).get("unschedulable") is True:
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_roles(node: Mapping[str, Any]) -> str:
    roles: set[str] = set()
    for key, value in _map(_map(node.get("metadata")).get("labels")).items():
        if key.startswith(_LABEL_NODE_ROLE_PREFIX):
            role = key[len(_LABEL_NODE_ROLE_PREFIX) :]
            if role:
                roles.add(role)
        elif key == _LABEL_NODE_ROLE and isinstance(value, str) and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(node: Mapping[str, Any], address_type: str) -> str:
    for address in _list(_map(node.get("status")).get("addresses")):
        address = _map(address)
        if address.get("type") == address_type:
            return _text(address.get("address"))
    return "<none>"


def node_row_cells(node: Mapping[str, Any], now: datetime) -> list[Any]:
    """The ten cells of a node's row, in NODE_COLUMNS order."""
    node_info = _map(_map(node.get("status")).get("nodeInfo"))
    return [
        _text(_map(node.get("metadata")).get("name")),
        _node_status(node),
        _node_roles(node),
        _age(node, now),
        _text(node_info.get("kubeletVersion")),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        _text(node_info.get("osImage")) or "<unknown>",
        _text(node_info.get("kernelVersion")) or "<unknown>",
        _text(node_info.get("containerRuntimeVersion")) or "<unknown>",
    ]


# --------------------------------------------------------------------------------------------
# Pods
# --------------------------------------------------------------------------------------------


def _condition_true(conditions: list[Any], condition_type: str) -> bool:
    return any(
        _map(condition).get("type") == condition_type and _map(condition).get("status") == "True"
        for condition in conditions
    )


def _terminated_finished_at(container_status: Mapping[str, Any]) -> datetime | None:
    terminated = _map(container_status.get("lastState")).get("terminated")
    if not isinstance(terminated, Mapping):
        return None
    return _parse_time(terminated.get("finishedAt"))


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    if current is None or current < candidate:
        return candidate
    return current


def _pod_ip(status: Mapping[str, Any]) -> str:
    pod_ips = _list(status.get("podIPs"))
    if pod_ips:
        return _text(_map(pod_ips[0]).get("ip"))
    return _text(status.get("podIP"))


def pod_row_cells(pod: Mapping[str, Any], now: datetime) -> list[Any]:
    """The nine cells of a pod's row, in POD_COLUMNS order, with upstream's Status reasoning."""
    metadata = _map(pod.get("metadata"))
    spec = _map(pod.get("spec"))
    status = _map(pod.get("status"))
    conditions = _list(status.get("conditions"))

    restarts = 0
    restartable_init_restarts = 0
    total_containers = len(_list(spec.get("containers")))
    ready_containers = 0
    last_restart: datetime | None = None
    last_restartable_init_restart: datetime | None = None

    phase = _text(status.get("phase"))
    reason = _text(status.get("reason")) or phase
    for condition in conditions:
        condition = _map(condition)
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_containers = [_map(container) for container in _list(spec.get("initContainers"))]
    restartable_init_names = {
        _text(container.get("name")) for container in init_containers if container.get("restartPolicy") == "Always"
    }
    total_containers += sum(1 for container in init_containers if container.get("restartPolicy") == "Always")

    initializing = False
    init_statuses = [_map(item) for item in _list(status.get("initContainerStatuses"))]
    for index, container in enumerate(init_statuses):
        count = _int(container.get("restartCount"))
        restarts += count
        finished = _terminated_finished_at(container)
        last_restart = _later(last_restart, finished)
        restartable = _text(container.get("name")) in restartable_init_names
        if restartable:
            restartable_init_restarts += count
            last_restartable_init_restart = _later(last_restartable_init_restart, finished)
        state = _map(container.get("state"))
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if isinstance(terminated, Mapping) and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable and container.get("started") is True:
            if container.get("ready") is True:
                ready_containers += 1
            continue
        if isinstance(terminated, Mapping):
            if not _text(terminated.get("reason")):
                signal = _int(terminated.get("signal"))
                if signal != 0:
                    reason = f"Init:Signal:{signal}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + _text(terminated.get("reason"))
        elif (
            isinstance(waiting, Mapping)
            and _text(waiting.get("reason"))
            and waiting.get("reason") != "PodInitializing"
        ):
            reason = "Init:" + _text(waiting.get("reason"))
        else:
            reason = f"Init:{index}/{len(init_containers)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = restartable_init_restarts
        last_restart = last_restartable_init_restart
        has_running = False
        for container in reversed([_map(item) for item in _list(status.get("containerStatuses"))]):
            restarts += _int(container.get("restartCount"))
            last_restart = _later(last_restart, _terminated_finished_at(container))
            state = _map(container.get("state"))
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if isinstance(waiting, Mapping) and _text(waiting.get("reason")):
                reason = _text(waiting.get("reason"))
            elif isinstance(terminated, Mapping) and _text(terminated.get("reason")):
                reason = _text(terminated.get("reason"))
            elif isinstance(terminated, Mapping):
                signal = _int(terminated.get("signal"))
                if signal != 0:
                    reason = f"Signal:{signal}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif container.get("ready") is True and isinstance(state.get("running"), Mapping):
                has_running = True
                ready_containers += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = metadata.get("deletionTimestamp") is not None
    if deleting and status.get("reason") == _NODE_UNREACHABLE_POD_REASON:
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_text = f"{restarts} ({_since(last_restart, now)} ago)"

    readiness_gates = _list(spec.get("readinessGates"))
    gates_text = "<none>"
    if readiness_gates:
        passed = 0
        for gate in readiness_gates:
            wanted = _map(gate).get("conditionType")
            for condition in conditions:
                condition = _map(condition)
                if condition.get("type") == wanted:
                    if condition.get("status") == "True":
                        passed += 1
                    break
        gates_text = f"{passed}/{len(readiness_gates)}"

    return [
        _text(metadata.get("name")),
        f"{ready_containers}/{total_containers}",
        reason,
        restarts_text,
        _age(pod, now),
        _pod_ip(status) or "<none>",
        _text(spec.get("nodeName")) or "<none>",
        _text(status.get("nominatedNodeName")) or "<none>",
        gates_text,
    ]


def _pod_row_conditions(pod: Mapping[str, Any]) -> list[dict[str, str]] | None:
    phase = _map(pod.get("status")).get("phase")
    if phase == "Succeeded":
        return [dict(condition) for condition in _POD_SUCCEEDED_CONDITIONS]
    if phase == "Failed":
        return [dict(condition) for condition in _POD_FAILED_CONDITIONS]
    return None


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _default_row_cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_text(_map(obj.get("metadata")).get("name")), _age(obj, now)]


def table_columns(kind: str) -> list[dict[str, Any]]:
    """The column definitions sent for a kind (Node, Pod, or the Name/Age default)."""
    if kind == "Node":
        return NODE_COLUMNS
    if kind == "Pod":
        return POD_COLUMNS
    return DEFAULT_COLUMNS


def _clone(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    return value


def _row_object(obj: Mapping[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return _clone(obj)
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _clone(_map(obj.get("metadata"))),
    }


def build_table(
    kind: str,
    items: list[dict[str, Any]],
    now: datetime,
    include_object: str = "Metadata",
    with_columns: bool = True,
    list_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A full meta.k8s.io/v1 Table body for objects of one kind.

    ``include_object`` is the request's ``includeObject``: "None" leaves each row's ``object`` null,
    "Metadata" (the default, also used for "") sends a PartialObjectMetadata, "Object" the whole
    object. ``with_columns=False`` sends ``columnDefinitions: null``, as upstream does for every
    watch event after the first. ``list_metadata`` becomes the Table's ListMeta.
    """
    if include_object not in ("None", "Metadata", "Object", ""):
        raise ValueError(f'includeObject: Unsupported value: "{include_object}"')
    if kind == "Node":
        cell_builder = node_row_cells
    elif kind == "Pod":
        cell_builder = pod_row_cells
    else:
        cell_builder = _default_row_cells
    rows: list[dict[str, Any]] = []
    for item in items:
        row: dict[str, Any] = {"cells": cell_builder(item, now)}
        if kind == "Pod":
            conditions = _pod_row_conditions(item)
            if conditions:
                row["conditions"] = conditions
        row["object"] = _row_object(item, include_object)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_metadata or {}),
        "columnDefinitions": [dict(column) for column in table_columns(kind)] if with_columns else None,
        "rows": rows,
    }
