"""Pod counts and resource requests per node, on demand: never watched, never cached.

``count_pods`` runs one paginated LIST of pods (all namespaces), reads each page as raw bytes,
folds it into per-node totals and drops it, so memory stays flat however many pods there are.
Only non-terminated pods count (phase not Succeeded/Failed), as ``kubectl describe node`` does;
the server is asked to leave the terminated ones out with a field selector, and the client
checks again. For one node the LIST is narrowed with ``spec.nodeName`` and the result also
lists the pods themselves.

Requests and limits follow upstream's ``PodRequests``/``PodLimits`` (component-helpers): the sum
over app containers, raised to the largest init container (an init container also needs the
restartable "sidecar" init containers started before it, and sidecars add to the app sum), plus
the pod's ``spec.overhead``; pod-level ``spec.resources`` replaces the container totals when set.

Server-side Table rows are not used: they carry no resource requests, which the result needs.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Callable, Mapping

from kubernetes import client as k8s_client

from knm_tui.kube.jsonparse import parse_json
from knm_tui.kube.nodeview import parse_quantity
from knm_tui.kube.sync import (
    ApiStatusError,
    MalformedResponseError,
    describe_failure,
    open_raw,
    read_body,
    utc_now,
)

PODS_PATH = "/api/v1/pods"
NOT_TERMINATED_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"
TERMINATED_PHASES = frozenset({"Succeeded", "Failed"})
DEFAULT_REQUEST_TIMEOUT = (5.0, 60.0)
MAX_LIST_RESTARTS = 2
CPU = "cpu"
MEMORY = "memory"

_ZERO = Decimal(0)


class PodCountError(Exception):
    """Counting failed or was cancelled; ``message`` is one clean line for the user."""

    def __init__(self, message: str, *, kind: str = "server", status: int | None = None,
                 cancelled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.cancelled = cancelled


@dataclass(frozen=True)
class NodeLoad:
    """The non-terminated pods bound to one node and what they request (and limit)."""

    pods: int
    cpu_requests_millis: int
    memory_requests_bytes: int
    cpu_limits_millis: int = 0
    memory_limits_bytes: int = 0


@dataclass(frozen=True)
class PodSummary:
    """One pod of a single-node count."""

    namespace: str
    name: str
    owner_kind: str  # the controller's kind ("ReplicaSet", "DaemonSet", ...), "" when none
    phase: str
    cpu_requests_millis: int
    memory_requests_bytes: int
    cpu_limits_millis: int
    memory_limits_bytes: int


@dataclass(frozen=True)
class PodCounts:
    """The result of one count, as of the moment the server answered the first page."""

    context: str
    as_of: datetime
    per_node: Mapping[str, NodeLoad]
    total: int  # non-terminated pods seen, scheduled or not
    unscheduled: int  # non-terminated pods without a node
    pages: int = 0
    pods: tuple[PodSummary, ...] = ()  # only when counting one node


@lru_cache(maxsize=4096)
def _cached_quantity(text: str) -> Decimal | None:
    return parse_quantity(text)


def _quantity(value: object) -> Decimal:
    """A resource quantity as a Decimal; 0 when missing or unreadable."""
    if isinstance(value, str):
        parsed = _cached_quantity(value) if len(value) <= 64 else parse_quantity(value)
    else:
        parsed = parse_quantity(value)
    return _ZERO if parsed is None else parsed


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _resource_pair(resources: object, field: str) -> tuple[Decimal, Decimal]:
    values = _mapping(_mapping(resources).get(field))
    return _quantity(values.get(CPU)), _quantity(values.get(MEMORY))


def _effective(spec: Mapping[str, Any], field: str) -> tuple[Decimal, Decimal]:
    """Upstream's effective pod requests (``field="requests"``) or limits (``"limits"``) for cpu, memory."""
    cpu = memory = _ZERO
    for container in _list(spec.get("containers")):
        container_cpu, container_memory = _resource_pair(_mapping(container).get("resources"), field)
        cpu += container_cpu
        memory += container_memory
    sidecar_cpu = sidecar_memory = _ZERO
    init_cpu = init_memory = _ZERO
    for container in _list(spec.get("initContainers")):
        container = _mapping(container)
        container_cpu, container_memory = _resource_pair(container.get("resources"), field)
        if container.get("restartPolicy") == "Always":
            cpu += container_cpu
            memory += container_memory
            sidecar_cpu += container_cpu
            sidecar_memory += container_memory
            needed_cpu, needed_memory = sidecar_cpu, sidecar_memory
        else:
            needed_cpu, needed_memory = container_cpu + sidecar_cpu, container_memory + sidecar_memory
        init_cpu = max(init_cpu, needed_cpu)
        init_memory = max(init_memory, needed_memory)
    cpu = max(cpu, init_cpu)
    memory = max(memory, init_memory)
    pod_cpu, pod_memory = _resource_pair(spec.get("resources"), field)
    if pod_cpu:
        cpu = pod_cpu
    if pod_memory:
        memory = pod_memory
    overhead = _mapping(spec.get("overhead"))
    cpu += _quantity(overhead.get(CPU))
    memory += _quantity(overhead.get(MEMORY))
    return cpu, memory


def _millis(cores: Decimal) -> int:
    return math.ceil(cores * 1000)


def _units(amount: Decimal) -> int:
    return math.ceil(amount)


def pod_requests(pod: Mapping[str, Any]) -> tuple[int, int]:
    """A pod's effective (cpu millicores, memory bytes) requests by upstream's rules."""
    cpu, memory = _effective(_mapping(pod.get("spec")), "requests")
    return _millis(cpu), _units(memory)


def pod_limits(pod: Mapping[str, Any]) -> tuple[int, int]:
    """A pod's effective (cpu millicores, memory bytes) limits by upstream's rules (0 when unset)."""
    cpu, memory = _effective(_mapping(pod.get("spec")), "limits")
    return _millis(cpu), _units(memory)


def _owner_kind(metadata: Mapping[str, Any]) -> str:
    owners = [owner for owner in _list(metadata.get("ownerReferences")) if isinstance(owner, dict)]
    controller = next((owner for owner in owners if owner.get("controller") is True), None)
    chosen = controller or (owners[0] if owners else None)
    kind = chosen.get("kind") if chosen else None
    return kind if isinstance(kind, str) else ""


class _Tally:
    """Running totals of one count."""

    def __init__(self, keep_pods: bool) -> None:
        self.keep_pods = keep_pods
        self.per_node: dict[str, list[int]] = {}
        self.total = 0
        self.unscheduled = 0
        self.seen = 0
        self.pages = 0
        self.pods: list[PodSummary] = []

    def add_page(self, items: list[Any]) -> None:
        self.pages += 1
        for pod in items:
            self.seen += 1
            if isinstance(pod, dict):
                self.add_pod(pod)

    def add_pod(self, pod: dict[str, Any]) -> None:
        status = _mapping(pod.get("status"))
        phase = status.get("phase") if isinstance(status.get("phase"), str) else ""
        if phase in TERMINATED_PHASES:
            return
        spec = _mapping(pod.get("spec"))
        self.total += 1
        node = spec.get("nodeName")
        if not isinstance(node, str) or not node:
            self.unscheduled += 1
            return
        cpu_request, memory_request = pod_requests(pod)
        cpu_limit, memory_limit = pod_limits(pod)
        load = self.per_node.get(node)
        if load is None:
            load = self.per_node[node] = [0, 0, 0, 0, 0]
        load[0] += 1
        load[1] += cpu_request
        load[2] += memory_request
        load[3] += cpu_limit
        load[4] += memory_limit
        if self.keep_pods:
            metadata = _mapping(pod.get("metadata"))
            self.pods.append(PodSummary(
                namespace=str(metadata.get("namespace") or ""),
                name=str(metadata.get("name") or ""),
                owner_kind=_owner_kind(metadata),
                phase=phase,
                cpu_requests_millis=cpu_request,
                memory_requests_bytes=memory_request,
                cpu_limits_millis=cpu_limit,
                memory_limits_bytes=memory_limit,
            ))


def count_pods(
    api_client: k8s_client.ApiClient,
    *,
    context: str,
    node_name: str | None = None,
    progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    page_size: int = 500,
    request_timeout: tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
    clock: Callable[[], datetime] = utc_now,
) -> PodCounts:
    """Count non-terminated pods per node (and their requests) with a paginated, streamed LIST.

    ``node_name`` narrows the LIST to one node (``spec.nodeName``) and fills ``pods``.
    ``progress(n)`` is called after every page with the number of pods received so far;
    ``cancel`` is checked before every page. Raises :class:`PodCountError` on failure or
    cancellation (``cancelled=True``). A continue token that expires mid-way restarts the count.
    """
    selector = NOT_TERMINATED_SELECTOR
    if node_name is not None:
        selector = f"spec.nodeName={node_name},{selector}"
    for _ in range(MAX_LIST_RESTARTS + 1):
        tally = _Tally(keep_pods=node_name is not None)
        as_of: datetime | None = None
        token = ""
        while True:
            if cancel is not None and cancel.is_set():
                raise PodCountError("pod count cancelled", kind="cancelled", cancelled=True)
            query = [("fieldSelector", selector), ("limit", str(page_size))]
            if token:
                query.append(("continue", token))
            try:
                response = open_raw(api_client, PODS_PATH, query, request_timeout)
                page = parse_json(read_body(response))
            except ApiStatusError as error:
                if error.status == 410 and token:
                    break  # the snapshot expired: count again from the start
                raise _count_error(error) from None
            except Exception as error:  # every failure becomes one clean message
                raise _count_error(error) from None
            if as_of is None:
                as_of = clock()
            if not isinstance(page, dict):
                raise _count_error(MalformedResponseError("pod list page is not a JSON object"))
            tally.add_page(_list(page.get("items")))
            metadata = _mapping(page.get("metadata"))
            token = metadata.get("continue") or ""
            del page
            if progress is not None:
                progress(tally.seen)
            if not isinstance(token, str) or not token:
                return PodCounts(
                    context=context,
                    as_of=as_of,
                    per_node=MappingProxyType({
                        node: NodeLoad(*values) for node, values in tally.per_node.items()
                    }),
                    total=tally.total,
                    unscheduled=tally.unscheduled,
                    pages=tally.pages,
                    pods=tuple(tally.pods),
                )
    raise PodCountError("the pod list kept expiring between pages; try again", kind="server", status=410)


def _count_error(error: BaseException) -> PodCountError:
    failure = describe_failure(error)
    return PodCountError(f"cannot count pods: {failure.message}", kind=failure.kind, status=failure.status)
