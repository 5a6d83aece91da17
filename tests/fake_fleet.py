"""A deterministic stand-in for ``knm_tui.kube.sync.Fleet`` and builders of fixed node data.

``FakeFleet`` has the Fleet's interface (contexts, feed, cache, status, api_client, start,
stop) over the real ``NodeCache`` and ``ChangeFeed``; tests change it with ``put_node``,
``remove_node``, ``put_lease`` and ``set_status``, which publish to the feed exactly as the sync
threads do. ``FrozenClock`` is the injected clock: it only moves when a test moves it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from knm_tui.kube.cache import ChangeFeed, ClusterStatus, NodeCache, SyncState
from knm_tui.kube.leaseview import LeaseView
from knm_tui.kube.nodeview import NodeView, project_node
from knm_tui.kube.pods import NodeLoad, PodCounts

NOW = datetime(2024, 1, 15, 10, 30, 0, tzinfo=timezone.utc)


class FrozenClock:
    """A clock that stands still until ``advance`` moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


def rfc3339(moment: datetime) -> str:
    """A time as Kubernetes writes it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_object(
    name: str,
    *,
    ready: str | None = "True",
    cordoned: bool = False,
    pressure: str | None = None,
    zone: str = "eu-west-1a",
    instance_type: str = "m5.xlarge",
    role: str | None = "worker",
    version: str = "v1.29.4",
    ip: str = "10.0.0.1",
    cpu: str = "3920m",
    memory: str = "15896Mi",
    pods: str = "110",
    created: datetime = NOW - timedelta(days=12),
    heartbeat: datetime | None = NOW - timedelta(seconds=20),
    transition: datetime | None = NOW - timedelta(hours=5),
    taints: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A realistic Node object; ``heartbeat``/``transition`` ``None`` leave those times out."""
    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        entry = {"type": kind, "status": status, "reason": reason, "message": message}
        if heartbeat is not None:
            entry["lastHeartbeatTime"] = rfc3339(heartbeat)
        if transition is not None:
            entry["lastTransitionTime"] = rfc3339(transition)
        return entry

    conditions = [
        condition("MemoryPressure", "True" if pressure == "MemoryPressure" else "False",
                  "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        condition("DiskPressure", "True" if pressure == "DiskPressure" else "False",
                  "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ]
    if ready is not None:
        reason = {"True": "KubeletReady", "False": "KubeletNotReady"}.get(ready, "NodeStatusUnknown")
        message = {"True": "kubelet is posting ready status",
                   "False": "container runtime network not ready: NetworkReady=false"}.get(
            ready, "Kubelet stopped posting node status.")
        conditions.append(condition("Ready", ready, reason, message))
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "topology.kubernetes.io/zone": zone,
        "node.kubernetes.io/instance-type": instance_type,
        **({f"node-role.kubernetes.io/{role}": ""} if role else {}),
        **(labels or {}),
    }
    spec: dict[str, Any] = {"providerID": f"aws:///{zone}/i-{abs(hash(name)) % 10**12:012d}"}
    if cordoned:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1",
                     "creationTimestamp": rfc3339(created), "labels": all_labels},
        "spec": spec,
        "status": {
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "16317Mi", "pods": pods, "ephemeral-storage": "81106Mi"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "74732Mi"},
            "nodeInfo": {"kubeletVersion": version, "osImage": "Amazon Linux 2023", "kernelVersion": "6.1.90",
                         "containerRuntimeVersion": "containerd://1.7.11", "architecture": "amd64",
                         "operatingSystem": "linux"},
        },
    }


def make_node(name: str, **options: Any) -> NodeView:
    """A NodeView projected from :func:`node_object`."""
    return project_node(node_object(name, **options))


def make_lease(name: str, renewed: datetime | None = NOW - timedelta(seconds=4), duration: int = 40) -> LeaseView:
    """A node lease renewed at ``renewed``."""
    return LeaseView(node_name=name, holder=name, renew_time=renewed, duration_seconds=duration)


def make_status(
    context: str,
    state: SyncState = SyncState.LIVE,
    *,
    nodes: Iterable[NodeView] = (),
    message: str = "",
    error_kind: str | None = None,
    since: datetime | None = NOW - timedelta(minutes=3),
    next_retry_at: datetime | None = None,
    synced: bool | None = None,
    insecure_tls: bool = False,
    leases_available: bool = True,
) -> ClusterStatus:
    """A ClusterStatus with counts taken from ``nodes``."""
    views = list(nodes)
    return ClusterStatus(
        context=context,
        state=state,
        server=f"https://{context}.example.com:6443",
        node_count=len(views),
        ready_count=sum(1 for view in views if view.ready == "True"),
        synced=state in (SyncState.LIVE, SyncState.RECONNECTING, SyncState.STALE) if synced is None else synced,
        message=message,
        error_kind=error_kind,
        since=since,
        next_retry_at=next_retry_at,
        insecure_tls=insecure_tls,
        leases_available=leases_available,
    )


def pod_counts(context: str, loads: dict[str, int], as_of: datetime = NOW) -> PodCounts:
    """A finished pod count with ``loads`` pods per node, 250m CPU and 512Mi per pod."""
    per_node = {
        name: NodeLoad(pods=count, cpu_requests_millis=250 * count, memory_requests_bytes=512 * 2**20 * count)
        for name, count in loads.items()
    }
    return PodCounts(context=context, as_of=as_of, per_node=per_node, total=sum(loads.values()), unscheduled=0)


class FakeFleet:
    """The Fleet interface over real caches and a real feed, changed by the test."""

    def __init__(self) -> None:
        self.contexts: list[str] = []
        self.feed = ChangeFeed()
        self._caches: dict[str, NodeCache] = {}
        self._statuses: dict[str, ClusterStatus] = {}
        self.api_clients: dict[str, Any] = {}
        self.started = False
        self.stopped = False

    def add_cluster(
        self,
        context: str,
        nodes: Iterable[NodeView] = (),
        *,
        leases: Iterable[LeaseView] = (),
        status: ClusterStatus | None = None,
        api_client: Any = None,
    ) -> None:
        """Add a context holding ``nodes`` (live unless ``status`` says otherwise)."""
        views = list(nodes)
        cache = NodeCache()
        cache.replace_nodes({view.name: view for view in views})
        cache.replace_leases({lease.node_name: lease for lease in leases})
        self.contexts.append(context)
        self._caches[context] = cache
        self._statuses[context] = status or make_status(context, nodes=views)
        self.api_clients[context] = api_client

    # ---------------------------------------------------------------- the Fleet interface
    def start(self) -> None:
        self.started = True

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped = True

    def cache(self, context: str) -> NodeCache:
        return self._caches[context]

    def status(self, context: str) -> ClusterStatus:
        return self._statuses[context]

    def api_client(self, context: str) -> Any:
        return self.api_clients.get(context)

    # ---------------------------------------------------------------- changes, as the sync publishes them
    def put_node(self, context: str, view: NodeView) -> None:
        """Store a node version and publish it."""
        self._caches[context].put_node(view)
        self.feed.publish_upsert(context, view)

    def remove_node(self, context: str, name: str) -> None:
        """Forget a node and publish its removal."""
        self._caches[context].remove_node(name)
        self.feed.publish_removed(context, name)

    def put_lease(self, context: str, lease: LeaseView) -> None:
        """Store a lease and publish it."""
        self._caches[context].put_lease(lease)
        self.feed.publish_lease(context, lease)

    def set_status(self, context: str, status: ClusterStatus) -> None:
        """Change a context's status and publish it."""
        self._statuses[context] = status
        self.feed.publish_status(context, status)

    def replace_all(self, context: str, views: Iterable[NodeView], status: ClusterStatus | None = None) -> None:
        """Replace every node (as a prime or relist does) and publish a reset."""
        views = list(views)
        self._caches[context].replace_nodes({view.name: view for view in views})
        self.feed.publish_reset(context)
        self.set_status(context, status or make_status(context, nodes=views))


def with_ready(view: NodeView, ready: str) -> NodeView:
    """A copy of a NodeView whose Ready condition now has status ``ready``."""
    conditions = tuple(
        replace(condition, status=ready, reason="KubeletNotReady" if ready != "True" else condition.reason)
        if condition.type == "Ready" else condition
        for condition in view.conditions
    )
    status = "Ready" if ready == "True" else "NotReady"
    return replace(view, conditions=conditions, ready=ready, status=status, resource_version=str(int(view.resource_version or 0) + 1))
