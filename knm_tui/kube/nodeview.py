"""Node JSON → NodeView: a small immutable projection, the only place Node JSON is read.

Projection never raises on missing or odd fields: a value the server did not report is ``None``
(or empty), never a made-up value, so the UI can say "not reported". The one exception is an
object without a usable ``metadata.name``, which cannot be keyed and raises
:class:`NodeProjectionError`.

The input is a dict from ``json.loads`` (no client models). ``status.images`` and
``metadata.managedFields`` are never read or kept. Strings shared by many nodes (label keys and
values, versions, zones, condition texts) are interned, and identical taints, resource sets and
timestamps are shared between views, so thousands of nodes cost little memory.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_UP, Context, Decimal, DecimalException
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Iterable, Mapping

EMPTY_MAPPING: Mapping[str, str] = MappingProxyType({})

# Annotations kept on a NodeView; every other annotation is dropped.
ANNOTATION_CORDON_REASON = "knm-tui.io/cordon-reason"
ANNOTATION_CORDONED_BY = "knm-tui.io/cordoned-by"
ANNOTATION_CORDONED_AT = "knm-tui.io/cordoned-at"
ANNOTATION_SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
ANNOTATION_DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
KEPT_ANNOTATIONS: frozenset[str] = frozenset(
    {
        ANNOTATION_CORDON_REASON,
        ANNOTATION_CORDONED_BY,
        ANNOTATION_CORDONED_AT,
        ANNOTATION_SCALE_DOWN_DISABLED,
        ANNOTATION_DO_NOT_DISRUPT,
    }
)

LABEL_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
LABEL_LEGACY_ROLE = "kubernetes.io/role"
CONTROL_PLANE_ROLES: frozenset[str] = frozenset({"control-plane", "master"})

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
# Node pool / group labels of managed offerings and provisioners; the first present one wins.
NODE_POOL_LABELS = (
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "agentpool",
    "doks.digitalocean.com/node-pool",
    "karpenter.sh/nodepool",
    "karpenter.sh/provisioner-name",
    "kops.k8s.io/instancegroup",
    "ibm-cloud.kubernetes.io/worker-pool-name",
    "k8s.scaleway.com/pool-name",
    "node.kubernetes.io/pool",
)

# Extended resources that count as whole GPUs. Intel's plugin also publishes
# gpu.intel.com/millicores, /memory.max and /tiles, which are not device counts.
GPU_RESOURCES: frozenset[str] = frozenset(
    {
        "nvidia.com/gpu",
        "amd.com/gpu",
        "gpu.intel.com/i915",
        "gpu.intel.com/xe",
        "alpha.kubernetes.io/nvidia-gpu",
    }
)

READY = "Ready"
# Conditions whose healthy state is "True"; any other condition type is healthy when "False".
POSITIVE_CONDITION_TYPES: frozenset[str] = frozenset({READY, "EtcdIsVoter", "ConfigOK"})


class NodeProjectionError(ValueError):
    """The object cannot become a NodeView because it has no usable ``metadata.name``."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One entry of ``status.conditions``; times are timezone-aware or ``None`` when not reported."""

    type: str
    status: str  # "True" | "False" | "Unknown" (as sent by the server)
    reason: str
    message: str
    last_heartbeat: datetime | None
    last_transition: datetime | None

    @property
    def is_problem(self) -> bool:
        """Whether this condition reports a problem (see :func:`is_problem_condition`)."""
        return is_problem_condition(self.type, self.status)


@dataclass(frozen=True, slots=True)
class Taint:
    """One entry of ``spec.taints``."""

    key: str
    value: str
    effect: str
    time_added: datetime | None = None

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


@dataclass(frozen=True, slots=True)
class Resources:
    """Parsed capacity or allocatable; a quantity the node does not report is ``None``."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    pods: int | None = None
    gpus: int | None = None  # sum of nvidia.com/gpu, amd.com/gpu, ... extended resources
    ephemeral_storage_bytes: int | None = None
    raw: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAPPING)  # every quantity as written


EMPTY_RESOURCES = Resources()


@dataclass(frozen=True, slots=True)
class NodeView:
    """Everything the product shows about a Node, parsed once when the object arrives."""

    name: str
    uid: str
    resource_version: str
    status: str  # as kubectl prints it: "Ready", "NotReady" (Ready False or Unknown), "Unknown" (no Ready condition)
    ready: str | None  # the Ready condition's status: "True" | "False" | "Unknown" | None when absent
    schedulable: bool
    roles: tuple[str, ...]
    created: datetime | None
    kubelet_version: str
    internal_ip: str
    external_ip: str
    hostname: str
    os_image: str
    kernel_version: str
    container_runtime: str
    architecture: str
    operating_system: str
    zone: str
    region: str
    instance_type: str
    node_pool: str
    provider_id: str
    capacity: Resources
    allocatable: Resources
    taints: tuple[Taint, ...]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]  # only the ones that matter (cordon reason and who/when)
    conditions: tuple[Condition, ...]
    addresses: tuple[tuple[str, str], ...]  # (type, address) in server order

    @property
    def ready_condition(self) -> Condition | None:
        """The Ready condition (the last one, as kubectl reads it), or ``None`` when absent."""
        return _find_ready(self.conditions)

    @property
    def last_transition(self) -> datetime | None:
        """The most recent ``lastTransitionTime`` over all conditions."""
        return _newest(condition.last_transition for condition in self.conditions)

    @property
    def last_heartbeat(self) -> datetime | None:
        """The most recent ``lastHeartbeatTime`` over all conditions."""
        return _newest(condition.last_heartbeat for condition in self.conditions)

    @property
    def pressure_conditions(self) -> tuple[Condition, ...]:
        """Conditions that report a problem, in server order (see :func:`is_problem_condition`).

        Ready is never listed (``status`` says it). Conditions with status Unknown are not listed
        either: they follow a NotReady node, which ``status`` already shows.
        """
        problems: tuple[Condition, ...] = ()
        for condition in self.conditions:
            if condition.type != READY and is_problem_condition(condition.type, condition.status):
                problems += (condition,)
        return problems

    @property
    def cordoned(self) -> bool:
        """Whether the node is cordoned (``spec.unschedulable``)."""
        return not self.schedulable

    @property
    def cordon_reason(self) -> str | None:
        """The reason recorded when the node was cordoned by this product, if any."""
        return self.annotations.get(ANNOTATION_CORDON_REASON) or None

    @property
    def cordoned_by(self) -> str | None:
        """Who cordoned the node through this product, if recorded."""
        return self.annotations.get(ANNOTATION_CORDONED_BY) or None

    @property
    def cordoned_at(self) -> datetime | None:
        """When the node was cordoned through this product, if recorded as RFC 3339."""
        return parse_time(self.annotations.get(ANNOTATION_CORDONED_AT))

    @property
    def is_control_plane(self) -> bool:
        """Whether the node carries a control-plane (or legacy master) role."""
        return not CONTROL_PLANE_ROLES.isdisjoint(self.roles)

    @property
    def display_status(self) -> str:
        """The status column as kubectl prints it, e.g. ``Ready,SchedulingDisabled``."""
        return self.status if self.schedulable else f"{self.status},SchedulingDisabled"


def _newest(moments: Iterable[datetime | None]) -> datetime | None:
    """The latest of the moments that are set, or ``None``."""
    newest = None
    for moment in moments:
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    return newest


def _find_ready(conditions: tuple[Condition, ...]) -> Condition | None:
    """The last Ready condition: kubectl keys conditions by type, so a later duplicate wins."""
    return next((c for c in reversed(conditions) if c.type == READY), None)


def is_problem_condition(condition_type: str, status: str) -> bool:
    """Whether a node condition of this type and status reports a problem.

    The kubelet's own conditions (MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable,
    the legacy OutOfDisk) and node-problem-detector conditions (KernelDeadlock, ReadonlyFilesystem,
    FrequentKubeletRestart, ...) are "True" when the problem exists. A few conditions are positive,
    healthy when "True": Ready, EtcdIsVoter (RKE2/k3s), ConfigOK (dynamic kubelet config) and any
    other type ending in "Ready" (e.g. KernelReady from the EKS node monitoring agent); those report
    a problem when "False". "Unknown" is never counted here.
    """
    if condition_type in POSITIVE_CONDITION_TYPES or condition_type.endswith(READY):
        return status == "False"
    return status == "True"


# ---------------------------------------------------------------------------------------------
# Quantities

_QUANTITY_RE = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?"
)
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_EXPONENT = 1000  # far beyond any real quantity; keeps arithmetic bounded
_QUANTITY_CONTEXT = Context(prec=200, Emax=10 * _MAX_EXPONENT, Emin=-10 * _MAX_EXPONENT)


def parse_quantity(text: object) -> Decimal | None:
    """Parse a Kubernetes resource quantity (``"250m"``, ``"16Gi"``, ``"1e3"``) into its exact value.

    Accepts the upstream grammar: an optionally signed decimal number followed by a binary suffix
    (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m "" k M G T P E) or a decimal exponent
    (``e``/``E`` and a signed integer). A JSON number (not a bool) is read as its text.
    Returns ``None`` for anything else (whitespace, NaN, garbage, absurd exponents); never raises.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        text = str(text)
    if not isinstance(text, str) or len(text) > 200:
        return None
    match = _QUANTITY_RE.fullmatch(text)
    if match is None:
        return None
    number, suffix, exponent = match.groups()
    try:
        value = Decimal(number)
        if suffix in _BINARY_SUFFIXES:
            return _QUANTITY_CONTEXT.multiply(value, Decimal(1 << _BINARY_SUFFIXES[suffix]))
        power = _DECIMAL_SUFFIXES[suffix] if suffix else int(exponent) if exponent else 0
        if abs(power) > _MAX_EXPONENT:
            return None
        return _QUANTITY_CONTEXT.multiply(value, Decimal(1).scaleb(power, _QUANTITY_CONTEXT))
    except (DecimalException, ValueError):
        return None


def _scaled_value(quantity: Decimal, scale: int) -> int:
    """The quantity in units of 10**-scale, rounded away from zero like upstream ``ScaledValue``."""
    return int(quantity.scaleb(scale, _QUANTITY_CONTEXT).to_integral_value(rounding=ROUND_UP))


def _quantity_units(raw: Mapping[str, str], key: str, scale: int = 0) -> int | None:
    quantity = parse_quantity(raw.get(key))
    return None if quantity is None else _scaled_value(quantity, scale)


_RESOURCES_CACHE: dict[tuple[tuple[str, str], ...], Resources] = {}
_CACHE_LIMIT = 4096


def project_resources(value: object) -> Resources:
    """Parse ``status.capacity`` or ``status.allocatable`` (a mapping of name → quantity string).

    CPU becomes millicores and memory/ephemeral storage bytes, each rounded up like upstream
    ``MilliValue``/``Value``; ``gpus`` sums the GPU extended resources and is ``None`` when the node
    reports none. Identical resource sets are shared between views.
    """
    if not isinstance(value, dict) or not value:
        return EMPTY_RESOURCES
    try:  # a resource set seen before (all strings): no parsing at all
        cached = _RESOURCES_CACHE.get(tuple(value.items()))
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    raw: dict[str, str] = {}
    for name, quantity in value.items():
        text = _scalar_text(quantity)
        if isinstance(name, str) and text is not None:
            raw[sys.intern(name)] = sys.intern(text)
    if not raw:
        return EMPTY_RESOURCES
    key = tuple(raw.items())
    cached = _RESOURCES_CACHE.get(key)
    if cached is not None:
        return cached
    gpu_counts = [_quantity_units(raw, name) for name in raw if name in GPU_RESOURCES]
    gpu_counts = [count for count in gpu_counts if count is not None]
    resources = Resources(
        cpu_millis=_quantity_units(raw, "cpu", 3),
        memory_bytes=_quantity_units(raw, "memory"),
        pods=_quantity_units(raw, "pods"),
        gpus=sum(gpu_counts) if gpu_counts else None,
        ephemeral_storage_bytes=_quantity_units(raw, "ephemeral-storage"),
        raw=MappingProxyType(raw),
    )
    if len(_RESOURCES_CACHE) >= _CACHE_LIMIT:
        _RESOURCES_CACHE.clear()
    return _RESOURCES_CACHE.setdefault(key, resources)


# ---------------------------------------------------------------------------------------------
# Times

_RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)
_MAX_TIME_LENGTH = 100  # longer than any real timestamp; keeps junk out of the parse cache


def parse_time(value: object) -> datetime | None:
    """Parse an RFC 3339 timestamp as Kubernetes writes it into a timezone-aware UTC datetime.

    Accepts ``Z`` or a ``±hh:mm`` offset and a fraction of any length (nanoseconds are truncated to
    microseconds). Returns ``None`` for a missing, empty, non-string or malformed value, for a
    date or offset out of range, and for the zero time ``0001-01-01T00:00:00Z``: Kubernetes
    serialises an unset ``metav1.Time`` as ``null``, so the zero instant means "not set".
    Strings longer than 100 characters are rejected. Never raises, never invents a value.
    """
    if not isinstance(value, str) or not value or len(value) > _MAX_TIME_LENGTH:
        return None
    return _parse_time_text(value)


@lru_cache(maxsize=_CACHE_LIMIT)
def _parse_time_text(text: str) -> datetime | None:
    """Parse one timestamp string; cached, so equal strings share one datetime object."""
    if len(text) == 20 and text[10] == "T" and text[19] == "Z" and text[:19].isascii():
        try:  # metav1.Time's own form, e.g. 2024-01-15T10:30:00Z: the C parser is ~10x faster
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return None if parsed == _ZERO_TIME else parsed
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, offset_h, offset_m = match.groups()
    microsecond = int((fraction or "")[:6].ljust(6, "0"))
    try:
        zone = timezone.utc
        if sign:
            if int(offset_h) > 23 or int(offset_m) > 59:
                return None
            offset = timedelta(hours=int(offset_h), minutes=int(offset_m))
            zone = timezone(-offset if sign == "-" else offset)
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, zone
        ).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return None if parsed == _ZERO_TIME else parsed


# ---------------------------------------------------------------------------------------------
# The Node projection


def _scalar_text(value: object) -> str | None:
    """A JSON scalar as text (strings as-is, numbers and bools as JSON writes them), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _text(value: object) -> str:
    """A JSON scalar as text, ``""`` when missing or not a scalar."""
    text = _scalar_text(value)
    return "" if text is None else text


def _shared_text(value: object) -> str:
    """Like :func:`_text`, interned: for values many nodes share (versions, zones, reasons)."""
    return sys.intern(value if type(value) is str else _text(value))


def _mapping(value: object) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _first_label(labels: Mapping[str, str], keys: tuple[str, ...]) -> str:
    """The first non-empty value among ``keys``, else ``""``."""
    for key in keys:
        value = labels.get(key)
        if value:
            return value
    return ""


def _project_labels(value: object) -> Mapping[str, str]:
    if not isinstance(value, dict) or not value:
        return EMPTY_MAPPING
    intern = sys.intern
    try:  # the common case: every key and value a string
        return MappingProxyType({intern(key): intern(label_value) for key, label_value in value.items()})
    except TypeError:
        pass
    labels: dict[str, str] = {}
    for key, label_value in value.items():
        text = _scalar_text(label_value)
        if isinstance(key, str) and text is not None:
            labels[sys.intern(key)] = sys.intern(text)
    return MappingProxyType(labels) if labels else EMPTY_MAPPING


def _project_annotations(value: object) -> Mapping[str, str]:
    kept: dict[str, str] = {}
    for key, annotation_value in _mapping(value).items():
        if key in KEPT_ANNOTATIONS:
            text = _scalar_text(annotation_value)
            if text is not None:
                kept[sys.intern(key)] = text
    return MappingProxyType(kept) if kept else EMPTY_MAPPING


def _roles(labels: Mapping[str, str]) -> tuple[str, ...]:
    """Roles as kubectl finds them: ``node-role.kubernetes.io/<role>`` keys, ``kubernetes.io/role`` values."""
    roles: set[str] = set()
    for key, value in labels.items():
        if key.startswith(LABEL_NODE_ROLE_PREFIX):
            role = key[len(LABEL_NODE_ROLE_PREFIX) :]
            if role:
                roles.add(role)
        elif key == LABEL_LEGACY_ROLE and value:
            roles.add(value)
    return tuple(sorted(roles))


def _project_conditions(value: object, previous: tuple[Condition, ...] = ()) -> tuple[Condition, ...]:
    """The conditions; one equal to the previous version's at the same place is that object."""
    conditions = []
    for entry in _list(value):
        if not isinstance(entry, dict):
            continue
        if len(previous) > len(conditions):
            old = previous[len(conditions)]
            if (entry.get("type") == old.type and entry.get("status") == old.status
                    and entry.get("reason", "") == old.reason and entry.get("message", "") == old.message
                    and parse_time(entry.get("lastHeartbeatTime")) == old.last_heartbeat
                    and parse_time(entry.get("lastTransitionTime")) == old.last_transition):
                conditions.append(old)
                continue
        condition_type = _shared_text(entry.get("type"))
        if not condition_type:
            continue
        conditions.append(
            Condition(
                type=condition_type,
                status=_shared_text(entry.get("status")),
                reason=_shared_text(entry.get("reason")),
                message=_shared_text(entry.get("message")),
                last_heartbeat=parse_time(entry.get("lastHeartbeatTime")),
                last_transition=parse_time(entry.get("lastTransitionTime")),
            )
        )
    return tuple(conditions)


_TAINT_CACHE: dict[Taint, Taint] = {}


def _project_taints(value: object) -> tuple[Taint, ...]:
    taints = []
    for entry in _list(value):
        if not isinstance(entry, dict):
            continue
        key = _shared_text(entry.get("key"))
        if not key:
            continue
        taint = Taint(
            key=key,
            value=_shared_text(entry.get("value")),
            effect=_shared_text(entry.get("effect")),
            time_added=parse_time(entry.get("timeAdded")),
        )
        if len(_TAINT_CACHE) >= _CACHE_LIMIT:
            _TAINT_CACHE.clear()
        taints.append(_TAINT_CACHE.setdefault(taint, taint))
    return tuple(taints)


def _project_addresses(value: object) -> tuple[tuple[str, str], ...]:
    addresses = []
    for entry in _list(value):
        if not isinstance(entry, dict):
            continue
        address = _shared_text(entry.get("address"))  # often equal to the name: share one copy
        if address:
            addresses.append((_shared_text(entry.get("type")), address))
    return tuple(addresses)


def _first_address(addresses: tuple[tuple[str, str], ...], address_type: str) -> str:
    return next((address for kind, address in addresses if kind == address_type), "")


def _is_unschedulable(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def project_node(obj: dict, previous: NodeView | None = None) -> NodeView:
    """Project a Node object (a dict from ``json.loads``) into a :class:`NodeView`.

    Missing fields and fields of the wrong type become empty values or ``None``; the only error
    is :class:`NodeProjectionError` when the object is not a mapping or has no usable
    ``metadata.name`` (a non-empty string; a JSON integer is read as its text).

    ``previous``, the view of an earlier version of the same node, lets parts that did not change
    (labels and what derives from them, unchanged conditions) be shared instead of built again:
    the result is equal either way.
    """
    if not isinstance(obj, dict):
        raise NodeProjectionError(f"node object is a {type(obj).__name__}, not a JSON object")
    metadata = _mapping(obj.get("metadata"))
    name = metadata.get("name")
    if isinstance(name, bool) or not isinstance(name, (str, int)) or name == "":
        raise NodeProjectionError(f"node object has no usable metadata.name (got {name!r:.60})")
    spec = _mapping(obj.get("spec"))
    status = _mapping(obj.get("status"))
    node_info = _mapping(status.get("nodeInfo"))

    raw_labels = metadata.get("labels")
    if previous is not None and (previous.labels == raw_labels or (not raw_labels and not previous.labels)):
        labels = previous.labels
        roles, zone, region = previous.roles, previous.zone, previous.region
        instance_type, node_pool = previous.instance_type, previous.node_pool
    else:
        labels = _project_labels(raw_labels)
        roles, zone, region = _roles(labels), _first_label(labels, ZONE_LABELS), _first_label(labels, REGION_LABELS)
        instance_type = _first_label(labels, INSTANCE_TYPE_LABELS)
        node_pool = _first_label(labels, NODE_POOL_LABELS)
    conditions = _project_conditions(status.get("conditions"), previous.conditions if previous is not None else ())
    addresses = _project_addresses(status.get("addresses"))

    ready_condition = _find_ready(conditions)
    ready = ready_condition.status if ready_condition is not None else None
    if ready is None:
        node_status = "Unknown"
    else:
        node_status = "Ready" if ready == "True" else "NotReady"

    return NodeView(
        name=sys.intern(str(name)),
        uid=_text(metadata.get("uid")),
        resource_version=_text(metadata.get("resourceVersion")),
        status=node_status,
        ready=ready,
        schedulable=not _is_unschedulable(spec.get("unschedulable")),
        roles=roles,
        created=parse_time(metadata.get("creationTimestamp")),
        kubelet_version=_shared_text(node_info.get("kubeletVersion")),
        internal_ip=_first_address(addresses, "InternalIP"),
        external_ip=_first_address(addresses, "ExternalIP"),
        hostname=_first_address(addresses, "Hostname"),
        os_image=_shared_text(node_info.get("osImage")),
        kernel_version=_shared_text(node_info.get("kernelVersion")),
        container_runtime=_shared_text(node_info.get("containerRuntimeVersion")),
        architecture=_shared_text(node_info.get("architecture")),
        operating_system=_shared_text(node_info.get("operatingSystem")),
        zone=zone,
        region=region,
        instance_type=instance_type,
        node_pool=node_pool,
        provider_id=_text(spec.get("providerID")),
        capacity=project_resources(status.get("capacity")),
        allocatable=project_resources(status.get("allocatable")),
        taints=_project_taints(spec.get("taints")),
        labels=labels,
        annotations=_project_annotations(metadata.get("annotations")),
        conditions=conditions,
        addresses=addresses,
    )


_IMAGES_KEY = b'"images":['
_IMAGES_END = re.compile(rb"\}\](?=[,}])")  # an object closing a list, then what may follow a value


def drop_node_images(raw: bytes) -> bytes:
    """``raw`` JSON (a Node, a NodeList page or a watch event) with every ``images`` list emptied.

    ``status.images`` is most of a Node's bytes and is never read, so cutting it out before
    ``json.loads`` saves allocating thousands of strings per page. The apiserver's schema makes
    an image list a list of ``{"names": [strings], "sizeBytes": n}``, so in a non-empty one the
    first ``}]`` outside a string, followed by ``,`` or ``}``, closes it. A list with a backslash
    before that point is left alone (an escape could hide a quote). A ``}]`` inside an image name
    (no such name is a valid image reference) would end the cut inside a string: what follows
    then cannot continue a JSON document, so callers, who parse the original whenever the
    trimmed text is not JSON, lose only time, never content.
    """
    find = raw.find
    at = find(_IMAGES_KEY)
    parts: list[bytes] = []
    position = 0
    search_end = _IMAGES_END.search
    while at >= 0:
        start = at + len(_IMAGES_KEY) - 1  # the list's "["
        end = search_end(raw, start) if raw[start + 1:start + 2] == b"{" else None
        if end is not None and find(b"\\", start, end.start()) < 0:
            parts.append(raw[position:start])
            parts.append(b"[]")
            position = end.end()
            at = find(_IMAGES_KEY, position)
        else:
            at = find(_IMAGES_KEY, start)
    if not parts:
        return raw
    parts.append(raw[position:])
    return b"".join(parts)
