"""A seeded generator of realistic simulated clusters.

``build_world(WorldSpec(...), now)`` returns every object a freshly populated cluster holds:
nodes that look like the real EKS, GKE, AKS, k3s, kubeadm and kind nodes in the fixture dumps
(provider-style names, labels, taints, capacity, addresses, nodeInfo, 10–50 images, kubelet and
node-problem-detector conditions), one Lease per node, namespaces, DaemonSets with one pod per
node, ReplicaSet/StatefulSet/Job-owned, unmanaged, mirror, Succeeded, Failed and Pending pods,
PodDisruptionBudgets (some allowing no disruption) and the node Events ``kubectl describe node``
shows.

The same (spec, now) always gives the same world. Every returned object is built fresh: no two
objects share a mutable sub-object, so a caller may edit one without touching another.

``compute_pdb_status`` is the disruption controller's arithmetic, used here and by the
simulator's eviction.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import math
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from knm_tui.sim.selectors import selector_from_label_selector_object

PROFILES = ("eks", "gke", "aks", "cloud", "edge", "staging")
"""The cluster profiles ``WorldSpec.profile`` accepts ("cloud" picks eks, gke or aks by seed)."""

MANAGED_PROFILES = ("eks", "gke", "aks")

KUBELET_CONDITION_TYPES = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
"""The node conditions the kubelet owns, in the order it reports them (and the node controller
sets to Unknown)."""

KUBELET_CONDITION_TEXT: dict[tuple[str, str], tuple[str, str]] = {
    ("MemoryPressure", "False"): ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("MemoryPressure", "True"): ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    ("DiskPressure", "False"): ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("DiskPressure", "True"): ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ("PIDPressure", "False"): ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("PIDPressure", "True"): ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ("Ready", "True"): ("KubeletReady", "kubelet is posting ready status"),
    ("Ready", "False"): (
        "KubeletNotReady",
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
        "message:Network plugin returns error: cni plugin not initialized",
    ),
}
"""The kubelet's reason and message for each (condition type, status)."""

NODE_STATUS_UNKNOWN_REASON = "NodeStatusUnknown"
NODE_STATUS_UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NODE_MONITOR_GRACE_SECONDS = 50
"""How long the node controller waits for a heartbeat before it sets conditions Unknown (1.32)."""

PRESSURE_TAINTS = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
}
"""The NoSchedule taint the node controller adds while a pressure condition is True."""

UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
GPU_RESOURCE = "nvidia.com/gpu"

_NPD_CONDITIONS = (
    ("KernelDeadlock", "KernelHasNoDeadlock", "kernel has no deadlock"),
    ("ReadonlyFilesystem", "FilesystemIsNotReadOnly", "Filesystem is not read-only"),
    ("FrequentKubeletRestart", "NoFrequentKubeletRestart", "kubelet is functioning properly"),
    ("FrequentContainerdRestart", "NoFrequentContainerdRestart", "containerd is functioning properly"),
    ("FrequentUnregisterNetDevice", "NoFrequentUnregisterNetDevice", "node is functioning properly"),
    ("CorruptDockerOverlay2", "NoCorruptDockerOverlay2", "docker overlay2 is functioning properly"),
)

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""The characters Kubernetes uses for generated name suffixes."""

_GiB_KI = 1024 * 1024
_MiB_KI = 1024


# ------------------------------------------------------------------------------------ spec


@dataclass
class WorldSpec:
    """What kind of cluster to generate.

    ``control_planes`` defaults to 0 for the managed profiles (eks, gke, aks), 3 for other
    clusters of 10 nodes or more and 1 for smaller ones. The ``*_share`` fields are fractions of
    the nodes (``pdb_blocking_share``: of the PDBs) that start in that state.
    """

    name: str
    nodes: int = 50
    pods_per_node: int = 10
    seed: int = 0
    profile: str = "cloud"
    images_per_node: tuple[int, int] = (10, 50)
    control_planes: int | None = None
    unhealthy_share: float = 0.0
    pressure_share: float = 0.0
    cordoned_share: float = 0.0
    npd_share: float = 0.0
    pdb_blocking_share: float = 0.3
    gpu_share: float = 0.05


@dataclass
class World:
    """The objects of one generated cluster, as API dicts without resourceVersion."""

    nodes: list[dict] = field(default_factory=list)
    pods: list[dict] = field(default_factory=list)
    leases: list[dict] = field(default_factory=list)
    namespaces: list[dict] = field(default_factory=list)
    daemonsets: list[dict] = field(default_factory=list)
    pdbs: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    flavour: str = ""


# ------------------------------------------------------------------------------ small helpers


_DAY_PREFIXES: dict[int, str] = {}
_TIMES_OF_DAY: dict[int, str] = {}  # second of the day -> "hh:mm:ssZ", filled as seconds are used


def format_epoch(seconds: float) -> str:
    """RFC 3339 with second precision (metav1.Time) for a Unix time."""
    day, second_of_day = divmod(int(seconds // 1), 86400)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        prefix = _DAY_PREFIXES[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
    time_of_day = _TIMES_OF_DAY.get(second_of_day)
    if time_of_day is None:
        hours, rest = divmod(second_of_day, 3600)
        time_of_day = _TIMES_OF_DAY[second_of_day] = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
    return prefix + time_of_day


def format_epoch_micro(seconds: float) -> str:
    """RFC 3339 with microseconds (metav1.MicroTime, a Lease's renewTime) for a Unix time."""
    whole = math.floor(seconds)
    micros = min(999_999, int(round((seconds - whole) * 1_000_000)))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


def parse_time(text: Any) -> float | None:
    """The Unix time of an RFC 3339 timestamp (with or without fraction), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def random_uid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng`` (so a seeded world has stable uids)."""
    digits = f"{rng.getrandbits(122):031x}"
    variant = "89ab"[int(digits[15], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[12:15]}-{variant}{digits[16:19]}-{digits[19:31]}"


_SUFFIX_TRIPLES = [a + b + c for a in _SUFFIX_ALPHABET for b in _SUFFIX_ALPHABET for c in _SUFFIX_ALPHABET]
_SUFFIX_PAIRS = [a + b for a in _SUFFIX_ALPHABET for b in _SUFFIX_ALPHABET]


def random_suffix(rng: random.Random, length: int = 5) -> str:
    """A generated-name suffix like the apiserver's (``-x7k2q``), without the dash."""
    if length == 5:
        number = rng.getrandbits(30)
        return _SUFFIX_TRIPLES[number % 19683] + _SUFFIX_PAIRS[(number // 19683) % 729]
    return "".join(rng.choices(_SUFFIX_ALPHABET, k=length))


def make_taint(key: str, effect: str, time_added: str | None = None, value: str | None = None) -> dict:
    """One node taint as the API serialises it."""
    taint: dict[str, Any] = {"key": key}
    if value is not None:
        taint["value"] = value
    taint["effect"] = effect
    if time_added is not None:
        taint["timeAdded"] = time_added
    return taint


def kubelet_condition(condition_type: str, status: str, heartbeat: str, transition: str) -> dict:
    """A kubelet-owned node condition with the kubelet's reason and message."""
    reason, message = KUBELET_CONDITION_TEXT[(condition_type, status)]
    return {"type": condition_type, "status": status, "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": transition, "reason": reason, "message": message}


def unknown_condition(condition: dict, transition: str) -> dict:
    """``condition`` as the node controller rewrites it when the kubelet stops posting status."""
    updated = dict(condition)
    updated["status"] = "Unknown"
    updated["reason"] = NODE_STATUS_UNKNOWN_REASON
    updated["message"] = NODE_STATUS_UNKNOWN_MESSAGE
    if condition.get("status") != "Unknown":
        updated["lastTransitionTime"] = transition
    return updated


def make_node_event(node_name: str, node_uid: str, reason: str, message: str, first: str, last: str,
                    suffix: str, *, event_type: str = "Normal", component: str = "kubelet",
                    count: int = 1, uid: str | None = None) -> dict:
    """A core/v1 Event about a node, in ``default``, as the kubelet or node controller records it.

    Without ``uid`` the store assigns one when the event is created.
    """
    source: dict[str, str] = {"component": component}
    if component == "kubelet":
        source["host"] = node_name
    metadata: dict[str, Any] = {"name": f"{node_name}.{suffix}", "namespace": "default"}
    if uid is not None:
        metadata["uid"] = uid
    metadata["creationTimestamp"] = first
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": metadata,
        "involvedObject": {"kind": "Node", "name": node_name, "uid": node_uid, "apiVersion": "v1"},
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": first,
        "lastTimestamp": last,
        "count": count,
        "type": event_type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": node_name if component == "kubelet" else "",
    }


def event_suffix(rng: random.Random) -> str:
    """The 16-hex-digit suffix client-go's event recorder gives event names."""
    return f"{rng.getrandbits(64):016x}"


@functools.lru_cache(maxsize=8192)
def _digest(reference: str) -> str:
    return hashlib.sha256(reference.encode()).hexdigest()


def _image_size(reference: str, base: int) -> int:
    jitter = int(_digest("size:" + reference)[:6], 16) % max(1, base // 5)
    return base + jitter


def _quantity_ki(kibibytes: int) -> str:
    return f"{kibibytes}Ki"


def _dns_label(text: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return label or "sim"


# ------------------------------------------------------------------------- pod construction


@dataclass(frozen=True)
class _Container:
    """One container of a pod template (immutable, shared by every pod built from it)."""

    name: str
    image: str
    size: int = 50_000_000
    ports: tuple[tuple[str, int, int | None], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    field_env: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] = ()
    requests: tuple[tuple[str, str], ...] = ()
    limits: tuple[tuple[str, str], ...] = ()
    mounts: tuple[tuple[str, str, bool], ...] = ()
    probe_port: int | None = None
    probe_path: str = "/healthz"
    liveness: bool = True
    privileged: bool = False

    @functools.cached_property
    def image_id(self) -> str:
        """The digest reference the container runtime reports for the image."""
        repository = self.image.rsplit(":", 1)[0]
        return f"{repository}@sha256:{_digest(self.image)}"


@dataclass(frozen=True)
class _PodTemplate:
    """What all pods of one owner (or one unmanaged pod) have in common."""

    namespace: str
    labels: tuple[tuple[str, str], ...]
    containers: tuple[_Container, ...]
    owner_kind: str | None = None
    owner_name: str = ""
    owner_uid: str = ""
    owner_api_version: str = "apps/v1"
    annotations: tuple[tuple[str, str], ...] = ()
    host_network: bool = False
    host_paths: tuple[tuple[str, str, str], ...] = ()
    empty_dirs: tuple[str, ...] = ()
    config_maps: tuple[tuple[str, str], ...] = ()
    pvc_prefix: str | None = None
    service_account: str = "default"
    priority_class: str | None = None
    priority: int = 0
    tolerations: str = "default"
    node_selector: tuple[tuple[str, str], ...] = ()
    restart_policy: str = "Always"
    daemonset: bool = False
    mirror: bool = False
    qos: str = "Burstable"


_DEFAULT_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
)
_DAEMONSET_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def _tolerations(kind: str, spot_key: tuple[str, str] | None) -> list[dict]:
    if kind == "all":
        tolerations: list[dict] = [{"operator": "Exists"}]
        for key, effect in _DAEMONSET_TOLERATIONS:
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
        return tolerations
    if kind == "mirror":
        return [{"operator": "Exists", "effect": "NoExecute"}]
    tolerations = []
    if kind == "gpu":
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    if spot_key is not None and kind in ("default", "gpu"):
        tolerations.append({"key": spot_key[0], "operator": "Equal", "value": spot_key[1], "effect": "NoSchedule"})
    for key, effect in _DEFAULT_TOLERATIONS:
        tolerations.append({"key": key, "operator": "Exists", "effect": effect, "tolerationSeconds": 300})
    return tolerations


def _container_spec(container: _Container, token_volume: str | None) -> dict:
    spec: dict[str, Any] = {"name": container.name, "image": container.image}
    if container.args:
        spec["args"] = list(container.args)
    if container.ports:
        ports = []
        for name, port, host_port in container.ports:
            entry: dict[str, Any] = {"name": name}
            if host_port is not None:
                entry["hostPort"] = host_port
            entry["containerPort"] = port
            entry["protocol"] = "TCP"
            ports.append(entry)
        spec["ports"] = ports
    if container.env or container.field_env:
        env: list[dict] = [{"name": name, "value": value} for name, value in container.env]
        for name, path in container.field_env:
            env.append({"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}})
        spec["env"] = env
    resources: dict[str, Any] = {}
    if container.limits:
        resources["limits"] = dict(container.limits)
    if container.requests:
        resources["requests"] = dict(container.requests)
    spec["resources"] = resources
    mounts = [{"name": name, "mountPath": path, "readOnly": True} if read_only else {"name": name, "mountPath": path}
              for name, path, read_only in container.mounts]
    if token_volume is not None:
        mounts.append({"name": token_volume, "readOnly": True,
                       "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    if mounts:
        spec["volumeMounts"] = mounts
    if container.probe_port is not None and container.liveness:
        spec["livenessProbe"] = {
            "httpGet": {"path": container.probe_path, "port": container.probe_port, "scheme": "HTTP"},
            "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10,
            "successThreshold": 1, "failureThreshold": 3}
    if container.probe_port is not None:
        spec["readinessProbe"] = {
            "httpGet": {"path": container.probe_path, "port": container.probe_port, "scheme": "HTTP"},
            "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3}
    spec["terminationMessagePath"] = "/dev/termination-log"
    spec["terminationMessagePolicy"] = "File"
    spec["imagePullPolicy"] = "IfNotPresent"
    if container.privileged:
        spec["securityContext"] = {"privileged": True}
    return spec


def _token_volume(name: str) -> dict:
    return {"name": name, "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}},
    ], "defaultMode": 420}}


@dataclass
class _PodPlacement:
    """Per-pod values: identity, node and lifecycle."""

    name: str
    uid: str
    node: str | None
    host_ip: str | None
    pod_ip: str | None
    created: float
    phase: str = "Running"
    ready: bool = True
    node_not_ready_since: float | None = None
    restarts: int = 0
    generate_name: str | None = None
    extra_labels: tuple[tuple[str, str], ...] = ()
    extra_annotations: tuple[tuple[str, str], ...] = ()
    owner_uid_override: str | None = None
    failure: str | None = None
    unschedulable_message: str = ""


def _build_pod(template: _PodTemplate, placement: _PodPlacement, rng: random.Random,
               spot_key: tuple[str, str] | None) -> dict:
    """A fresh pod dict for ``placement`` from ``template`` (no sub-object is shared)."""
    created = placement.created
    created_text = format_epoch(created)
    labels = dict(template.labels)
    if placement.extra_labels:
        labels.update(placement.extra_labels)
    metadata: dict[str, Any] = {"name": placement.name}
    if placement.generate_name:
        metadata["generateName"] = placement.generate_name
    metadata["namespace"] = template.namespace
    metadata["uid"] = placement.uid
    metadata["creationTimestamp"] = created_text
    metadata["labels"] = labels
    if template.annotations or placement.extra_annotations:
        annotations = dict(template.annotations)
        annotations.update(placement.extra_annotations)
        metadata["annotations"] = annotations
    if template.owner_kind is not None:
        metadata["ownerReferences"] = [{
            "apiVersion": template.owner_api_version, "kind": template.owner_kind, "name": template.owner_name,
            "uid": placement.owner_uid_override or template.owner_uid, "controller": True,
            "blockOwnerDeletion": True}]
    token_volume = None if template.mirror else f"kube-api-access-{random_suffix(rng)}"
    volumes: list[dict] = []
    for name, path, path_type in template.host_paths:
        volumes.append({"name": name, "hostPath": {"path": path, "type": path_type}})
    for name in template.empty_dirs:
        volumes.append({"name": name, "emptyDir": {}})
    for name, config_map in template.config_maps:
        volumes.append({"name": name, "configMap": {"name": config_map, "defaultMode": 420}})
    if template.pvc_prefix is not None:
        volumes.append({"name": template.pvc_prefix,
                        "persistentVolumeClaim": {"claimName": f"{template.pvc_prefix}-{placement.name}"}})
    if token_volume is not None:
        volumes.append(_token_volume(token_volume))
    spec: dict[str, Any] = {}
    if volumes:
        spec["volumes"] = volumes
    spec["containers"] = [_container_spec(container, token_volume) for container in template.containers]
    spec["restartPolicy"] = template.restart_policy
    spec["terminationGracePeriodSeconds"] = 30
    spec["dnsPolicy"] = "ClusterFirstWithHostNet" if template.host_network and not template.mirror else "ClusterFirst"
    if template.node_selector:
        spec["nodeSelector"] = dict(template.node_selector)
    if not template.mirror:
        spec["serviceAccountName"] = template.service_account
        spec["serviceAccount"] = template.service_account
    if placement.node is not None:
        spec["nodeName"] = placement.node
    if template.host_network:
        spec["hostNetwork"] = True
    spec["securityContext"] = {}
    if template.daemonset and placement.node is not None:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [placement.node]}]}]}}}
    spec["schedulerName"] = "default-scheduler"
    spec["tolerations"] = _tolerations(template.tolerations, spot_key)
    if template.priority_class:
        spec["priorityClassName"] = template.priority_class
    spec["priority"] = template.priority
    spec["enableServiceLinks"] = True
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec,
            "status": _pod_status(template, placement, rng)}


def _pod_condition(condition_type: str, status: str, transition: str, reason: str | None = None,
                   message: str | None = None) -> dict:
    """One pod condition as the kubelet writes it."""
    condition: dict[str, Any] = {"type": condition_type, "status": status, "lastProbeTime": None,
                                 "lastTransitionTime": transition}
    if reason is not None:
        condition["reason"] = reason
    if message is not None:
        condition["message"] = message
    return condition


def _pod_status(template: _PodTemplate, placement: _PodPlacement, rng: random.Random) -> dict:
    created = placement.created
    scheduled = format_epoch(created)
    if placement.node is None:
        return {"phase": "Pending", "conditions": [_pod_condition(
            "PodScheduled", "False", scheduled, "Unschedulable", placement.unschedulable_message)],
            "qosClass": template.qos}
    started = created + 2 + (int(placement.uid[:2], 16) & 7)
    started_text = format_epoch(started)
    ready_text = format_epoch(started + 3)
    status: dict[str, Any] = {"phase": placement.phase}
    container_statuses = []
    if placement.phase in ("Succeeded", "Failed"):
        finished = started + 20 + rng.randrange(600)
        finished_text = format_epoch(finished)
        reason = "PodCompleted" if placement.phase == "Succeeded" else "PodFailed"
        status["conditions"] = [
            _pod_condition("PodReadyToStartContainers", "False", finished_text),
            _pod_condition("Initialized", "True", scheduled, reason if placement.phase == "Succeeded" else None),
            _pod_condition("Ready", "False", finished_text, reason),
            _pod_condition("ContainersReady", "False", finished_text, reason),
            _pod_condition("PodScheduled", "True", scheduled),
        ]
        if placement.failure == "Evicted":
            status["message"] = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: "
                                 "91240Ki. Container app was using 1523412Ki, request is 512Mi, has larger "
                                 "consumption of memory. ")
            status["reason"] = "Evicted"
        for container in template.containers:
            container_id = f"containerd://{rng.getrandbits(256):064x}"
            if placement.phase == "Succeeded":
                terminated = {"exitCode": 0, "reason": "Completed"}
            elif placement.failure == "Evicted":
                terminated = {"exitCode": 137, "reason": "ContainerStatusUnknown",
                              "message": "The container could not be located when the pod was terminated"}
            else:
                terminated = {"exitCode": 1, "reason": "Error"}
            terminated["startedAt"] = started_text
            terminated["finishedAt"] = finished_text
            terminated["containerID"] = container_id
            container_statuses.append({
                "name": container.name, "state": {"terminated": terminated}, "lastState": {}, "ready": False,
                "restartCount": placement.restarts, "image": container.image, "imageID": container.image_id,
                "containerID": container_id, "started": False})
    else:
        ready = "True" if placement.ready else "False"
        ready_transition = ready_text if placement.ready else format_epoch(placement.node_not_ready_since or started)
        status["conditions"] = [
            {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": None,
             "lastTransitionTime": started_text},
            {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": scheduled},
            {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": ready_transition},
            {"type": "ContainersReady", "status": "True", "lastProbeTime": None, "lastTransitionTime": ready_text},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": scheduled},
        ]
        for container in template.containers:
            container_id = f"containerd://{rng.getrandbits(256):064x}"
            container_statuses.append({
                "name": container.name, "state": {"running": {"startedAt": started_text}}, "lastState": {},
                "ready": True, "restartCount": placement.restarts, "image": container.image,
                "imageID": container.image_id, "containerID": container_id, "started": True})
    status["hostIP"] = placement.host_ip
    status["hostIPs"] = [{"ip": placement.host_ip}]
    if placement.pod_ip is not None:
        status["podIP"] = placement.pod_ip
        status["podIPs"] = [{"ip": placement.pod_ip}]
    status["startTime"] = scheduled
    status["containerStatuses"] = container_statuses
    status["qosClass"] = template.qos
    return status


def _qos(containers: tuple[_Container, ...]) -> str:
    if all(not c.requests and not c.limits for c in containers):
        return "BestEffort"
    for container in containers:
        limits = dict(container.limits)
        requests = dict(container.requests) or limits
        if not (limits.get("cpu") and limits.get("memory")):
            return "Burstable"
        if requests.get("cpu") != limits.get("cpu") or requests.get("memory") != limits.get("memory"):
            return "Burstable"
    return "Guaranteed"


# ----------------------------------------------------------------------------- flavours


@dataclass(frozen=True)
class _InstanceType:
    name: str
    cpu: int
    memory_gib: float
    max_pods: int
    arch: str = "amd64"
    gpus: int = 0
    disk_gib: int = 100


_EKS_TYPES = (
    _InstanceType("m5.large", 2, 8, 29), _InstanceType("m5.xlarge", 4, 16, 58),
    _InstanceType("m5.2xlarge", 8, 32, 58), _InstanceType("m6i.xlarge", 4, 16, 58),
    _InstanceType("m6i.4xlarge", 16, 64, 234), _InstanceType("c6i.2xlarge", 8, 16, 58),
    _InstanceType("r6i.xlarge", 4, 32, 58), _InstanceType("m7g.xlarge", 4, 16, 58, "arm64"),
)
_EKS_GPU_TYPES = (_InstanceType("g5.xlarge", 4, 16, 58, gpus=1), _InstanceType("p3.8xlarge", 32, 244, 234, gpus=4))
_GKE_TYPES = (
    _InstanceType("e2-standard-4", 4, 16, 110), _InstanceType("e2-standard-8", 8, 32, 110),
    _InstanceType("n2-standard-8", 8, 32, 110), _InstanceType("n2-highmem-4", 4, 32, 110),
    _InstanceType("t2a-standard-4", 4, 16, 110, "arm64"),
)
_GKE_GPU_TYPES = (_InstanceType("n1-standard-8", 8, 30, 110, gpus=1), _InstanceType("a2-highgpu-1g", 12, 85, 110, gpus=1))
_AKS_TYPES = (
    _InstanceType("Standard_D4s_v5", 4, 16, 110, disk_gib=128), _InstanceType("Standard_D8s_v5", 8, 32, 110, disk_gib=128),
    _InstanceType("Standard_E4s_v5", 4, 32, 110, disk_gib=128), _InstanceType("Standard_D4ps_v5", 4, 16, 110, "arm64", disk_gib=128),
)
_AKS_SYSTEM_TYPE = _InstanceType("Standard_D2s_v5", 2, 8, 30, disk_gib=128)
_AKS_GPU_TYPES = (_InstanceType("Standard_NC6s_v3", 6, 112, 110, gpus=1, disk_gib=128),
                  _InstanceType("Standard_NC24ads_A100_v4", 24, 220, 110, gpus=1, disk_gib=128))
_BARE_TYPES = (
    _InstanceType("rpi4", 4, 8, 110, "arm64", disk_gib=64), _InstanceType("nuc", 8, 32, 110, disk_gib=256),
    _InstanceType("server", 16, 64, 110, disk_gib=480), _InstanceType("vm", 4, 16, 110, disk_gib=80),
)
_BARE_GPU_TYPES = (_InstanceType("jetson", 8, 32, 110, "arm64", gpus=1, disk_gib=128),
                   _InstanceType("gpu-server", 32, 256, 110, gpus=2, disk_gib=960))


def _cpu_reserved_millis(cpus: int) -> int:
    """GKE/EKS/AKS kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% up to 4, 0.25% above."""
    millis = 60 if cpus >= 1 else 0
    millis += 10 if cpus >= 2 else 0
    millis += 5 * max(0, min(cpus, 4) - 2)
    millis += int(2.5 * max(0, cpus - 4))
    return millis


def _memory_reserved_ki(memory_ki: int) -> int:
    """GKE's kube-reserved memory tiers: 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8,
    6% of the next 112 and 2% above."""
    tiers = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (10**9, 0.02))
    remaining = memory_ki
    reserved = 0.0
    for size_gib, share in tiers:
        part = min(remaining, size_gib * _GiB_KI)
        reserved += part * share
        remaining -= part
        if remaining <= 0:
            break
    return int(reserved)


@dataclass
class _NodePlan:
    """What the generator decided about one node; pods, leases and events are built from it."""

    index: int
    name: str
    uid: str
    ip: str
    created: float
    control_plane: bool
    instance: _InstanceType
    zone: str
    pool: str
    spot: bool = False
    cordoned: bool = False
    health: str = "ready"
    heartbeat: float = 0.0
    not_ready_since: float | None = None
    pod_cidr: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    image_refs: list[str] = field(default_factory=list)
    external_ip: str | None = None
    pod_ip_counter: int = 2
    pressure: str | None = None
    pressure_since: float = 0.0
    cordoned_since: float = 0.0
    npd: bool = False
    vm_index: int = 0

    @property
    def gpu(self) -> bool:
        """Whether the node has NVIDIA GPUs."""
        return self.instance.gpus > 0

    @property
    def schedulable_for_apps(self) -> bool:
        """Whether ordinary app pods would land here (no control-plane or GPU taint)."""
        return not self.control_plane and not self.gpu


@dataclass(frozen=True)
class _DaemonSetDef:
    name: str
    namespace: str
    selector: tuple[tuple[str, str], ...]
    containers: tuple[_Container, ...]
    host_network: bool = True
    host_paths: tuple[tuple[str, str, str], ...] = ()
    empty_dirs: tuple[str, ...] = ()
    priority_class: str = "system-node-critical"
    service_account: str = "default"
    gpu_only: bool = False
    extra_labels: tuple[tuple[str, str], ...] = ()


_SYSTEM_PRIORITY = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


class _Generator:
    """Builds one world; all randomness comes from one seeded RNG, in a fixed order."""

    def __init__(self, spec: WorldSpec, now: datetime) -> None:
        if spec.profile not in PROFILES:
            raise ValueError(f"unknown world profile {spec.profile!r}; expected one of {', '.join(PROFILES)}")
        if spec.nodes < 0 or spec.pods_per_node < 0:
            raise ValueError("nodes and pods_per_node must not be negative")
        low, high = spec.images_per_node
        if low < 0 or high < low:
            raise ValueError("images_per_node must be (low, high) with 0 <= low <= high")
        self.spec = spec
        self.rng = random.Random(f"knm-world/{spec.seed}/{spec.name}/{spec.profile}")
        self.now = math.floor(now.timestamp())
        self.cluster = _dns_label(spec.name)[:20].strip("-") or "sim"
        self.flavour = self._choose_flavour()
        self.control_planes = self._control_plane_count()
        self.cluster_created = self.now - self.rng.randrange(30, 400) * 86400 - self.rng.randrange(86400)
        self.used_pod_names: dict[str, set[str]] = {}
        self.world = World(flavour=self.flavour)
        self.plans: list[_NodePlan] = []
        self.spot_key: tuple[str, str] | None = {
            "eks": ("eks.amazonaws.com/capacityType", "SPOT"),
            "gke": ("cloud.google.com/gke-spot", "true"),
            "aks": ("kubernetes.azure.com/scalesetpriority", "spot"),
        }.get(self.flavour)
        self._setup_flavour()

    # ------------------------------------------------------------------ choices
    def _choose_flavour(self) -> str:
        profile = self.spec.profile
        if profile == "cloud":
            return self.rng.choice(MANAGED_PROFILES)
        if profile == "edge":
            return "k3s" if self.rng.random() < 0.7 else "kubeadm"
        if profile == "staging":
            return "kind" if self.spec.nodes <= 8 else "kubeadm"
        return profile

    def _control_plane_count(self) -> int:
        if self.spec.control_planes is not None:
            return max(0, min(self.spec.control_planes, self.spec.nodes))
        if self.flavour in MANAGED_PROFILES:
            return 0
        return min(self.spec.nodes, 3 if self.spec.nodes >= 10 else 1)

    def _setup_flavour(self) -> None:
        rng = self.rng
        flavour = self.flavour
        self.minor_versions: tuple[str, str]
        if flavour == "eks":
            self.region = rng.choice(("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"))
            self.zones = tuple(f"{self.region}{z}" for z in "abc")
            self.dns_suffix = "ec2.internal" if self.region == "us-east-1" else f"{self.region}.compute.internal"
            short = {"us-east-1": "use1", "us-west-2": "usw2", "eu-west-1": "euw1", "eu-central-1": "euc1",
                     "ap-southeast-2": "apse2"}[self.region]
            self.zone_ids = {zone: f"{short}-az{i + 1}" for i, zone in enumerate(self.zones)}
            self.vpc_second_octet = rng.choice((0, 16, 20, 32))
            self.vpc_pod_serial = rng.randrange(5000)
            self.versions = ("v1.32.3-eks-473151a", "v1.31.7-eks-473151a")
            self.karpenter = rng.random() < 0.5
            self.ami = f"ami-0{rng.getrandbits(64):016x}"
            self.cloud_provider_hash = f"{rng.getrandbits(128):032x}"
            self.registry = f"{rng.randrange(10**11, 10**12)}.dkr.ecr.{self.region}.amazonaws.com"
            self.ecr = f"602401143452.dkr.ecr.{self.region}.amazonaws.com"
        elif flavour == "gke":
            self.region = rng.choice(("us-central1", "europe-west1", "europe-west4", "asia-northeast1"))
            self.zones = tuple(f"{self.region}-{z}" for z in "abc")
            company = rng.choice(("acme", "globex", "initech", "umbrella"))
            self.project = f"{company}-{rng.choice(('prod', 'platform', 'shared'))}-{rng.randrange(100000, 999999)}"
            self.versions = ("v1.32.2-gke.1297002", "v1.31.6-gke.1020000")
            self.public_nodes = rng.random() < 0.4
            self.registry = f"{self.region}-docker.pkg.dev/{self.project}/apps"
            self.pool_hashes: dict[tuple[str, str], str] = {}
        elif flavour == "aks":
            self.region = rng.choice(("eastus", "westeurope", "northeurope", "southcentralus", "uksouth"))
            self.zones = tuple(f"{self.region}-{z}" for z in "123")
            self.subscription = random_uid(rng)
            self.resource_group = f"rg-{self.cluster}"
            self.versions = ("v1.32.3", "v1.31.7")
            self.node_image = "AKSUbuntu-2204gen2containerd-202504.16.0"
            self.registry = f"{self.cluster.replace('-', '')}acr.azurecr.io/apps"
            self.pool_numbers: dict[str, int] = {}
            self.pool_counters: dict[str, int] = {}
            self.kubelet_identity = random_uid(rng)
        elif flavour == "k3s":
            self.site = rng.choice(("store-0042", "factory-7", "lab", "kiosk-eu", "depot-12"))
            self.zones = (self.site,)
            self.versions = ("v1.32.3+k3s1", "v1.31.7+k3s1")
            self.registry = "ghcr.io/acme-edge"
        elif flavour == "kubeadm":
            self.zones = ("rack-a", "rack-b", "rack-c")
            self.versions = ("v1.32.3", "v1.31.7")
            self.registry = "registry.gitlab.com/acme/platform"
        else:
            self.zones = ("",)
            self.versions = ("v1.32.2", "v1.32.2")
            self.registry = "localhost:5001/acme"
        self.daemonsets = self._daemonset_defs()
        self.app_images = self._app_image_catalogue()

    # ------------------------------------------------------------------ images
    def _system_images(self) -> list[tuple[str, int]]:
        flavour = self.flavour
        if flavour == "eks":
            e = self.ecr
            return [(f"{e}/eks/pause:3.10", 318_731), (f"{e}/amazon-k8s-cni:v1.19.3-eksbuild.1", 53_394_093),
                    (f"{e}/amazon-k8s-cni-init:v1.19.3-eksbuild.1", 70_445_438),
                    (f"{e}/eks/kube-proxy:v1.32.0-minimal-eksbuild.2", 47_220_238),
                    (f"{e}/eks/coredns:v1.11.4-eksbuild.2", 19_488_197),
                    (f"{e}/amazon/aws-network-policy-agent:v1.2.0-eksbuild.1", 35_997_169),
                    (f"{e}/eks/aws-ebs-csi-driver:v1.41.0", 102_335_871),
                    (f"{e}/eks/csi-node-driver-registrar:v2.13.0-eks-1-32-7", 13_251_032),
                    (f"{e}/eks/livenessprobe:v2.15.0-eks-1-32-7", 12_530_617)]
        if flavour == "gke":
            return [("gke.gcr.io/pause:3.8", 268_446), ("gke.gcr.io/kube-proxy-amd64:v1.32.2-gke.1297002", 79_213_201),
                    ("gke.gcr.io/fluent-bit:v1.8.12-gke.31", 93_120_534), ("gke.gcr.io/gke-metrics-agent:1.14.1-gke.0", 87_010_211),
                    ("gke.gcr.io/gcp-compute-persistent-disk-csi-driver:v1.15.4-gke.0", 25_802_194),
                    ("gke.gcr.io/csi-node-driver-registrar:v2.13.0-gke.2", 10_218_403),
                    ("gke.gcr.io/netd:v0.3.12-gke.0", 40_125_921), ("gke.gcr.io/ip-masq-agent:v2.10.0-gke.12", 23_110_092)]
        if flavour == "aks":
            m = "mcr.microsoft.com"
            return [(f"{m}/oss/kubernetes/pause:3.6", 299_396), (f"{m}/oss/kubernetes/kube-proxy:v1.32.3", 31_221_108),
                    (f"{m}/aks/ip-masq-agent-v2:v0.1.15", 12_210_333),
                    (f"{m}/oss/kubernetes/azure-cloud-node-manager:v1.32.2", 28_330_905),
                    (f"{m}/oss/kubernetes-csi/azuredisk-csi:v1.31.5", 106_119_208),
                    (f"{m}/oss/kubernetes-csi/azurefile-csi:v1.31.3", 98_412_530),
                    (f"{m}/oss/kubernetes/coredns:v1.11.3-1", 18_532_011),
                    (f"{m}/oss/kubernetes-csi/csi-node-driver-registrar:v2.13.0", 11_093_120)]
        if flavour == "k3s":
            return [("docker.io/rancher/mirrored-pause:3.6", 301_463), ("docker.io/rancher/mirrored-coredns-coredns:1.12.0", 20_939_036),
                    ("docker.io/rancher/klipper-lb:v0.4.13", 5_020_018), ("docker.io/rancher/local-path-provisioner:v0.0.31", 22_473_012),
                    ("docker.io/rancher/mirrored-metrics-server:v0.7.2", 19_494_617),
                    ("docker.io/rancher/mirrored-library-traefik:3.3.2", 59_320_001),
                    ("docker.io/rancher/klipper-helm:v0.9.4-build20250113", 61_430_219)]
        if flavour == "kubeadm":
            r = "registry.k8s.io"
            return [(f"{r}/pause:3.10", 320_368), (f"{r}/kube-proxy:v1.32.3", 30_907_858), (f"{r}/coredns/coredns:v1.11.3", 18_562_039),
                    (f"{r}/etcd:3.5.16-0", 57_680_541), (f"{r}/kube-apiserver:v1.32.3", 28_672_000),
                    (f"{r}/kube-controller-manager:v1.32.3", 26_259_392), (f"{r}/kube-scheduler:v1.32.3", 20_657_536),
                    ("docker.io/calico/node:v3.29.2", 142_810_345), ("docker.io/calico/cni:v3.29.2", 97_451_001)]
        r = "registry.k8s.io"
        return [(f"{r}/pause:3.10", 320_368), (f"{r}/kube-proxy:v1.32.2", 94_955_318), (f"{r}/coredns/coredns:v1.11.3", 18_562_039),
                (f"{r}/etcd:3.5.16-0", 57_680_541), (f"{r}/kube-apiserver:v1.32.2", 98_051_552),
                (f"{r}/kube-controller-manager:v1.32.2", 90_793_286), (f"{r}/kube-scheduler:v1.32.2", 70_649_156),
                ("docker.io/kindest/kindnetd:v20250214-acbabc1a", 39_008_320),
                ("docker.io/kindest/local-path-provisioner:v20250214-acbabc1a", 22_541_737)]

    def _app_image_catalogue(self) -> list[tuple[str, int]]:
        public = [
            ("docker.io/library/nginx", ("1.27.4", "1.27.5", "1.28.0"), 72_000_000),
            ("docker.io/library/redis", ("7.4.2", "7.2.7"), 45_000_000),
            ("docker.io/library/postgres", ("16.8", "17.4"), 160_000_000),
            ("docker.io/bitnami/kafka", ("3.9.0",), 420_000_000),
            ("quay.io/prometheus/prometheus", ("v3.2.1", "v2.55.1"), 130_000_000),
            ("quay.io/prometheus/alertmanager", ("v0.28.1",), 33_000_000),
            ("docker.io/grafana/grafana", ("11.5.2",), 190_000_000),
            ("docker.io/grafana/loki", ("3.4.2",), 38_000_000),
            ("docker.io/grafana/promtail", ("3.4.2",), 95_000_000),
            ("cr.fluentbit.io/fluent/fluent-bit", ("3.2.8",), 34_000_000),
            ("quay.io/jetstack/cert-manager-controller", ("v1.17.1",), 17_000_000),
            ("quay.io/jetstack/cert-manager-webhook", ("v1.17.1",), 13_000_000),
            ("registry.k8s.io/ingress-nginx/controller", ("v1.12.1",), 105_000_000),
            ("registry.k8s.io/metrics-server/metrics-server", ("v0.7.2",), 19_000_000),
            ("registry.k8s.io/kube-state-metrics/kube-state-metrics", ("v2.15.0",), 22_000_000),
            ("docker.io/istio/proxyv2", ("1.25.1", "1.24.3"), 97_000_000),
            ("docker.io/envoyproxy/envoy", ("v1.33.2",), 60_000_000),
            ("ghcr.io/external-secrets/external-secrets", ("v0.15.0",), 30_000_000),
            ("docker.io/library/busybox", ("1.37.0",), 2_200_000),
            ("docker.io/library/rabbitmq", ("4.0.7-management",), 140_000_000),
            ("docker.elastic.co/elasticsearch/elasticsearch", ("8.17.3",), 720_000_000),
            ("docker.io/otel/opentelemetry-collector-contrib", ("0.121.0",), 98_000_000),
            ("quay.io/argoproj/argocd", ("v2.14.7",), 180_000_000),
            ("docker.io/library/memcached", ("1.6.37",), 30_000_000),
            ("docker.io/library/mongo", ("8.0.5",), 290_000_000),
            ("docker.io/hashicorp/vault", ("1.19.0",), 160_000_000),
            ("docker.io/datadog/agent", ("7.63.3",), 330_000_000),
            ("quay.io/prometheus/node-exporter", ("v1.9.0",), 12_000_000),
            ("nvcr.io/nvidia/k8s-device-plugin", ("v0.17.1",), 130_000_000),
        ]
        catalogue = [(f"{repo}:{tag}", base) for repo, tags, base in public for tag in tags]
        for service in _SERVICES:
            base = 40_000_000 + int(_digest(service)[:5], 16) * 300
            for version in ("1.8.2", "1.9.0", "1.9.1"):
                catalogue.append((f"{self.registry}/{service}:{version}", base))
        return [(reference, _image_size(reference, base)) for reference, base in catalogue]

    # ------------------------------------------------------------------ daemonsets
    def _daemonset_defs(self) -> list[_DaemonSetDef]:
        flavour = self.flavour
        defs: list[_DaemonSetDef] = []
        proxy_paths = (("xtables-lock", "/run/xtables.lock", "FileOrCreate"), ("lib-modules", "/lib/modules", ""),
                       ("varlog", "/var/log", ""))
        proxy_mounts = (("xtables-lock", "/run/xtables.lock", False), ("lib-modules", "/lib/modules", True),
                        ("varlog", "/var/log", False))
        system_images = {ref.rsplit("/", 1)[-1].split(":")[0]: ref for ref, _ in self._system_images()}
        if flavour != "k3s":
            defs.append(_DaemonSetDef(
                "kube-proxy", "kube-system", (("k8s-app", "kube-proxy"),),
                (_Container("kube-proxy", system_images.get("kube-proxy") or system_images.get("kube-proxy-amd64", ""),
                            args=("--config=/var/lib/kube-proxy-config/config", "--hostname-override=$(NODE_NAME)"),
                            field_env=(("NODE_NAME", "spec.nodeName"),), requests=(("cpu", "100m"),),
                            mounts=proxy_mounts, privileged=True),),
                host_paths=proxy_paths, service_account="kube-proxy"))
        if flavour == "eks":
            defs.append(_DaemonSetDef(
                "aws-node", "kube-system", (("k8s-app", "aws-node"),),
                (_Container("aws-node", system_images["amazon-k8s-cni"], ports=(("metrics", 61678, 61678),),
                            env=(("AWS_VPC_K8S_CNI_LOGLEVEL", "DEBUG"), ("CLUSTER_NAME", self.cluster),
                                 ("VPC_CNI_VERSION", "v1.19.3")),
                            field_env=(("MY_NODE_NAME", "spec.nodeName"),),
                            requests=(("cpu", "25m"),),
                            mounts=(("cni-bin-dir", "/host/opt/cni/bin", False), ("cni-net-dir", "/host/etc/cni/net.d", False),
                                    ("log-dir", "/host/var/log/aws-routed-eni", False), ("run-dir", "/var/run/aws-node", False),
                                    ("xtables-lock", "/run/xtables.lock", False))),
                 _Container("aws-eks-nodeagent", system_images["aws-network-policy-agent"],
                            args=("--enable-ipv6=false", "--enable-network-policy=false", "--metrics-bind-addr=:8162"),
                            requests=(("cpu", "25m"),), mounts=(("bpf-pin-path", "/sys/fs/bpf", False),))),
                host_paths=(("bpf-pin-path", "/sys/fs/bpf", ""), ("cni-bin-dir", "/opt/cni/bin", ""),
                            ("cni-net-dir", "/etc/cni/net.d", ""), ("log-dir", "/var/log/aws-routed-eni", "DirectoryOrCreate"),
                            ("run-dir", "/var/run/aws-node", "DirectoryOrCreate"), ("xtables-lock", "/run/xtables.lock", "FileOrCreate")),
                service_account="aws-node",
                extra_labels=(("app.kubernetes.io/instance", "aws-vpc-cni"), ("app.kubernetes.io/name", "aws-node"))))
            defs.append(_DaemonSetDef(
                "ebs-csi-node", "kube-system", (("app", "ebs-csi-node"), ("app.kubernetes.io/name", "aws-ebs-csi-driver")),
                (_Container("ebs-plugin", system_images["aws-ebs-csi-driver"],
                            args=("node", "--endpoint=$(CSI_ENDPOINT)", "--logging-format=text", "--v=2"),
                            env=(("CSI_ENDPOINT", "unix:/csi/csi.sock"),), field_env=(("CSI_NODE_NAME", "spec.nodeName"),),
                            ports=(("healthz", 9808, None),), requests=(("cpu", "10m"), ("memory", "40Mi")),
                            limits=(("memory", "256Mi"),), mounts=(("kubelet-dir", "/var/lib/kubelet", False),
                                                                  ("plugin-dir", "/csi", False)), privileged=True),
                 _Container("node-driver-registrar", system_images["csi-node-driver-registrar"],
                            args=("--csi-address=$(ADDRESS)", "--kubelet-registration-path=$(DRIVER_REG_SOCK_PATH)", "--v=2"),
                            requests=(("cpu", "10m"), ("memory", "40Mi")), limits=(("memory", "256Mi"),),
                            mounts=(("plugin-dir", "/csi", False), ("registration-dir", "/registration", False)))),
                host_network=False,
                host_paths=(("kubelet-dir", "/var/lib/kubelet", "Directory"),
                            ("plugin-dir", "/var/lib/kubelet/plugins/ebs.csi.aws.com/", "DirectoryOrCreate"),
                            ("registration-dir", "/var/lib/kubelet/plugins_registry/", "Directory")),
                service_account="ebs-csi-node-sa"))
        elif flavour == "gke":
            defs.append(_DaemonSetDef(
                "fluentbit-gke", "kube-system", (("k8s-app", "fluentbit-gke"),),
                (_Container("fluentbit", system_images["fluent-bit"], ports=(("metrics", 2020, 2020),),
                            requests=(("cpu", "50m"), ("memory", "100Mi")), limits=(("memory", "250Mi"),),
                            mounts=(("varrun", "/var/run/google-fluentbit/pos-files", False), ("varlog", "/var/log", False),
                                    ("varlibkubeletpods", "/var/lib/kubelet/pods", False))),),
                host_paths=(("varrun", "/var/run/google-fluentbit/pos-files", ""), ("varlog", "/var/log", ""),
                            ("varlibkubeletpods", "/var/lib/kubelet/pods", "")),
                service_account="fluentbit-gke"))
            defs.append(_DaemonSetDef(
                "pdcsi-node", "kube-system", (("k8s-app", "gcp-compute-persistent-disk-csi-driver"),),
                (_Container("gce-pd-driver", system_images["gcp-compute-persistent-disk-csi-driver"],
                            args=("--v=5", "--endpoint=unix:/csi/csi.sock", "--run-controller-service=false"),
                            requests=(("cpu", "5m"), ("memory", "20Mi")), mounts=(("kubelet-dir", "/var/lib/kubelet", False),
                                                                                 ("plugin-dir", "/csi", False)), privileged=True),),
                host_network=False,
                host_paths=(("kubelet-dir", "/var/lib/kubelet", "Directory"),
                            ("plugin-dir", "/var/lib/kubelet/plugins/pd.csi.storage.gke.io/", "DirectoryOrCreate")),
                service_account="pdcsi-node-sa"))
        elif flavour == "aks":
            defs.append(_DaemonSetDef(
                "cloud-node-manager", "kube-system", (("k8s-app", "cloud-node-manager"),),
                (_Container("cloud-node-manager", system_images["azure-cloud-node-manager"],
                            args=("--node-name=$(NODE_NAME)", "--wait-routes=true"), field_env=(("NODE_NAME", "spec.nodeName"),),
                            requests=(("cpu", "50m"), ("memory", "50Mi")), limits=(("cpu", "2"), ("memory", "512Mi"))),),
                service_account="cloud-node-manager"))
            defs.append(_DaemonSetDef(
                "csi-azuredisk-node", "kube-system", (("app", "csi-azuredisk-node"),),
                (_Container("azuredisk", system_images["azuredisk-csi"],
                            args=("--v=5", "--endpoint=$(CSI_ENDPOINT)", "--nodeid=$(KUBE_NODE_NAME)"),
                            env=(("CSI_ENDPOINT", "unix:///csi/csi.sock"),), field_env=(("KUBE_NODE_NAME", "spec.nodeName"),),
                            requests=(("cpu", "10m"), ("memory", "20Mi")), limits=(("memory", "400Mi"),),
                            mounts=(("socket-dir", "/csi", False), ("mountpoint-dir", "/var/lib/kubelet/", False)), privileged=True),),
                host_paths=(("socket-dir", "/var/lib/kubelet/plugins/disk.csi.azure.com", "DirectoryOrCreate"),
                            ("mountpoint-dir", "/var/lib/kubelet/", "DirectoryOrCreate")),
                service_account="csi-azuredisk-node-sa"))
        elif flavour == "k3s":
            defs.append(_DaemonSetDef(
                "svclb-traefik-9ce4920b", "kube-system", (("app", "svclb-traefik-9ce4920b"),),
                (_Container("lb-tcp-80", system_images["klipper-lb"], ports=(("lb-tcp-80", 80, 80),),
                            env=(("SRC_PORT", "80"), ("SRC_RANGES", "0.0.0.0/0"), ("DEST_PROTO", "TCP"), ("DEST_PORT", "80"))),
                 _Container("lb-tcp-443", system_images["klipper-lb"], ports=(("lb-tcp-443", 443, 443),),
                            env=(("SRC_PORT", "443"), ("SRC_RANGES", "0.0.0.0/0"), ("DEST_PROTO", "TCP"), ("DEST_PORT", "443")))),
                host_network=False, priority_class="", service_account="svclb",
                extra_labels=(("svccontroller.k3s.cattle.io/svcname", "traefik"),
                              ("svccontroller.k3s.cattle.io/svcnamespace", "kube-system"))))
        elif flavour == "kubeadm":
            defs.append(_DaemonSetDef(
                "calico-node", "kube-system", (("k8s-app", "calico-node"),),
                (_Container("calico-node", system_images["node"], env=(("DATASTORE_TYPE", "kubernetes"), ("CLUSTER_TYPE", "k8s,bgp"),
                                                                        ("CALICO_IPV4POOL_IPIP", "Always"), ("FELIX_LOGSEVERITYSCREEN", "info")),
                            field_env=(("NODENAME", "spec.nodeName"),), requests=(("cpu", "250m"),),
                            mounts=(("lib-modules", "/lib/modules", True), ("var-run-calico", "/var/run/calico", False),
                                    ("var-lib-calico", "/var/lib/calico", False), ("xtables-lock", "/run/xtables.lock", False)),
                            privileged=True),),
                host_paths=(("lib-modules", "/lib/modules", ""), ("var-run-calico", "/var/run/calico", "DirectoryOrCreate"),
                            ("var-lib-calico", "/var/lib/calico", "DirectoryOrCreate"), ("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
                            ("cni-bin-dir", "/opt/cni/bin", "DirectoryOrCreate")),
                service_account="calico-node"))
        else:
            defs.append(_DaemonSetDef(
                "kindnet", "kube-system", (("app", "kindnet"),),
                (_Container("kindnet-cni", system_images["kindnetd"], env=(("CONTROL_PLANE_ENDPOINT", f"{self.cluster}-control-plane:6443"),),
                            field_env=(("HOST_IP", "status.hostIP"), ("POD_IP", "status.podIP")),
                            requests=(("cpu", "100m"), ("memory", "50Mi")), limits=(("cpu", "100m"), ("memory", "50Mi")),
                            mounts=(("cni-cfg", "/etc/cni/net.d", False), ("xtables-lock", "/run/xtables.lock", False),
                                    ("lib-modules", "/lib/modules", True))),),
                host_paths=(("cni-cfg", "/etc/cni/net.d", ""), ("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
                            ("lib-modules", "/lib/modules", "")),
                priority_class="", service_account="kindnet"))
        defs.append(_DaemonSetDef(
            "node-exporter", "monitoring", (("app.kubernetes.io/name", "node-exporter"), ("app.kubernetes.io/part-of", "kube-prometheus")),
            (_Container("node-exporter", "quay.io/prometheus/node-exporter:v1.9.0",
                        args=("--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root",
                              "--web.listen-address=127.0.0.1:9100"),
                        requests=(("cpu", "102m"), ("memory", "180Mi")), limits=(("cpu", "250m"), ("memory", "180Mi")),
                        mounts=(("proc", "/host/proc", True), ("sys", "/host/sys", True), ("root", "/host/root", True)),
                        ports=(("https", 9100, 9100),)),),
            host_paths=(("proc", "/proc", ""), ("sys", "/sys", ""), ("root", "/", "")),
            empty_dirs=("tmp",), priority_class="", service_account="node-exporter",
            extra_labels=(("app.kubernetes.io/component", "exporter"), ("app.kubernetes.io/version", "1.9.0"))))
        defs.append(_DaemonSetDef(
            "nvidia-device-plugin-daemonset", "kube-system", (("name", "nvidia-device-plugin-ds"),),
            (_Container("nvidia-device-plugin-ctr", "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
                        env=(("FAIL_ON_INIT_ERROR", "false"),), mounts=(("device-plugin", "/var/lib/kubelet/device-plugins", False),)),),
            host_network=False, host_paths=(("device-plugin", "/var/lib/kubelet/device-plugins", ""),),
            priority_class="system-node-critical", gpu_only=True))
        return defs

    # ------------------------------------------------------------------ build
    def build(self) -> World:
        """Generate every object: nodes and leases first, then events, DaemonSet, mirror and app pods."""
        self._plan_nodes()
        self.world.namespaces = self._namespaces()
        for plan in self.plans:
            self.world.nodes.append(self._node(plan))
            self.world.leases.append(self._lease(plan))
        node_events = self._node_events()
        pods_on_node = [0] * len(self.plans)
        ds_pods = self._daemonset_pods(pods_on_node)
        mirror_pods = self._mirror_pods(pods_on_node)
        self.world.pods.extend(mirror_pods)
        self.world.pods.extend(ds_pods)
        self._app_pods(pods_on_node)
        self.world.events = node_events
        return self.world

    def _plan_nodes(self) -> None:
        spec = self.spec
        rng = self.rng
        count = spec.nodes
        cp_count = self.control_planes
        workers = count - cp_count
        gpu_count = min(workers, round(workers * spec.gpu_share)) if workers else 0
        if gpu_count == 0 and spec.gpu_share > 0 and workers >= 20:
            gpu_count = 1
        order = list(range(count))
        candidate_workers = order[cp_count:]
        rng.shuffle(candidate_workers)
        gpu_indices = set(candidate_workers[:gpu_count])

        def pick(share: float, pool: list[int]) -> set[int]:
            amount = min(len(pool), round(len(pool) * share))
            return set(rng.sample(pool, amount)) if amount else set()

        unhealthy = pick(spec.unhealthy_share, order)
        pressured = pick(spec.pressure_share, [i for i in order if i not in unhealthy])
        cordoned = pick(spec.cordoned_share, order[cp_count:] or order)
        npd = pick(spec.npd_share, order)
        used_ips: set[str] = set()
        for index in range(count):
            control_plane = index < cp_count
            gpu = index in gpu_indices
            plan = self._new_plan(index, control_plane, gpu, used_ips)
            if index in unhealthy:
                plan.health = "unknown" if rng.random() < 0.6 else "notready"
            if index in pressured:
                plan.pressure = rng.choice(("MemoryPressure", "DiskPressure", "PIDPressure"))
            if index in cordoned:
                plan.cordoned = True
            if index in npd:
                plan.npd = True
            self._plan_times(plan)
            self.plans.append(plan)

    def _plan_times(self, plan: _NodePlan) -> None:
        rng = self.rng
        plan.heartbeat = math.floor(max(self.now - rng.uniform(0, 295), plan.created + 20))
        if plan.health == "unknown":
            plan.heartbeat = math.floor(max(self.now - rng.uniform(180, 7200), plan.created + 20))
            plan.not_ready_since = math.floor(plan.heartbeat + NODE_MONITOR_GRACE_SECONDS + rng.uniform(0, 5))
        elif plan.health == "notready":
            plan.not_ready_since = math.floor(max(plan.created + 60, self.now - rng.uniform(60, 3600)))
            plan.heartbeat = max(plan.heartbeat, plan.not_ready_since)
        plan.pressure_since = math.floor(min(plan.heartbeat, max(plan.created + 60, self.now - rng.uniform(30, 600))))
        plan.cordoned_since = math.floor(max(plan.created + 60, self.now - rng.uniform(60, 5 * 86400)))

    def _new_plan(self, index: int, control_plane: bool, gpu: bool, used_ips: set[str]) -> _NodePlan:
        rng = self.rng
        flavour = self.flavour
        zone = self.zones[index % len(self.zones)]
        if control_plane:
            created = self.cluster_created + index * rng.uniform(60, 240)
        elif (draw := rng.random()) < 0.3:
            created = self.cluster_created + rng.uniform(600, 3 * 86400)
        elif draw < 0.35:
            created = self.now - rng.uniform(300, 3600)
        else:
            created = max(self.cluster_created + 600, self.now - rng.uniform(300, 60 * 86400))
        created = math.floor(min(created, self.now - 120))
        spot = False
        if flavour == "eks":
            types = _EKS_GPU_TYPES if gpu else _EKS_TYPES
            instance = types[rng.randrange(len(types))] if gpu else types[index % 4 if rng.random() < 0.7 else rng.randrange(len(types))]
            spot = not gpu and rng.random() < 0.15
            pool = ("gpu" if gpu else ("spot" if spot else rng.choice(("general", "general", "compute"))))
            ip = self._unique_ip(used_ips, lambda: (f"10.{self.vpc_second_octet}."
                                                    f"{(self.zones.index(zone)) * 64 + rng.randrange(64)}.{rng.randrange(1, 255)}"))
            name = f"ip-{ip.replace('.', '-')}.{self.dns_suffix}"
        elif flavour == "gke":
            types = _GKE_GPU_TYPES if gpu else _GKE_TYPES
            instance = types[rng.randrange(len(types))] if gpu else types[0 if rng.random() < 0.6 else rng.randrange(len(types))]
            spot = not gpu and rng.random() < 0.15
            if gpu or spot:
                pool = "gpu-pool" if gpu else "spot-pool"
            else:
                pool = "default-pool" if instance is _GKE_TYPES[0] else "pool-" + instance.name.split("-")[0]
            key = (pool, zone)
            if key not in self.pool_hashes:
                self.pool_hashes[key] = f"{rng.getrandbits(32):08x}"
            ip = self._unique_ip(used_ips, lambda: f"10.{128 + rng.randrange(4)}.{rng.randrange(64)}.{rng.randrange(2, 255)}")
            name = self._unique_name(lambda: f"gke-{self.cluster}-{pool[:20].rstrip('-')}-{self.pool_hashes[key]}-"
                                             f"{''.join(rng.choices('abcdefghijklmnopqrstuvwxyz0123456789', k=4))}")
        elif flavour == "aks":
            types = _AKS_GPU_TYPES if gpu else _AKS_TYPES
            spot = not gpu and rng.random() < 0.15
            if gpu:
                instance, pool = types[rng.randrange(len(types))], "gpupool"
            elif index % 10 == 0:
                instance, pool = _AKS_SYSTEM_TYPE, "nodepool1"
            else:
                instance = types[0 if rng.random() < 0.6 else rng.randrange(len(types))]
                pool = "spotpool" if spot else "userpool"
            if pool not in self.pool_numbers:
                self.pool_numbers[pool] = rng.randrange(10_000_000, 99_999_999)
                self.pool_counters[pool] = rng.randrange(0, 40)
            vm_index = self.pool_counters[pool]
            self.pool_counters[pool] += 1 + (1 if rng.random() < 0.2 else 0)
            ip = self._unique_ip(used_ips, lambda: f"10.224.{rng.randrange(0, 32)}.{rng.randrange(4, 255)}")
            name = f"aks-{pool}-{self.pool_numbers[pool]}-vmss{base36(vm_index, 6)}"
            plan_extra = vm_index
        elif flavour == "k3s":
            types = _BARE_GPU_TYPES if gpu else _BARE_TYPES
            instance = types[0 if gpu else (0 if rng.random() < 0.5 else 1)]
            pool = "servers" if control_plane else "agents"
            ip = self._unique_ip(used_ips, lambda: f"192.168.{rng.randrange(1, 40)}.{rng.randrange(2, 255)}")
            role = "server" if control_plane else "node"
            name = f"{self.site}-{role}-{index + 1:02d}" if control_plane else f"{self.site}-{role}-{index - self.control_planes + 1:02d}"
        elif flavour == "kubeadm":
            types = _BARE_GPU_TYPES if gpu else _BARE_TYPES
            instance = types[1 if gpu else (2 if control_plane else 3 if rng.random() < 0.6 else 2)]
            pool = "control-plane" if control_plane else "workers"
            ip = self._unique_ip(used_ips, lambda: f"10.10.{rng.randrange(0, 64)}.{rng.randrange(2, 255)}")
            width = 2 if self.spec.nodes < 100 else (3 if self.spec.nodes < 1000 else 4)
            number = index + 1 if control_plane else index - self.control_planes + 1
            name = f"{self.cluster}-cp-{number}" if control_plane else f"{self.cluster}-worker-{number:0{width}d}"
        else:
            instance = _BARE_GPU_TYPES[1] if gpu else _InstanceType("kind", 8, 31.2, 110, disk_gib=457)
            pool = "kind"
            ip = f"172.18.{(index + 2) // 254}.{(index + 2) % 254 or 254}"
            used_ips.add(ip)
            if control_plane:
                name = f"{self.cluster}-control-plane" + ("" if index == 0 else str(index + 1))
            else:
                number = index - self.control_planes
                name = f"{self.cluster}-worker" + ("" if number == 0 else str(number + 1))
        plan = _NodePlan(index=index, name=name, uid=random_uid(rng), ip=ip, created=created,
                         control_plane=control_plane, instance=instance, zone=zone, pool=pool, spot=spot)
        if flavour == "aks":
            plan.vm_index = plan_extra
        if flavour != "eks":
            plan.pod_cidr = f"10.{244 + index // 256}.{index % 256}.0/24" if flavour in ("kubeadm", "kind", "k3s") \
                else f"10.{48 + index // 256}.{index % 256}.0/24"
            if flavour == "k3s":
                plan.pod_cidr = f"10.42.{index % 256}.0/24" if index < 256 else f"10.{43 + index // 256}.{index % 256}.0/24"
        public_share = {"eks": 0.1, "k3s": 0.1, "gke": 1.0 if flavour == "gke" and self.public_nodes else 0.0}
        if not control_plane and rng.random() < public_share.get(flavour, 0.0):
            first_octet = rng.choice((3, 18, 34, 35, 52, 54))
            plan.external_ip = f"{first_octet}.{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        return plan

    def _unique_ip(self, used: set[str], draw) -> str:
        for _ in range(1000):
            ip = draw()
            if ip not in used:
                used.add(ip)
                return ip
        raise ValueError("too many nodes for the simulated address space")

    def _unique_name(self, draw) -> str:
        names = getattr(self, "_node_names", None)
        if names is None:
            names = self._node_names = set()
        while True:
            name = draw()
            if name not in names:
                names.add(name)
                return name

    # ------------------------------------------------------------------ namespaces
    def _namespaces(self) -> list[dict]:
        rng = self.rng
        count = min(len(_APP_NAMESPACES), 3 + self.spec.nodes // 40)
        self.app_namespaces = sorted(rng.sample(_APP_NAMESPACES, count))
        names = ["default", "kube-system", "kube-public", "kube-node-lease", "monitoring"] + self.app_namespaces
        namespaces = []
        for position, name in enumerate(names):
            created = self.cluster_created + (position * 7 if position < 5 else rng.uniform(3600, 10 * 86400))
            labels = {"kubernetes.io/metadata.name": name}
            if name in self.app_namespaces and rng.random() < 0.3:
                labels["istio-injection"] = "enabled"
            namespaces.append({"kind": "Namespace", "apiVersion": "v1",
                               "metadata": {"name": name, "uid": random_uid(rng), "creationTimestamp": format_epoch(created),
                                            "labels": labels},
                               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        return namespaces

    # ------------------------------------------------------------------ nodes
    def _node(self, plan: _NodePlan) -> dict:
        rng = self.rng
        flavour = self.flavour
        instance = plan.instance
        version = self.versions[1] if (not plan.control_plane and rng.random() < 0.1) else self.versions[0]
        labels = self._node_labels(plan)
        annotations = self._node_annotations(plan)
        spec: dict[str, Any] = {}
        if plan.pod_cidr is not None:
            spec["podCIDR"] = plan.pod_cidr
            spec["podCIDRs"] = [plan.pod_cidr]
        provider_id = self._provider_id(plan)
        if provider_id:
            spec["providerID"] = provider_id
        taints = self._node_taints(plan)
        if plan.cordoned:
            spec["unschedulable"] = True
        if taints:
            spec["taints"] = taints
        memory_ki = int(instance.memory_gib * _GiB_KI * 0.965)
        disk_ki = int(instance.disk_gib * 1_000_000_000 / 1024 * 0.98)
        capacity: dict[str, str] = {"cpu": str(instance.cpu), "ephemeral-storage": _quantity_ki(disk_ki),
                                    "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": _quantity_ki(memory_ki),
                                    "pods": str(instance.max_pods)}
        if flavour in MANAGED_PROFILES:
            cpu_alloc = f"{instance.cpu * 1000 - _cpu_reserved_millis(instance.cpu)}m"
            if flavour == "eks":
                reserved_ki = (255 + 11 * instance.max_pods + 100) * _MiB_KI
            else:
                reserved_ki = _memory_reserved_ki(memory_ki) + 100 * _MiB_KI
            storage_alloc = str(int(disk_ki * 1024 * 0.9) - 1024 ** 3)
        else:
            cpu_alloc = str(instance.cpu)
            reserved_ki = 100 * _MiB_KI
            storage_alloc = str(int(disk_ki * 1024 * 0.9))
        allocatable = {"cpu": cpu_alloc, "ephemeral-storage": storage_alloc, "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                       "memory": _quantity_ki(memory_ki - reserved_ki), "pods": str(instance.max_pods)}
        if instance.gpus:
            capacity[GPU_RESOURCE] = str(instance.gpus)
            allocatable[GPU_RESOURCE] = str(instance.gpus)
        status: dict[str, Any] = {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": self._node_conditions(plan),
            "addresses": self._node_addresses(plan),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": self._node_info(plan, version),
            "images": self._node_images(plan),
        }
        if flavour != "kind":
            status["runtimeHandlers"] = [
                {"name": "", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}},
                {"name": "runc", "features": {"recursiveReadOnlyMounts": True, "userNamespaces": True}}]
        metadata: dict[str, Any] = {"name": plan.name, "uid": plan.uid, "creationTimestamp": format_epoch(plan.created),
                                    "labels": {k: v for k, v in labels.items()}, "annotations": annotations}
        if flavour == "eks" and "karpenter.sh/nodepool" in labels:
            metadata["finalizers"] = ["karpenter.sh/termination"]
        if flavour == "k3s":
            metadata["finalizers"] = ["wrangler.cattle.io/node"]
        return {"kind": "Node", "apiVersion": "v1", "metadata": metadata, "spec": spec, "status": status}

    def _node_labels(self, plan: _NodePlan) -> dict[str, str]:
        rng = self.rng
        flavour = self.flavour
        instance = plan.instance
        arch = instance.arch
        labels: dict[str, str] = {"beta.kubernetes.io/arch": arch}
        if flavour in MANAGED_PROFILES:
            labels["beta.kubernetes.io/instance-type"] = instance.name
        elif flavour == "k3s":
            labels["beta.kubernetes.io/instance-type"] = "k3s"
        labels["beta.kubernetes.io/os"] = "linux"
        if flavour in MANAGED_PROFILES:
            labels["failure-domain.beta.kubernetes.io/region"] = self.region
            labels["failure-domain.beta.kubernetes.io/zone"] = plan.zone
        labels["kubernetes.io/arch"] = arch
        labels["kubernetes.io/hostname"] = plan.name
        labels["kubernetes.io/os"] = "linux"
        if flavour in MANAGED_PROFILES:
            labels["node.kubernetes.io/instance-type"] = instance.name
            labels["topology.kubernetes.io/region"] = self.region
            labels["topology.kubernetes.io/zone"] = plan.zone
        elif flavour == "k3s":
            labels["node.kubernetes.io/instance-type"] = "k3s"
            labels["topology.kubernetes.io/zone"] = plan.zone
        elif flavour == "kubeadm":
            labels["topology.kubernetes.io/zone"] = plan.zone
        if flavour == "eks":
            if self.karpenter and not plan.gpu and rng.random() < 0.6:
                family = instance.name.split(".")[0]
                labels["karpenter.sh/nodepool"] = "spot" if plan.spot else "default"
                labels["karpenter.sh/capacity-type"] = "spot" if plan.spot else "on-demand"
                labels["karpenter.sh/initialized"] = "true"
                labels["karpenter.sh/registered"] = "true"
                labels["karpenter.k8s.aws/instance-category"] = family[0]
                labels["karpenter.k8s.aws/instance-family"] = family
                labels["karpenter.k8s.aws/instance-generation"] = "".join(ch for ch in family if ch.isdigit())
                labels["karpenter.k8s.aws/instance-size"] = instance.name.split(".")[1]
                labels["karpenter.k8s.aws/instance-cpu"] = str(instance.cpu)
                labels["karpenter.k8s.aws/instance-memory"] = str(int(instance.memory_gib * 1024))
                labels["karpenter.k8s.aws/instance-hypervisor"] = "nitro"
            else:
                labels["eks.amazonaws.com/capacityType"] = "SPOT" if plan.spot else "ON_DEMAND"
                labels["eks.amazonaws.com/nodegroup"] = f"{self.cluster}-{plan.pool}"
                labels["eks.amazonaws.com/nodegroup-image"] = self.ami
                labels["eks.amazonaws.com/sourceLaunchTemplateId"] = f"lt-0{int(_digest(plan.pool)[:15], 16):016x}"[:20]
                labels["eks.amazonaws.com/sourceLaunchTemplateVersion"] = "1"
            labels["k8s.io/cloud-provider-aws"] = self.cloud_provider_hash
            labels["topology.k8s.aws/zone-id"] = self.zone_ids[plan.zone]
        elif flavour == "gke":
            labels["cloud.google.com/gke-boot-disk"] = "pd-balanced"
            labels["cloud.google.com/gke-container-runtime"] = "containerd"
            labels["cloud.google.com/gke-cpu-scaling-level"] = str(instance.cpu)
            labels["cloud.google.com/gke-logging-variant"] = "DEFAULT"
            labels["cloud.google.com/gke-max-pods-per-node"] = str(instance.max_pods)
            labels["cloud.google.com/gke-memory-gb-scaling-level"] = str(int(instance.memory_gib))
            labels["cloud.google.com/gke-nodepool"] = plan.pool
            labels["cloud.google.com/gke-os-distribution"] = "cos"
            labels["cloud.google.com/gke-provisioning"] = "spot" if plan.spot else "standard"
            labels["cloud.google.com/gke-stack-type"] = "IPV4"
            labels["cloud.google.com/machine-family"] = instance.name.split("-")[0]
            labels["cloud.google.com/private-node"] = "false" if self.public_nodes else "true"
            labels["node.kubernetes.io/masq-agent-ds-ready"] = "true"
            labels["topology.gke.io/zone"] = plan.zone
            if plan.spot:
                labels["cloud.google.com/gke-spot"] = "true"
            if plan.gpu:
                labels["cloud.google.com/gke-accelerator"] = "nvidia-tesla-t4" if instance.name.startswith("n1") else "nvidia-tesla-a100"
                labels["cloud.google.com/gke-gpu"] = "true"
        elif flavour == "aks":
            labels["agentpool"] = plan.pool
            labels["kubernetes.azure.com/agentpool"] = plan.pool
            labels["kubernetes.azure.com/cluster"] = f"MC_{self.resource_group}_{self.cluster}_{self.region}"
            labels["kubernetes.azure.com/kubelet-identity-client-id"] = self.kubelet_identity
            labels["kubernetes.azure.com/mode"] = "system" if plan.pool == "nodepool1" else "user"
            labels["kubernetes.azure.com/node-image-version"] = self.node_image
            labels["kubernetes.azure.com/nodepool-type"] = "VirtualMachineScaleSets"
            labels["kubernetes.azure.com/os-sku"] = "Ubuntu"
            labels["kubernetes.azure.com/role"] = "agent"
            labels["kubernetes.azure.com/storageprofile"] = "managed"
            labels["kubernetes.azure.com/storagetier"] = "Premium_LRS"
            labels["kubernetes.io/role"] = "agent"
            labels["node-role.kubernetes.io/agent"] = ""
            labels["storageprofile"] = "managed"
            labels["storagetier"] = "Premium_LRS"
            labels["topology.disk.csi.azure.com/zone"] = plan.zone
            if plan.spot:
                labels["kubernetes.azure.com/scalesetpriority"] = "spot"
            if plan.gpu:
                labels["kubernetes.azure.com/accelerator"] = "nvidia"
        if plan.control_plane:
            if flavour == "k3s":
                labels["node-role.kubernetes.io/control-plane"] = "true"
                labels["node-role.kubernetes.io/etcd"] = "true"
                labels["node-role.kubernetes.io/master"] = "true"
            else:
                labels["node-role.kubernetes.io/control-plane"] = ""
                labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        elif flavour == "kubeadm":
            labels["node-role.kubernetes.io/worker"] = ""
        if plan.gpu:
            labels["nvidia.com/gpu.count"] = str(instance.gpus)
            labels["nvidia.com/gpu.present"] = "true"
            labels["nvidia.com/gpu.product"] = {"eks": "NVIDIA-A10G", "gke": "Tesla-T4", "aks": "Tesla-V100-PCIE-16GB"}.get(
                flavour, "NVIDIA-Jetson-Orin")
        plan.labels = dict(labels)
        return labels

    def _node_annotations(self, plan: _NodePlan) -> dict[str, str]:
        flavour = self.flavour
        annotations: dict[str, str] = {}
        if flavour == "eks":
            annotations["alpha.kubernetes.io/provided-node-ip"] = plan.ip
        elif flavour == "gke":
            annotations["container.googleapis.com/instance_id"] = str(self.rng.randrange(10**18, 10**19))
            annotations["csi.volume.kubernetes.io/nodeid"] = (
                f'{{"pd.csi.storage.gke.io":"projects/{self.project}/zones/{plan.zone}/instances/{plan.name}"}}')
            annotations["node.gke.io/last-applied-node-labels"] = (
                f"cloud.google.com/gke-boot-disk=pd-balanced,cloud.google.com/gke-container-runtime=containerd,"
                f"cloud.google.com/gke-nodepool={plan.pool},cloud.google.com/gke-os-distribution=cos,"
                f"cloud.google.com/machine-family={plan.instance.name.split('-')[0]}")
            annotations["node.gke.io/last-applied-node-taints"] = ""
        elif flavour == "aks":
            annotations["csi.volume.kubernetes.io/nodeid"] = (
                f'{{"disk.csi.azure.com":"{plan.name}","file.csi.azure.com":"{plan.name}"}}')
        elif flavour == "k3s":
            annotations["alpha.kubernetes.io/provided-node-ip"] = plan.ip
            annotations["flannel.alpha.coreos.com/backend-data"] = "null"
            annotations["flannel.alpha.coreos.com/backend-type"] = "host-gw"
            annotations["flannel.alpha.coreos.com/kube-subnet-manager"] = "true"
            annotations["flannel.alpha.coreos.com/public-ip"] = plan.ip
            annotations["k3s.io/hostname"] = plan.name
            annotations["k3s.io/internal-ip"] = plan.ip
            role = "server" if plan.control_plane else "agent"
            annotations["k3s.io/node-args"] = f'["{role}","--flannel-backend","host-gw"]'
            annotations["k3s.io/node-config-hash"] = f"{self.rng.getrandbits(256):064X}"[:52] + "===="
            annotations["k3s.io/node-env"] = "{}"
        elif flavour == "kubeadm":
            annotations["kubeadm.alpha.kubernetes.io/cri-socket"] = "unix:///var/run/containerd/containerd.sock"
            annotations["projectcalico.org/IPv4Address"] = f"{plan.ip}/24"
            annotations["projectcalico.org/IPv4IPIPTunnelAddr"] = f"192.168.{plan.index % 256}.{(plan.index // 256) * 64}"
        else:
            annotations["kubeadm.alpha.kubernetes.io/cri-socket"] = "unix:///run/containerd/containerd.sock"
        annotations["node.alpha.kubernetes.io/ttl"] = "0"
        annotations["volumes.kubernetes.io/controller-managed-attach-detach"] = "true"
        return annotations

    def _provider_id(self, plan: _NodePlan) -> str | None:
        flavour = self.flavour
        if flavour == "eks":
            return f"aws:///{plan.zone}/i-0{self.rng.getrandbits(64):016x}"
        if flavour == "gke":
            return f"gce://{self.project}/{plan.zone}/{plan.name}"
        if flavour == "aks":
            pool = plan.name.rsplit("-vmss", 1)[0]
            return (f"azure:///subscriptions/{self.subscription}/resourceGroups/mc_{self.resource_group}_{self.cluster}_"
                    f"{self.region}/providers/Microsoft.Compute/virtualMachineScaleSets/{pool}-vmss/virtualMachines/"
                    f"{plan.vm_index}")
        if flavour == "k3s":
            return f"k3s://{plan.name}"
        if flavour == "kind":
            return f"kind://docker/{self.cluster}/{plan.name}"
        return None

    def _node_taints(self, plan: _NodePlan) -> list[dict]:
        taints: list[dict] = []
        all_control_planes = self.control_planes == self.spec.nodes
        if plan.control_plane and not all_control_planes:
            taints.append(make_taint(CONTROL_PLANE_TAINT, "NoSchedule"))
        if plan.gpu:
            taints.append(make_taint(GPU_RESOURCE, "NoSchedule", value="present"))
        if plan.spot and self.spot_key is not None:
            taints.append(make_taint(self.spot_key[0], "NoSchedule", value=self.spot_key[1]))
        pressure = plan.pressure
        if pressure and plan.health == "ready":
            taints.append(make_taint(PRESSURE_TAINTS[pressure], "NoSchedule", format_epoch(plan.pressure_since)))
        if plan.health == "unknown":
            added = format_epoch(plan.not_ready_since or self.now)
            taints.append(make_taint(UNREACHABLE_TAINT, "NoSchedule", added))
            taints.append(make_taint(UNREACHABLE_TAINT, "NoExecute", format_epoch((plan.not_ready_since or self.now) + 5)))
        elif plan.health == "notready":
            added = format_epoch(plan.not_ready_since or self.now)
            taints.append(make_taint(NOT_READY_TAINT, "NoSchedule", added))
            taints.append(make_taint(NOT_READY_TAINT, "NoExecute", added))
        if plan.cordoned:
            taints.append(make_taint(UNSCHEDULABLE_TAINT, "NoSchedule", format_epoch(plan.cordoned_since)))
        return taints

    def _node_conditions(self, plan: _NodePlan) -> list[dict]:
        rng = self.rng
        flavour = self.flavour
        heartbeat = format_epoch(plan.heartbeat)
        registered = plan.created
        last_boot = max(registered, plan.heartbeat - rng.uniform(3600, 40 * 86400))
        registered_text = format_epoch(registered)
        conditions: list[dict] = []
        if plan.npd:
            for condition_type, reason, message in _NPD_CONDITIONS:
                conditions.append({"type": condition_type, "status": "False", "lastHeartbeatTime": heartbeat,
                                   "lastTransitionTime": registered_text, "reason": reason, "message": message})
        if flavour in ("gke", "aks"):
            route_time = format_epoch(plan.created + 12)
            conditions.append({"type": "NetworkUnavailable", "status": "False", "lastHeartbeatTime": route_time,
                               "lastTransitionTime": route_time, "reason": "RouteCreated",
                               "message": "RouteController created a route"})
        elif flavour == "kubeadm":
            calico_time = format_epoch(max(plan.created + 20, plan.heartbeat - rng.uniform(600, 20 * 86400)))
            conditions.append({"type": "NetworkUnavailable", "status": "False", "lastHeartbeatTime": calico_time,
                               "lastTransitionTime": calico_time, "reason": "CalicoIsUp",
                               "message": "Calico is running on this node"})
        pressure = plan.pressure
        pressure_since = format_epoch(plan.pressure_since)
        for condition_type in KUBELET_CONDITION_TYPES:
            if condition_type == "Ready":
                status = "False" if plan.health == "notready" else "True"
                if plan.health == "notready":
                    transition = format_epoch(plan.not_ready_since or self.now)
                else:
                    transition = format_epoch(min(plan.heartbeat, max(plan.created + 10, last_boot + rng.uniform(8, 20))))
            else:
                status = "True" if condition_type == pressure else "False"
                transition = pressure_since if status == "True" else registered_text
            conditions.append(kubelet_condition(condition_type, status, heartbeat, transition))
        if plan.health == "unknown":
            since = format_epoch(plan.not_ready_since or self.now)
            conditions = [unknown_condition(c, since) if c["type"] in KUBELET_CONDITION_TYPES else c for c in conditions]
        return conditions

    def _node_addresses(self, plan: _NodePlan) -> list[dict]:
        flavour = self.flavour
        addresses = [{"type": "InternalIP", "address": plan.ip}]
        if plan.external_ip:
            addresses.append({"type": "ExternalIP", "address": plan.external_ip})
        if flavour == "eks":
            addresses.append({"type": "InternalDNS", "address": plan.name})
            addresses.append({"type": "Hostname", "address": plan.name})
            if plan.external_ip:
                domain = "compute-1.amazonaws.com" if self.region == "us-east-1" else f"{self.region}.compute.amazonaws.com"
                addresses.append({"type": "ExternalDNS", "address": f"ec2-{plan.external_ip.replace('.', '-')}.{domain}"})
        else:
            addresses.append({"type": "Hostname", "address": plan.name})
        return addresses

    def _node_info(self, plan: _NodePlan, version: str) -> dict:
        rng = self.rng
        flavour = self.flavour
        arch = plan.instance.arch
        machine_arch = "aarch64" if arch == "arm64" else "x86_64"
        machine_id = f"{rng.getrandbits(128):032x}"
        if flavour == "eks":
            machine_id = "ec2" + machine_id[3:]
            if rng.random() < 0.2:
                os_image, kernel, runtime = "Bottlerocket OS 1.36.0 (aws-k8s-1.32)", "6.1.131", "containerd://1.7.27+bottlerocket"
            else:
                os_image, kernel, runtime = ("Amazon Linux 2023.7.20250414", f"6.1.132-147.221.amzn2023.{machine_arch}",
                                             "containerd://1.7.27")
        elif flavour == "gke":
            os_image, kernel, runtime = "Container-Optimized OS from Google", "6.6.72+", "containerd://1.7.24"
        elif flavour == "aks":
            os_image, kernel, runtime = "Ubuntu 22.04.5 LTS", "5.15.0-1082-azure", "containerd://1.7.27-1"
        elif flavour == "k3s":
            if arch == "arm64":
                os_image, kernel = "Ubuntu 24.04.2 LTS", "6.8.0-1021-raspi"
            else:
                os_image, kernel = "Ubuntu 24.04.2 LTS", "6.8.0-57-generic"
            runtime = "containerd://2.0.4-k3s2"
        elif flavour == "kubeadm":
            os_image, kernel, runtime = "Ubuntu 22.04.5 LTS", "5.15.0-136-generic", "containerd://1.7.25"
        else:
            os_image, kernel, runtime = "Debian GNU/Linux 12 (bookworm)", "6.8.0-57-generic", "containerd://2.0.3"
        system_uuid = str(uuid.UUID(hex=machine_id))
        if flavour in ("gke", "aks"):
            system_uuid = random_uid(rng)
        return {"machineID": machine_id, "systemUUID": system_uuid, "bootID": random_uid(rng), "kernelVersion": kernel,
                "osImage": os_image, "containerRuntimeVersion": runtime, "kubeletVersion": version,
                "kubeProxyVersion": "" if flavour == "k3s" else version, "operatingSystem": "linux", "architecture": arch}

    def _node_images(self, plan: _NodePlan) -> list[dict]:
        rng = self.rng
        low, high = self.spec.images_per_node
        wanted = min(50, rng.randint(low, high))
        chosen: dict[str, int] = {}
        for reference, size in self._system_images():
            if len(chosen) >= wanted:
                break
            chosen[reference] = size
        if len(chosen) < wanted:
            for reference, size in rng.sample(self.app_images, min(len(self.app_images), wanted - len(chosen))):
                chosen[reference] = size
        plan.image_refs = list(chosen)
        images = []
        for reference, size in sorted(chosen.items(), key=lambda item: -item[1]):
            repository = reference.rsplit(":", 1)[0]
            names = [f"{repository}@sha256:{_digest(reference)}", reference]
            images.append({"names": names, "sizeBytes": size})
        return images

    # ------------------------------------------------------------------ leases & events
    def _lease(self, plan: _NodePlan) -> dict:
        rng = self.rng
        if plan.health == "unknown":
            renew = plan.heartbeat - rng.uniform(0, 10)
        else:
            renew = self.now - rng.uniform(0, 10)
        return {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": plan.name, "namespace": "kube-node-lease", "uid": random_uid(rng),
                             "creationTimestamp": format_epoch(plan.created + rng.uniform(1, 10)),
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": plan.name, "uid": plan.uid}]},
                "spec": {"holderIdentity": plan.name, "leaseDurationSeconds": 40,
                         "renewTime": format_epoch_micro(renew)}}

    def _node_events(self) -> list[dict]:
        rng = self.rng
        events: list[dict] = []

        def record(plan: _NodePlan, reason: str, message: str, at: float, **options: Any) -> None:
            stamp = format_epoch(at)
            events.append(make_node_event(plan.name, plan.uid, reason, message, stamp, stamp, event_suffix(rng),
                                          uid=random_uid(rng), **options))

        controller_restart = self.now - rng.uniform(300, 3300)
        for plan in self.plans:
            record(plan, "RegisteredNode", f"Node {plan.name} event: Registered Node {plan.name} in Controller",
                   max(plan.created + 5, controller_restart), component="node-controller")
            if self.now - plan.created < 3600:
                record(plan, "Starting", "Starting kubelet.", plan.created)
                if rng.random() < 0.5:
                    record(plan, "InvalidDiskCapacity", "invalid capacity 0 on image filesystem", plan.created,
                           event_type="Warning")
                for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
                    record(plan, reason, f"Node {plan.name} status is now: {reason}", plan.created,
                           count=rng.randint(1, 3))
                record(plan, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", plan.created)
                record(plan, "NodeReady", f"Node {plan.name} status is now: NodeReady", plan.created + rng.uniform(8, 20))
            if plan.health in ("unknown", "notready") and plan.not_ready_since is not None:
                record(plan, "NodeNotReady", f"Node {plan.name} status is now: NodeNotReady", plan.not_ready_since,
                       component="node-controller")
            if plan.pressure and plan.health == "ready":
                reason = {"MemoryPressure": "NodeHasInsufficientMemory", "DiskPressure": "NodeHasDiskPressure",
                          "PIDPressure": "NodeHasInsufficientPID"}[plan.pressure]
                resource = {"MemoryPressure": "memory", "DiskPressure": "ephemeral-storage",
                            "PIDPressure": "pids"}[plan.pressure]
                record(plan, reason, f"Node {plan.name} status is now: {reason}", plan.pressure_since)
                record(plan, "EvictionThresholdMet", f"Attempting to reclaim {resource}", plan.pressure_since,
                       event_type="Warning", count=rng.randint(1, 6))
            if plan.cordoned:
                record(plan, "NodeNotSchedulable", f"Node {plan.name} status is now: NodeNotSchedulable",
                       plan.cordoned_since)
        return events

    # ------------------------------------------------------------------ pods
    def _pod_name(self, namespace: str, base: str) -> str:
        used = self.used_pod_names.setdefault(namespace, set())
        while True:
            name = f"{base}{random_suffix(self.rng)}"
            if name not in used:
                used.add(name)
                return name

    def _reserve_name(self, namespace: str, name: str) -> str:
        used = self.used_pod_names.setdefault(namespace, set())
        used.add(name)
        return name

    def _pod_ip(self, plan: _NodePlan) -> str:
        if plan.pod_cidr is not None:
            base = plan.pod_cidr.rsplit(".", 1)[0]
            number = plan.pod_ip_counter
            plan.pod_ip_counter = 2 + (plan.pod_ip_counter - 1) % 252
            return f"{base}.{number}"
        serial = self.vpc_pod_serial
        self.vpc_pod_serial += 1
        return f"10.{self.vpc_second_octet + 1 + serial // 65024}.{(serial // 254) % 256}.{serial % 254 + 1}"

    def _placement_times(self, plan: _NodePlan) -> float:
        rng = self.rng
        start = max(plan.created + 20, self.now - 30 * 86400)
        return math.floor(rng.uniform(start, max(start + 1, self.now - 60)))

    def _node_ready(self, plan: _NodePlan) -> tuple[bool, float | None]:
        if plan.health in ("unknown", "notready"):
            return False, plan.not_ready_since
        return True, None

    def _daemonset_pods(self, pods_on_node: list[int]) -> list[dict]:
        rng = self.rng
        spec = self.spec
        any_gpu = any(plan.gpu for plan in self.plans)
        defs = [d for d in self.daemonsets if not d.gpu_only or any_gpu]
        defs = defs[:spec.pods_per_node]
        pods: list[dict] = []
        for definition in defs:
            ds_uid = random_uid(rng)
            revision = f"{rng.getrandbits(40):010x}"[:10]
            labels = tuple(definition.selector) + tuple(definition.extra_labels) + (
                ("controller-revision-hash", revision), ("pod-template-generation", "1"))
            containers = definition.containers
            template = _PodTemplate(
                namespace=definition.namespace, labels=labels, containers=containers, owner_kind="DaemonSet",
                owner_name=definition.name, owner_uid=ds_uid, host_network=definition.host_network,
                host_paths=definition.host_paths, empty_dirs=definition.empty_dirs,
                service_account=definition.service_account, priority_class=definition.priority_class or None,
                priority=_SYSTEM_PRIORITY.get(definition.priority_class, 0), tolerations="all",
                node_selector=((GPU_RESOURCE + ".present", "true"),) if definition.gpu_only else (),
                daemonset=True, qos=_qos(containers))
            scheduled = ready_count = 0
            for plan in self.plans:
                if definition.gpu_only and not plan.gpu:
                    continue
                ready, not_ready_since = self._node_ready(plan)
                placement = _PodPlacement(
                    name=self._pod_name(definition.namespace, f"{definition.name}-"), uid=random_uid(rng),
                    node=plan.name, host_ip=plan.ip,
                    pod_ip=plan.ip if definition.host_network else self._pod_ip(plan),
                    created=max(plan.created + 5, self._placement_times(plan) if rng.random() < 0.3 else plan.created + 5),
                    ready=ready, node_not_ready_since=not_ready_since, generate_name=f"{definition.name}-",
                    restarts=rng.choice((0, 0, 0, 0, 1, 2)))
                pods.append(_build_pod(template, placement, rng, self.spot_key))
                pods_on_node[plan.index] += 1
                scheduled += 1
                ready_count += 1 if ready else 0
            self.world.daemonsets.append(self._daemonset_object(definition, template, ds_uid, revision, scheduled, ready_count))
        return pods

    def _daemonset_object(self, definition: _DaemonSetDef, template: _PodTemplate, uid: str, revision: str,
                          scheduled: int, ready: int) -> dict:
        pod_labels = dict(definition.selector)
        pod_labels.update(definition.extra_labels)
        containers = [_container_spec(container, None) for container in definition.containers]
        pod_spec: dict[str, Any] = {
            "volumes": [{"name": name, "hostPath": {"path": path, "type": path_type}} for name, path, path_type in definition.host_paths]
            + [{"name": name, "emptyDir": {}} for name in definition.empty_dirs],
            "containers": containers, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirstWithHostNet" if definition.host_network else "ClusterFirst",
            "serviceAccountName": definition.service_account, "serviceAccount": definition.service_account,
            "securityContext": {}, "schedulerName": "default-scheduler", "tolerations": [{"operator": "Exists"}]}
        if definition.host_network:
            pod_spec["hostNetwork"] = True
        if definition.gpu_only:
            pod_spec["nodeSelector"] = {GPU_RESOURCE + ".present": "true"}
        if definition.priority_class:
            pod_spec["priorityClassName"] = definition.priority_class
        status: dict[str, Any] = {"currentNumberScheduled": scheduled, "numberMisscheduled": 0,
                                  "desiredNumberScheduled": scheduled, "numberReady": ready, "observedGeneration": 1,
                                  "updatedNumberScheduled": scheduled, "numberAvailable": ready}
        if scheduled - ready:
            status["numberUnavailable"] = scheduled - ready
        return {"kind": "DaemonSet", "apiVersion": "apps/v1",
                "metadata": {"name": definition.name, "namespace": definition.namespace, "uid": uid,
                             "creationTimestamp": format_epoch(self.cluster_created + 30), "generation": 1,
                             "labels": dict(definition.selector),
                             "annotations": {"deprecated.daemonset.template.generation": "1"}},
                "spec": {"selector": {"matchLabels": dict(definition.selector)},
                         "template": {"metadata": {"creationTimestamp": None, "labels": pod_labels}, "spec": pod_spec},
                         "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                         "revisionHistoryLimit": 10},
                "status": status}

    def _mirror_pods(self, pods_on_node: list[int]) -> list[dict]:
        if self.flavour not in ("kubeadm", "kind"):
            return []
        rng = self.rng
        version = self.versions[0]
        registry = "registry.k8s.io"
        pods = []
        for plan in self.plans:
            if not plan.control_plane:
                continue
            budget = self.spec.pods_per_node - pods_on_node[plan.index]
            for component in _CONTROL_PLANE_COMPONENTS[:max(0, budget)]:
                name = self._reserve_name("kube-system", f"{component}-{plan.name}")
                image = f"{registry}/etcd:3.5.16-0" if component == "etcd" else f"{registry}/{component}:{version}"
                args = _control_plane_args(component, plan.ip, self.cluster)
                container = _Container(component, image, args=args,
                                       requests=(("cpu", {"etcd": "100m", "kube-apiserver": "250m",
                                                         "kube-controller-manager": "200m", "kube-scheduler": "100m"}[component]),)
                                       + ((("memory", "100Mi"),) if component == "etcd" else ()),
                                       mounts=_CONTROL_PLANE_MOUNTS[component],
                                       probe_port={"etcd": 2381, "kube-apiserver": 6443, "kube-controller-manager": 10257,
                                                   "kube-scheduler": 10259}[component],
                                       probe_path="/health?exclude=NOSPACE&serializable=true" if component == "etcd" else "/livez")
                config_hash = _digest(plan.name + component)[:32]
                annotations = (("kubernetes.io/config.hash", config_hash), ("kubernetes.io/config.mirror", config_hash),
                               ("kubernetes.io/config.seen", format_epoch_micro(plan.created - 30 + rng.random())[:-1] + "123Z"),
                               ("kubernetes.io/config.source", "file"))
                if component == "etcd":
                    annotations += (("kubeadm.kubernetes.io/etcd.advertise-client-urls", f"https://{plan.ip}:2379"),)
                elif component == "kube-apiserver":
                    annotations += (("kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint", f"{plan.ip}:6443"),)
                template = _PodTemplate(
                    namespace="kube-system", labels=(("component", component), ("tier", "control-plane")),
                    containers=(container,), owner_kind="Node", owner_name=plan.name, owner_uid=plan.uid,
                    owner_api_version="v1", annotations=annotations, host_network=True,
                    host_paths=_CONTROL_PLANE_PATHS[component], priority_class="system-node-critical",
                    priority=_SYSTEM_PRIORITY["system-node-critical"], tolerations="mirror", mirror=True,
                    qos=_qos((container,)))
                ready, since = self._node_ready(plan)
                placement = _PodPlacement(name=name, uid=random_uid(rng), node=plan.name, host_ip=plan.ip, pod_ip=plan.ip,
                                          created=plan.created + 2, ready=ready, node_not_ready_since=since,
                                          restarts=rng.choice((0, 0, 1, 3)))
                pod = _build_pod(template, placement, rng, self.spot_key)
                pod["metadata"]["ownerReferences"][0].pop("blockOwnerDeletion", None)
                pods.append(pod)
                pods_on_node[plan.index] += 1
        return pods

    def _app_pods(self, pods_on_node: list[int]) -> None:
        rng = self.rng
        spec = self.spec
        plans = self.plans
        if spec.pods_per_node == 0 or not plans:
            return
        app_nodes = [plan for plan in plans if plan.schedulable_for_apps]
        if not app_nodes:
            app_nodes = [plan for plan in plans if not plan.gpu] or list(plans)
        gpu_nodes = [plan for plan in plans if plan.gpu and not plan.control_plane]
        normal_slots: list[int] = []
        gpu_slots: list[int] = []
        leftover = 0
        app_indices = {plan.index for plan in app_nodes}
        for plan in plans:
            free = max(0, spec.pods_per_node - pods_on_node[plan.index])
            if plan.index in app_indices:
                normal_slots.extend([plan.index] * free)
            elif plan.gpu and not plan.control_plane:
                gpu_slots.extend([plan.index] * free)
            else:
                leftover += free
        for _ in range(leftover):
            normal_slots.append(app_nodes[rng.randrange(len(app_nodes))].index)
        rng.shuffle(normal_slots)
        rng.shuffle(gpu_slots)
        total = len(normal_slots)
        succeeded = round(total * 0.02)
        failed = round(total * 0.006)
        unmanaged = round(total * 0.01) if total >= 50 else (1 if total >= 10 else 0)
        pending = max(1, round(total * 0.002)) if total >= 20 else 0
        workload_slots = total - succeeded - failed - unmanaged
        cursor = 0

        def take(count: int) -> list[int]:
            nonlocal cursor
            chosen = normal_slots[cursor:cursor + count]
            cursor += count
            return chosen

        workloads = self._plan_workloads(workload_slots, gpu=False)
        for workload in workloads:
            self._workload_pods(workload, take(workload["replicas"]))
        if gpu_slots and gpu_nodes:
            position = 0
            for workload in self._plan_workloads(len(gpu_slots), gpu=True):
                chosen = gpu_slots[position:position + workload["replicas"]]
                position += workload["replicas"]
                self._workload_pods(workload, chosen)
        self._job_pods(take(succeeded), "Succeeded")
        self._job_pods(take(failed), "Failed")
        self._unmanaged_pods(take(unmanaged))
        self._pending_pods(pending)

    def _plan_workloads(self, slots: int, gpu: bool) -> list[dict]:
        rng = self.rng
        workloads: list[dict] = []
        remaining = slots
        if not gpu:
            system = [("kube-system", "coredns", 2, "Deployment"), ("kube-system", "metrics-server", 1, "Deployment"),
                      ("monitoring", "prometheus-k8s", 2, "StatefulSet"), ("monitoring", "kube-state-metrics", 1, "Deployment"),
                      ("monitoring", "grafana", 1, "Deployment")]
            for namespace, name, replicas, kind in system:
                if remaining <= 0:
                    break
                replicas = min(replicas, remaining)
                workloads.append(self._workload(namespace, name, replicas, kind, gpu=False, system=True))
                remaining -= replicas
        counters: dict[tuple[str, str], int] = {}
        while remaining > 0:
            namespace = rng.choice(self.app_namespaces)
            if gpu:
                base, kind = rng.choice(("inference", "embeddings", "model-server", "trainer")), "Deployment"
            elif rng.random() < 0.12:
                base, kind = rng.choice(_STATEFUL_SERVICES), "StatefulSet"
            else:
                base, kind = rng.choice(_SERVICES), "Deployment"
            key = (namespace, base)
            counters[key] = counters.get(key, 0) + 1
            name = base if counters[key] == 1 else f"{base}-{counters[key]}"
            replicas = min(remaining, rng.choice((1, 2, 2, 3, 3, 3, 4, 5, 6, 8, 10, 12)) if kind == "Deployment"
                           else rng.choice((1, 3, 3, 5)))
            workloads.append(self._workload(namespace, name, replicas, kind, gpu=gpu, system=False))
            remaining -= replicas
        return workloads

    def _workload(self, namespace: str, name: str, replicas: int, kind: str, gpu: bool, system: bool) -> dict:
        rng = self.rng
        base = re.sub(r"-\d+$", "", name)
        image = self._workload_image(base)
        memory_mi = rng.choice((64, 128, 256, 512, 1024, 2048))
        cpu_m = rng.choice((50, 100, 250, 500, 1000))
        guaranteed = rng.random() < 0.2
        requests = (("cpu", f"{cpu_m}m"), ("memory", f"{memory_mi}Mi"))
        limits = (("cpu", f"{cpu_m}m"), ("memory", f"{memory_mi}Mi")) if guaranteed else (("memory", f"{memory_mi * 2}Mi"),)
        if gpu:
            requests += ((GPU_RESOURCE, "1"),)
            limits += ((GPU_RESOURCE, "1"),)
        port = rng.choice((8080, 8080, 3000, 9000, 5000, 6379 if "redis" in base else 8443))
        env: tuple[tuple[str, str], ...] = (
            ("APP_ENV", "production" if self.spec.profile != "staging" else "staging"),
            ("LOG_LEVEL", rng.choice(("info", "info", "debug", "warn"))))
        if rng.random() < 0.5:
            env += (("PORT", str(port)),)
        if rng.random() < 0.3:
            env += (("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.monitoring:4317"),)
        if rng.random() < 0.3:
            env += (("DATABASE_URL", f"postgres://{base}@postgres.{namespace}:5432/{base.replace('-', '_')}"),)
        field_env = (("POD_NAME", "metadata.name"),) if rng.random() < 0.5 else ()
        mounts: tuple[tuple[str, str, bool], ...] = (("config", "/etc/" + base, True),)
        empty_dirs: tuple[str, ...] = ()
        if rng.random() < 0.4:
            empty_dirs = ("tmp",)
            mounts += (("tmp", "/tmp", False),)
        pvc = None
        if kind == "StatefulSet":
            pvc = "data"
            mounts += (("data", "/var/lib/" + base, False),)
            if rng.random() < 0.5 and not empty_dirs:
                empty_dirs = ("cache",)
                mounts += (("cache", "/cache", False),)
        containers = [_Container(base, image[0], size=image[1], ports=(("http", port, None),), env=env,
                                 field_env=field_env, requests=requests, limits=limits, mounts=mounts,
                                 probe_port=port if rng.random() < 0.7 else None, liveness=rng.random() < 0.4)]
        if not system and rng.random() < 0.15:
            containers.append(_Container("istio-proxy", "docker.io/istio/proxyv2:1.25.1",
                                         ports=(("http-envoy-prom", 15090, None),),
                                         args=("proxy", "sidecar", "--domain", f"$(POD_NAMESPACE).svc.cluster.local"),
                                         field_env=(("POD_NAMESPACE", "metadata.namespace"),),
                                         requests=(("cpu", "100m"), ("memory", "128Mi")),
                                         limits=(("cpu", "2"), ("memory", "1Gi"))))
        labels = (("app.kubernetes.io/name", base), ("app.kubernetes.io/instance", name))
        if system:
            labels = (("k8s-app", "kube-dns"),) if name == "coredns" else (("app.kubernetes.io/name", name),)
        owner_uid = random_uid(rng)
        if kind == "Deployment":
            template_hash = "".join(rng.choices(_SUFFIX_ALPHABET, k=rng.choice((9, 10))))
            owner_kind, owner_name = "ReplicaSet", f"{name}-{template_hash}"
            pod_labels = labels + (("pod-template-hash", template_hash),)
        else:
            owner_kind, owner_name = "StatefulSet", name
            pod_labels = labels + (("controller-revision-hash", f"{name}-{rng.getrandbits(36):09x}"),)
        priority_class = "system-cluster-critical" if name == "coredns" else None
        template = _PodTemplate(
            namespace=namespace, labels=pod_labels, containers=tuple(containers), owner_kind=owner_kind,
            owner_name=owner_name, owner_uid=owner_uid, empty_dirs=empty_dirs,
            config_maps=(("config", f"{name}-config"),), pvc_prefix=pvc,
            service_account=name if rng.random() < 0.6 else "default", priority_class=priority_class,
            priority=_SYSTEM_PRIORITY.get(priority_class or "", 0), tolerations="gpu" if gpu else "default",
            qos=_qos(tuple(containers)))
        return {"namespace": namespace, "name": name, "kind": kind, "replicas": replicas, "template": template,
                "selector": dict(labels), "system": system}

    def _workload_image(self, base: str) -> tuple[str, int]:
        known = {"coredns": None, "metrics-server": "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
                 "prometheus-k8s": "quay.io/prometheus/prometheus:v3.2.1",
                 "kube-state-metrics": "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.15.0",
                 "grafana": "docker.io/grafana/grafana:11.5.2", "postgres": "docker.io/library/postgres:16.8",
                 "redis": "docker.io/library/redis:7.4.2", "kafka": "docker.io/bitnami/kafka:3.9.0",
                 "rabbitmq": "docker.io/library/rabbitmq:4.0.7-management",
                 "elasticsearch": "docker.elastic.co/elasticsearch/elasticsearch:8.17.3",
                 "mongodb": "docker.io/library/mongo:8.0.5", "memcached": "docker.io/library/memcached:1.6.37",
                 "vault": "docker.io/hashicorp/vault:1.19.0"}
        if base == "coredns":
            for reference, size in self._system_images():
                if "coredns" in reference:
                    return reference, size
        reference = known.get(base)
        if reference is None:
            reference = f"{self.registry}/{base}:{self.rng.choice(('1.8.2', '1.9.0', '1.9.1'))}"
        return reference, _image_size(reference, 60_000_000)

    def _workload_pods(self, workload: dict, slots: list[int]) -> None:
        rng = self.rng
        template: _PodTemplate = workload["template"]
        namespace = workload["namespace"]
        pods: list[dict] = []
        created_base = None
        for ordinal, node_index in enumerate(slots):
            plan = self.plans[node_index]
            ready, since = self._node_ready(plan)
            created = self._placement_times(plan) if created_base is None or rng.random() < 0.3 else created_base
            created_base = created_base or created
            created = max(created, plan.created + 20)
            phase, failure = "Running", None
            if workload["kind"] == "Deployment":
                name = self._pod_name(namespace, f"{template.owner_name}-")
                generate_name = f"{template.owner_name}-"
                extra: tuple[tuple[str, str], ...] = ()
                if not workload["system"] and rng.random() < 0.004:
                    phase, failure = "Failed", "Evicted"
            else:
                name = self._reserve_name(namespace, f"{workload['name']}-{ordinal}")
                generate_name = None
                extra = (("apps.kubernetes.io/pod-index", str(ordinal)), ("statefulset.kubernetes.io/pod-name", name))
            placement = _PodPlacement(
                name=name, uid=random_uid(rng), node=plan.name, host_ip=plan.ip, pod_ip=self._pod_ip(plan),
                created=created, ready=ready, node_not_ready_since=since, generate_name=generate_name,
                extra_labels=extra, restarts=rng.choice((0, 0, 0, 0, 0, 1, 2, 5)), phase=phase, failure=failure)
            pod = _build_pod(template, placement, rng, self.spot_key)
            pods.append(pod)
            self.world.pods.append(pod)
        if workload["replicas"] >= 2 and (workload["system"] or rng.random() < 0.6):
            self._pdb_for(workload, pods)

    def _pdb_for(self, workload: dict, pods: list[dict]) -> None:
        rng = self.rng
        replicas = workload["replicas"]
        blocking = rng.random() < self.spec.pdb_blocking_share and not workload["name"] == "coredns"
        spec: dict[str, Any] = {}
        if blocking:
            choice = rng.randrange(3)
            if choice == 0:
                spec["minAvailable"] = replicas
            elif choice == 1:
                spec["minAvailable"] = "100%"
            else:
                spec["maxUnavailable"] = 0
        else:
            choice = rng.randrange(4)
            if choice == 0 or workload["system"]:
                spec["maxUnavailable"] = 1
            elif choice == 1:
                spec["minAvailable"] = replicas - 1
            elif choice == 2:
                spec["minAvailable"] = "50%"
            else:
                spec["maxUnavailable"] = "25%"
        spec["selector"] = {"matchLabels": dict(workload["selector"])}
        name = workload["name"] if workload["system"] else f"{workload['name']}-pdb"
        created = self.cluster_created + rng.uniform(3600, 20 * 86400)
        pdb = {"kind": "PodDisruptionBudget", "apiVersion": "policy/v1",
               "metadata": {"name": name, "namespace": workload["namespace"], "uid": random_uid(rng),
                            "creationTimestamp": format_epoch(min(created, self.now - 3600)), "generation": 1,
                            "labels": {"app.kubernetes.io/name": workload["selector"].get("app.kubernetes.io/name", name)}},
               "spec": spec}
        pdb["status"] = compute_pdb_status(pdb, pods, datetime.fromtimestamp(self.now - rng.uniform(60, 3600), timezone.utc))
        self.world.pdbs.append(pdb)

    def _job_pods(self, slots: list[int], phase: str) -> None:
        rng = self.rng
        for node_index in slots:
            plan = self.plans[node_index]
            namespace = rng.choice(self.app_namespaces)
            job = rng.choice(("db-backup", "report-generator", "cleanup", "data-sync", "cert-rotate", "index-rebuild"))
            scheduled = int(self.now - rng.uniform(600, 86400)) // 60
            job_name = f"{job}-{scheduled}"
            job_uid = random_uid(rng)
            image = f"{self.registry}/{job}:1.9.0"
            container = _Container(job, image, env=(("JOB_NAME", job),), args=("--once",),
                                   requests=(("cpu", "100m"), ("memory", "128Mi")), limits=(("memory", "256Mi"),))
            labels = (("batch.kubernetes.io/controller-uid", job_uid), ("batch.kubernetes.io/job-name", job_name),
                      ("controller-uid", job_uid), ("job-name", job_name))
            template = _PodTemplate(namespace=namespace, labels=labels, containers=(container,), owner_kind="Job",
                                    owner_name=job_name, owner_uid=job_uid, owner_api_version="batch/v1",
                                    restart_policy="Never", empty_dirs=(), qos=_qos((container,)))
            placement = _PodPlacement(name=self._pod_name(namespace, f"{job_name}-"), uid=random_uid(rng), node=plan.name,
                                      host_ip=plan.ip, pod_ip=self._pod_ip(plan),
                                      created=max(plan.created + 20, scheduled * 60), phase=phase, ready=False,
                                      generate_name=f"{job_name}-")
            self.world.pods.append(_build_pod(template, placement, rng, self.spot_key))

    def _unmanaged_pods(self, slots: list[int]) -> None:
        rng = self.rng
        for node_index in slots:
            plan = self.plans[node_index]
            namespace = rng.choice(self.app_namespaces + ["default"])
            kind = rng.choice(("debug", "netshoot", "toolbox"))
            image = {"debug": "docker.io/library/busybox:1.37.0", "netshoot": "docker.io/nicolaka/netshoot:v0.13",
                     "toolbox": "docker.io/library/alpine:3.21.3"}[kind]
            container = _Container(kind, image, args=("sleep", "infinity"), mounts=(("scratch", "/scratch", False),))
            template = _PodTemplate(namespace=namespace, labels=(("run", kind),), containers=(container,),
                                    empty_dirs=("scratch",), qos="BestEffort")
            user = rng.choice(("alice", "bob", "carol", "dave", "erin"))
            name = self._reserve_name(namespace, f"{kind}-{user}-{random_suffix(rng)}")
            placement = _PodPlacement(name=name, uid=random_uid(rng), node=plan.name, host_ip=plan.ip,
                                      pod_ip=self._pod_ip(plan), created=self._placement_times(plan),
                                      ready=self._node_ready(plan)[0], node_not_ready_since=self._node_ready(plan)[1])
            self.world.pods.append(_build_pod(template, placement, rng, self.spot_key))

    def _pending_pods(self, count: int) -> None:
        rng = self.rng
        nodes = len(self.plans)
        for _ in range(count):
            namespace = rng.choice(self.app_namespaces)
            base = rng.choice(_SERVICES)
            template_hash = "".join(rng.choices(_SUFFIX_ALPHABET, k=10))
            cpu = rng.choice(("4", "8", "16"))
            container = _Container(base, f"{self.registry}/{base}:1.9.1", requests=(("cpu", cpu), ("memory", "8Gi")),
                                   limits=(("cpu", cpu), ("memory", "8Gi")), ports=(("http", 8080, None),))
            template = _PodTemplate(namespace=namespace, labels=(("app.kubernetes.io/name", f"{base}-batch"),
                                                                 ("pod-template-hash", template_hash)),
                                    containers=(container,), owner_kind="ReplicaSet",
                                    owner_name=f"{base}-batch-{template_hash}", owner_uid=random_uid(rng),
                                    qos="Guaranteed")
            insufficient = max(1, nodes - self.control_planes)
            message = (f"0/{nodes} nodes are available: "
                       + (f"{self.control_planes} node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}, "
                          if self.control_planes else "")
                       + f"{insufficient} Insufficient cpu. preemption: 0/{nodes} nodes are available: "
                       + f"{insufficient} No preemption victims found for incoming pod.")
            placement = _PodPlacement(name=self._pod_name(namespace, f"{base}-batch-{template_hash}-"), uid=random_uid(rng),
                                      node=None, host_ip=None, pod_ip=None, created=self.now - rng.uniform(30, 3600),
                                      phase="Pending", ready=False, generate_name=f"{base}-batch-{template_hash}-",
                                      unschedulable_message=message)
            self.world.pods.append(_build_pod(template, placement, rng, self.spot_key))


def base36(number: int, width: int) -> str:
    """``number`` in base 36 (0-9a-z), zero-padded to ``width`` (AKS VMSS instance suffixes)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, remainder = divmod(number, 36)
        text = digits[remainder] + text
    return (text or "0").rjust(width, "0")


_SERVICES = (
    "frontend", "cart", "checkout", "catalog", "payments-api", "orders-worker", "search-api", "recommendation",
    "auth", "gateway", "notifications", "inventory", "ledger", "email-sender", "image-resizer", "pricing",
    "shipping", "reviews", "ad-server", "session-store", "feature-flags", "billing", "audit-log", "webhooks",
)
_STATEFUL_SERVICES = ("postgres", "redis", "kafka", "rabbitmq", "elasticsearch", "mongodb", "memcached", "vault")
_APP_NAMESPACES = (
    "shop", "payments", "checkout", "search", "web", "api", "data", "ingress-nginx", "cert-manager", "identity",
    "notifications", "analytics", "billing", "logistics", "catalog", "ml", "platform", "growth", "support", "ledger",
    "media", "partners", "risk", "inventory",
)
_CONTROL_PLANE_COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
_CONTROL_PLANE_PATHS = {
    "etcd": (("etcd-certs", "/etc/kubernetes/pki/etcd", "DirectoryOrCreate"), ("etcd-data", "/var/lib/etcd", "DirectoryOrCreate")),
    "kube-apiserver": (
        ("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
        ("etc-ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate"),
        ("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate"),
        ("usr-share-ca-certificates", "/usr/share/ca-certificates", "DirectoryOrCreate")),
    "kube-controller-manager": (
        ("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
        ("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec", "DirectoryOrCreate"),
        ("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate"),
        ("kubeconfig", "/etc/kubernetes/controller-manager.conf", "FileOrCreate")),
    "kube-scheduler": (("kubeconfig", "/etc/kubernetes/scheduler.conf", "FileOrCreate"),),
}
_CONTROL_PLANE_MOUNTS = {
    component: tuple((name, path, component != "etcd" and name != "flexvolume-dir") for name, path, _ in paths)
    for component, paths in _CONTROL_PLANE_PATHS.items()
}


def _control_plane_args(component: str, ip: str, cluster: str) -> tuple[str, ...]:
    if component == "etcd":
        return ("etcd", f"--advertise-client-urls=https://{ip}:2379", "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
                "--client-cert-auth=true", "--data-dir=/var/lib/etcd", "--experimental-initial-corrupt-check=true",
                f"--initial-advertise-peer-urls=https://{ip}:2380", f"--listen-client-urls=https://127.0.0.1:2379,https://{ip}:2379",
                "--listen-metrics-urls=http://127.0.0.1:2381", f"--listen-peer-urls=https://{ip}:2380",
                "--snapshot-count=10000", "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt")
    if component == "kube-apiserver":
        return ("kube-apiserver", f"--advertise-address={ip}", "--allow-privileged=true", "--authorization-mode=Node,RBAC",
                "--client-ca-file=/etc/kubernetes/pki/ca.crt", "--enable-admission-plugins=NodeRestriction",
                "--enable-bootstrap-token-auth=true", "--etcd-servers=https://127.0.0.1:2379",
                "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname", "--secure-port=6443",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-account-key-file=/etc/kubernetes/pki/sa.pub", "--service-cluster-ip-range=10.96.0.0/12",
                "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key")
    if component == "kube-controller-manager":
        return ("kube-controller-manager", "--allocate-node-cidrs=true", "--bind-address=127.0.0.1",
                f"--cluster-cidr=10.244.0.0/16", f"--cluster-name={cluster}", "--controllers=*,bootstrapsigner,tokencleaner",
                "--kubeconfig=/etc/kubernetes/controller-manager.conf", "--leader-elect=true",
                "--service-cluster-ip-range=10.96.0.0/12", "--use-service-account-credentials=true")
    return ("kube-scheduler", "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf", "--bind-address=127.0.0.1",
            "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true")


# ----------------------------------------------------------------------------- public API


def build_world(spec: WorldSpec, now: datetime) -> World:
    """Generate the objects of a cluster described by ``spec`` as of ``now``; deterministic for (spec, now)."""
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of fresh containers would trigger many useless full collections
    try:
        return _Generator(spec, now).build()
    finally:
        if collecting:
            gc.enable()


def sample_app_pod(rng: random.Random, namespace: str, node_name: str, host_ip: str, pod_ip: str,
                   created: datetime) -> dict:
    """A running ReplicaSet-owned nginx pod on ``node_name`` (for clusters that have no app pods to copy)."""
    template = _PodTemplate(
        namespace=namespace, labels=(("app.kubernetes.io/name", "web"), ("pod-template-hash", "7d4b9c8f6d")),
        containers=(_Container("web", "docker.io/library/nginx:1.27.5", ports=(("http", 80, None),),
                               requests=(("cpu", "50m"), ("memory", "64Mi")), limits=(("memory", "128Mi"),),
                               probe_port=80, probe_path="/"),),
        owner_kind="ReplicaSet", owner_name="web-7d4b9c8f6d", owner_uid="6b1f7c2e-3f4a-4c1d-9e2b-8a7d5c4b3a21")
    placement = _PodPlacement(name=f"web-7d4b9c8f6d-{random_suffix(rng)}", uid=random_uid(rng), node=node_name,
                              host_ip=host_ip, pod_ip=pod_ip, created=math.floor(created.timestamp()),
                              generate_name="web-7d4b9c8f6d-")
    return _build_pod(template, placement, rng, None)


def _scaled(value: Any, total: int) -> int:
    """An IntOrString: an int as is, "NN%" of ``total`` rounded up; anything else counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                percent = int(text[:-1])
            except ValueError:
                return 0
            return math.ceil(percent * total / 100)
        if text.isdigit():
            return int(text)
    return 0


def compute_pdb_status(pdb: dict, pods: list[dict], now: datetime | None = None) -> dict:
    """The status the disruption controller would write for ``pdb`` given ``pods``.

    Pods count when they are in the PDB's namespace and match its selector; a pod is healthy when
    its Ready condition is True and it has no deletionTimestamp. ``minAvailable`` (int or "NN%",
    rounded up) gives desiredHealthy directly; ``maxUnavailable`` (int or "NN%", rounded up) gives
    ``expectedPods - maxUnavailable``. The ``DisruptionAllowed`` condition keeps the
    lastTransitionTime of the PDB's current condition while its status is unchanged, so calling
    this again with unchanged pods returns an equal dict; when the status changes the
    transition time is ``now`` (default: the current UTC time).
    """
    metadata = pdb.get("metadata") or {}
    spec = pdb.get("spec") or {}
    namespace = metadata.get("namespace", "")
    selector = selector_from_label_selector_object(spec.get("selector"))
    expected = 0
    healthy = 0
    for pod in pods:
        pod_meta = pod.get("metadata") or {}
        if pod_meta.get("namespace", "") != namespace or not selector.matches(pod_meta.get("labels") or {}):
            continue
        expected += 1
        if pod_meta.get("deletionTimestamp"):
            continue
        for condition in (pod.get("status") or {}).get("conditions") or ():
            if condition.get("type") == "Ready":
                if condition.get("status") == "True":
                    healthy += 1
                break
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    elif spec.get("minAvailable") is not None:
        desired = _scaled(spec["minAvailable"], expected)
    else:
        desired = 0
    allowed = healthy - desired
    if expected <= 0 or allowed < 0:
        allowed = 0
    generation = metadata.get("generation", 1)
    condition_status = "True" if allowed > 0 else "False"
    transition = None
    for condition in (pdb.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "DisruptionAllowed" and condition.get("status") == condition_status:
            transition = condition.get("lastTransitionTime")
    if transition is None:
        moment = now or datetime.now(timezone.utc)
        transition = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": condition_status,
            "observedGeneration": generation,
            "lastTransitionTime": transition,
            "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
            "message": "",
        }],
    }
