"""Per-cluster node caches, cluster sync status and the coalescing change feed the UI drains.

``NodeCache`` holds the latest ``NodeView`` of every node of one context and the latest
``LeaseView`` per node; the sync worker writes it, any thread reads it. ``ChangeFeed`` is the
bridge to the UI: producers record what changed in a lock-guarded, latest-wins buffer per
context and never wait for the consumer; the UI drains it on its own timer.

Feed semantics:

- ``upserted`` holds the newest ``NodeView`` per node name; a node upserted and then removed
  before the drain appears only in ``removed``, and the reverse only in ``upserted``.
- After a prime or a relist the producer publishes a *reset*: the batch has ``reset=True``,
  pending upserts and removals are dropped, and the consumer rebuilds its view of that context
  from ``NodeCache`` (which already holds the new list). Changes applied after the reset are
  added to the same batch again, so applying them after the rebuild is harmless.
- ``leases`` holds the newest ``LeaseView`` per node whose lease changed. A lease that
  disappears is only removed from the cache (its node's removal normally follows).
- ``status`` is the newest ``ClusterStatus`` if one was published since the last drain.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from knm_tui.kube.leaseview import LeaseView
from knm_tui.kube.nodeview import NodeView

_EMPTY: Mapping = MappingProxyType({})


class SyncState(str, enum.Enum):
    """Where a cluster's sync worker is."""

    CONNECTING = "connecting"  # thread started, first request in flight
    PRIMING = "priming"  # paginated LIST in progress
    LIVE = "live"  # primed, watch open
    RECONNECTING = "reconnecting"  # watch dropped / relisting; cache still valid
    STALE = "stale"  # cannot reach the server for a while; cache kept, shown as stale since X
    ERROR = "error"  # never primed, or auth/forbidden/config failure; see error_kind/message


@dataclass(frozen=True)
class ClusterStatus:
    """One context's sync status as the UI shows it; never holds credentials."""

    context: str
    state: SyncState
    server: str  # URL ("" if unknown)
    node_count: int
    ready_count: int  # nodes whose Ready condition is "True"
    synced: bool  # primed at least once (the cache is complete)
    message: str  # one human line
    error_kind: str | None = None  # None | auth | forbidden | unreachable | timeout | tls | config | server
    since: datetime | None = None  # when the current state began (for RECONNECTING/STALE: when the connection was lost)
    next_retry_at: datetime | None = None
    insecure_tls: bool = False  # the kubeconfig turned TLS verification off
    leases_available: bool = True  # False when leases are forbidden or not watched
    resource_version: str = ""


def _counts_as_ready(view: NodeView | None) -> int:
    return 1 if view is not None and view.ready == "True" else 0


class NodeCache:
    """The nodes (and node leases) of one context; reads are thread-safe and return snapshots."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeView] = {}
        self._leases: dict[str, LeaseView] = {}
        self._ready_count = 0

    # ------------------------------------------------------------------ reading
    def get(self, name: str) -> NodeView | None:
        """The node called ``name``, or ``None``."""
        return self._nodes.get(name)

    def nodes(self) -> list[NodeView]:
        """A snapshot copy of every node, in no particular order."""
        with self._lock:
            return list(self._nodes.values())

    def names(self) -> set[str]:
        """A snapshot of the node names."""
        with self._lock:
            return set(self._nodes)

    def lease(self, node_name: str) -> LeaseView | None:
        """The node's lease (kube-node-lease), or ``None`` when not known."""
        return self._leases.get(node_name)

    def leases(self) -> dict[str, LeaseView]:
        """A snapshot copy of every known lease, keyed by node name."""
        with self._lock:
            return dict(self._leases)

    @property
    def ready_count(self) -> int:
        """How many nodes have Ready="True"."""
        return self._ready_count

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    # ------------------------------------------------------------------ writing (the sync worker)
    def replace_nodes(self, nodes: Mapping[str, NodeView]) -> tuple[int, int]:
        """Replace every node atomically; returns ``(added, removed)`` name counts."""
        new_nodes = dict(nodes)
        ready = sum(_counts_as_ready(view) for view in new_nodes.values())
        with self._lock:
            old_names = self._nodes.keys()
            added = len(new_nodes.keys() - old_names)
            removed = len(old_names - new_nodes.keys())
            self._nodes = new_nodes
            self._ready_count = ready
        return added, removed

    def put_node(self, view: NodeView) -> NodeView | None:
        """Store ``view`` (the newest version of its node); returns the version it replaced."""
        with self._lock:
            previous = self._nodes.get(view.name)
            self._nodes[view.name] = view
            self._ready_count += _counts_as_ready(view) - _counts_as_ready(previous)
        return previous

    def remove_node(self, name: str) -> NodeView | None:
        """Forget a node; returns what was stored, or ``None``."""
        with self._lock:
            previous = self._nodes.pop(name, None)
            self._ready_count -= _counts_as_ready(previous)
        return previous

    def replace_leases(self, leases: Mapping[str, LeaseView]) -> dict[str, LeaseView]:
        """Replace every lease atomically; returns the leases that are new or changed."""
        new_leases = dict(leases)
        with self._lock:
            old = self._leases
            self._leases = new_leases
        return {name: lease for name, lease in new_leases.items() if old.get(name) != lease}

    def put_lease(self, lease: LeaseView) -> LeaseView | None:
        """Store a node's newest lease; returns the one it replaced."""
        with self._lock:
            previous = self._leases.get(lease.node_name)
            self._leases[lease.node_name] = lease
        return previous

    def remove_lease(self, node_name: str) -> LeaseView | None:
        """Forget a node's lease; returns what was stored, or ``None``."""
        with self._lock:
            return self._leases.pop(node_name, None)


@dataclass(frozen=True)
class ChangeBatch:
    """What changed in one context since the previous drain (see the module docstring)."""

    context: str
    reset: bool  # True after a prime/relist: rebuild this context's view from its NodeCache
    upserted: Mapping[str, NodeView]  # latest version per node name
    removed: frozenset[str]
    leases: Mapping[str, LeaseView]  # node name -> latest lease (only changed ones)
    status: ClusterStatus | None  # latest status when it changed since the last drain, else None


class _Pending:
    """The changes of one context waiting for the next drain."""

    __slots__ = ("reset", "upserted", "removed", "leases", "status")

    def __init__(self) -> None:
        self.reset = False
        self.upserted: dict[str, NodeView] = {}
        self.removed: set[str] = set()
        self.leases: dict[str, LeaseView] = {}
        self.status: ClusterStatus | None = None

    def batch(self, context: str) -> ChangeBatch:
        return ChangeBatch(
            context=context,
            reset=self.reset,
            upserted=MappingProxyType(self.upserted) if self.upserted else _EMPTY,
            removed=frozenset(self.removed),
            leases=MappingProxyType(self.leases) if self.leases else _EMPTY,
            status=self.status,
        )


class ChangeFeed:
    """Coalesced, latest-wins changes per context; producers never block on the consumer.

    Every publish takes a short lock and updates a dict; ``drain`` swaps the whole buffer out
    under the same lock, so the consumer's work happens outside it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._reset_listener: Callable[[], None] | None = None

    def set_reset_listener(self, listener: Callable[[], None] | None) -> None:
        """Have ``listener`` called (on the producer's thread) after every reset is published,
        so the consumer can rebuild at once instead of at its next periodic drain."""
        self._reset_listener = listener

    def _entry(self, context: str) -> _Pending:
        entry = self._pending.get(context)
        if entry is None:
            entry = self._pending[context] = _Pending()
        return entry

    # ------------------------------------------------------------------ producers
    def publish_upsert(self, context: str, view: NodeView) -> None:
        """Record the newest version of one node."""
        with self._lock:
            entry = self._entry(context)
            entry.upserted[view.name] = view
            entry.removed.discard(view.name)

    def publish_upserts(self, context: str, views: Iterable[NodeView]) -> None:
        """Record the newest version of several nodes."""
        with self._lock:
            entry = self._entry(context)
            for view in views:
                entry.upserted[view.name] = view
                entry.removed.discard(view.name)

    def publish_removed(self, context: str, name: str) -> None:
        """Record that a node is gone."""
        with self._lock:
            entry = self._entry(context)
            entry.upserted.pop(name, None)
            entry.removed.add(name)

    def publish_reset(self, context: str) -> None:
        """Tell the consumer to rebuild this context from its cache (after a prime or relist)."""
        with self._lock:
            entry = self._entry(context)
            entry.reset = True
            entry.upserted.clear()
            entry.removed.clear()
        listener = self._reset_listener
        if listener is not None:
            listener()

    def publish_lease(self, context: str, lease: LeaseView) -> None:
        """Record a node's newest lease."""
        with self._lock:
            self._entry(context).leases[lease.node_name] = lease

    def publish_leases(self, context: str, leases: Iterable[LeaseView]) -> None:
        """Record several nodes' newest leases."""
        with self._lock:
            pending = self._entry(context).leases
            for lease in leases:
                pending[lease.node_name] = lease

    def publish_status(self, context: str, status: ClusterStatus) -> None:
        """Record a context's newest status."""
        with self._lock:
            self._entry(context).status = status

    # ------------------------------------------------------------------ consumer
    def drain(self) -> list[ChangeBatch]:
        """Every context's pending changes (in order of first change), clearing them; ``[]`` when none."""
        with self._lock:
            if not self._pending:
                return []
            pending, self._pending = self._pending, {}
        return [entry.batch(context) for context, entry in pending.items()]

    def pending(self) -> bool:
        """Whether a drain would return anything."""
        return bool(self._pending)
