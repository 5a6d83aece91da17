"""The UI's view of every cluster: nodes, leases, formatted rows, status, pod counts, rates.

The app drains the sync engine's ``ChangeFeed`` on a timer and hands the batches to
:meth:`FleetModel.apply`, which folds them in and reports what changed, so the app touches the
table only for rows whose text, sort value or colour really changed. Each node's
:class:`~knm_tui.ui.node_table.TableRow` is formatted once per drain that changes it and cached
here; switching clusters reuses the cached rows.

Relative-time columns (AGE, LAST CHANGE, HEARTBEAT) go out of date as time passes without any
event. Re-formatting every row every second would cost O(nodes) per second for nothing the user
can see, so the app instead calls :meth:`FleetModel.refresh_rows` for the rows on screen only
(once a second and whenever the table scrolls), and :meth:`FleetModel.stale_rows` every few
seconds to catch heartbeats going stale off screen (a cheap comparison per node, re-formatting
only the rows whose staleness flipped). Ages sort by the moment itself, so the order never depends
on when a row was formatted.

Events per second count the node and lease changes in each drained batch; changes to one object
within one drain interval are coalesced by the feed and count once.

This module holds no widgets; it is plain data and runs in tests without an app.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Protocol, Sequence

from knm_tui.kube.cache import ChangeBatch, ClusterStatus, SyncState
from knm_tui.kube.leaseview import LeaseView
from knm_tui.kube.nodeview import NodeView
from knm_tui.kube.pods import NodeLoad, PodCounts, PodSummary
from knm_tui.ui.format import (
    RowData,
    deferred_row,
    format_row,
    heartbeat_is_stale,
    make_row_data,
    row_key,
    with_cluster_column,
)
from knm_tui.ui.node_table import TableRow

RATE_WINDOW = timedelta(seconds=10)
RECONNECT_STATES = frozenset({SyncState.RECONNECTING, SyncState.STALE})
ZERO_LOAD = NodeLoad(pods=0, cpu_requests_millis=0, memory_requests_bytes=0)


class NodeCacheLike(Protocol):
    """What the model reads from a context's node cache."""

    def nodes(self) -> list[NodeView]: ...

    def lease(self, node_name: str) -> LeaseView | None: ...


class FleetSource(Protocol):
    """What the app needs from the sync engine: :class:`knm_tui.kube.sync.Fleet` or a test double."""

    contexts: list[str]
    feed: Any  # a ChangeFeed: drain() -> list[ChangeBatch], pending() -> bool

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def cache(self, context: str) -> NodeCacheLike: ...

    def status(self, context: str) -> ClusterStatus: ...

    def api_client(self, context: str) -> Any | None: ...


@dataclass(frozen=True)
class NodePods:
    """Pods counted for one node alone (``P``), with when they were counted."""

    load: NodeLoad
    as_of: datetime
    pods: tuple[PodSummary, ...] = ()


@dataclass
class PodCountState:
    """Where the on-demand pod count of one context stands."""

    counts: PodCounts | None = None
    loading: bool = False
    progress: int = 0
    error: str | None = None


@dataclass
class ClusterModel:
    """One context as the UI knows it."""

    context: str
    rank: int
    status: ClusterStatus | None = None
    views: dict[str, NodeView] = field(default_factory=dict)
    leases: dict[str, LeaseView] = field(default_factory=dict)
    rows: dict[str, TableRow] = field(default_factory=dict)  # node name -> formatted row
    merged_rows: dict[str, TableRow] = field(default_factory=dict)  # the same with a CLUSTER cell
    pods: PodCountState = field(default_factory=PodCountState)
    node_pods: dict[str, NodePods] = field(default_factory=dict)
    change_times: deque[tuple[datetime, int]] = field(default_factory=deque)
    last_event_at: datetime | None = None
    reconnects: int = 0
    ready_count: int = 0

    @property
    def node_count(self) -> int:
        """Nodes held for this context."""
        return len(self.views)

    @property
    def state(self) -> SyncState:
        """The sync state (CONNECTING until a status arrives)."""
        return self.status.state if self.status is not None else SyncState.CONNECTING

    def load_of(self, name: str) -> NodeLoad | None:
        """The newest pod load known for a node: its own count or the cluster-wide one."""
        own = self.node_pods.get(name)
        counts = self.pods.counts
        if counts is not None and (own is None or counts.as_of >= own.as_of):
            return counts.per_node.get(name, ZERO_LOAD)
        return own.load if own is not None else None

    def load_as_of(self, name: str) -> datetime | None:
        """When the load returned by :meth:`load_of` was counted."""
        own = self.node_pods.get(name)
        counts = self.pods.counts
        if counts is not None and (own is None or counts.as_of >= own.as_of):
            return counts.as_of
        return own.as_of if own is not None else None


@dataclass
class FleetChanges:
    """What one :meth:`FleetModel.apply` changed."""

    reset: set[str] = field(default_factory=set)
    upserted: dict[str, list[TableRow]] = field(default_factory=dict)  # context -> changed rows
    removed: dict[str, list[str]] = field(default_factory=dict)  # context -> removed row keys
    status_changed: set[str] = field(default_factory=set)
    touched_keys: set[str] = field(default_factory=set)  # keys whose node or lease changed

    @property
    def any(self) -> bool:
        """Whether anything changed at all."""
        return bool(self.reset or self.upserted or self.removed or self.status_changed)

    def contexts(self) -> set[str]:
        """Contexts with any change."""
        return self.reset | set(self.upserted) | set(self.removed) | self.status_changed


class FleetModel:
    """Every context's nodes and formatted rows, fed from ChangeBatches."""

    def __init__(self, contexts: Sequence[str], clock: Callable[[], datetime]) -> None:
        self.contexts: list[str] = list(contexts)
        self.clock = clock
        self.clusters: dict[str, ClusterModel] = {
            context: ClusterModel(context, rank) for rank, context in enumerate(self.contexts)
        }

    # ------------------------------------------------------------------------- reading

    def cluster(self, context: str) -> ClusterModel:
        """The model of one context."""
        return self.clusters[context]

    def rows(self, context: str | None) -> list[TableRow]:
        """Rows of one context, or of every context with a CLUSTER column when ``None``."""
        if context is not None:
            return list(self.clusters[context].rows.values())
        merged: list[TableRow] = []
        for cluster in self.clusters.values():
            merged.extend(self._merged_row(cluster, name, row) for name, row in cluster.rows.items())
        return merged

    def view_row(self, row: TableRow, context: str | None) -> TableRow:
        """A cached row as the given view shows it (adds the CLUSTER cell in the all view)."""
        if context is not None:
            return row
        data: RowData = row.data
        return self._merged_row(self.clusters[data.context], data.view.name, row)

    @staticmethod
    def _merged_row(cluster: ClusterModel, name: str, row: TableRow) -> TableRow:
        """The all-clusters version of ``row``, cached until the row is formatted again."""
        merged = cluster.merged_rows.get(name)
        if merged is None or merged.data is not row.data:
            merged = cluster.merged_rows[name] = with_cluster_column(row, cluster.rank)
        return merged

    def row_data(self, key: str) -> RowData | None:
        """What the row with ``key`` was formatted from, or ``None``."""
        context, _, name = key.rpartition("/")
        cluster = self.clusters.get(context)
        if cluster is None:
            return None
        row = cluster.rows.get(name)
        return row.data if row is not None else None

    def totals(self) -> tuple[int, int]:
        """(ready, total) nodes over every context."""
        return (
            sum(cluster.ready_count for cluster in self.clusters.values()),
            sum(cluster.node_count for cluster in self.clusters.values()),
        )

    def event_rate(self, context: str | None, now: datetime) -> float:
        """Node and lease changes per second over the last few seconds (all contexts for ``None``)."""
        clusters = self.clusters.values() if context is None else (self.clusters[context],)
        total = 0
        cutoff = now - RATE_WINDOW
        for cluster in clusters:
            times = cluster.change_times
            while times and times[0][0] < cutoff:
                times.popleft()
            total += sum(count for _, count in times)
        return total / RATE_WINDOW.total_seconds()

    def last_event_at(self, context: str | None) -> datetime | None:
        """When the newest change arrived (over every context for ``None``)."""
        if context is not None:
            return self.clusters[context].last_event_at
        moments = [c.last_event_at for c in self.clusters.values() if c.last_event_at is not None]
        return max(moments, default=None)

    # ------------------------------------------------------------------------- writing

    def set_status(self, status: ClusterStatus) -> bool:
        """Record a context's status; True when it differs from the one held."""
        cluster = self.clusters.get(status.context)
        if cluster is None or cluster.status == status:
            return False
        previous = cluster.state if cluster.status is not None else None
        if status.state in RECONNECT_STATES and previous not in RECONNECT_STATES and previous is not None:
            cluster.reconnects += 1
        cluster.status = status
        return True

    def load_context(self, context: str, cache: NodeCacheLike) -> list[TableRow]:
        """Rebuild a context from its node cache (after a prime or relist); returns its rows."""
        cluster = self.clusters[context]
        now = self.clock()
        views = {view.name: view for view in cache.nodes()}
        leases: dict[str, LeaseView] = {}
        for name in views:
            lease = cache.lease(name)
            if lease is not None:
                leases[name] = lease
        cluster.views = views
        cluster.leases = leases
        # Formatted on first need: the table formats the rows on screen first (see NodeTable).
        cluster.rows = {name: deferred_row(self._row_data(cluster, view, now), now) for name, view in views.items()}
        cluster.merged_rows = {}
        cluster.ready_count = sum(1 for view in views.values() if view.ready == "True")
        return list(cluster.rows.values())

    def apply(self, batches: Iterable[ChangeBatch], source: FleetSource) -> FleetChanges:
        """Fold drained batches in; reset contexts are rebuilt from ``source.cache(context)``."""
        changes = FleetChanges()
        now = self.clock()
        for batch in batches:
            context = batch.context
            cluster = self.clusters.get(context)
            if cluster is None:
                continue
            if batch.status is not None and self.set_status(batch.status):
                changes.status_changed.add(context)
            event_count = len(batch.upserted) + len(batch.removed) + len(batch.leases)
            if event_count:
                cluster.change_times.append((now, event_count))
                cluster.last_event_at = now
            if batch.reset:
                self.load_context(context, source.cache(context))
                changes.reset.add(context)
                changes.upserted.pop(context, None)
                changes.removed.pop(context, None)
                continue
            if context in changes.reset:
                # A second batch for a context rebuilt in this same drain cannot happen (one
                # batch per context per drain), but stay correct if it ever does.
                self.load_context(context, source.cache(context))
                continue
            self._apply_changes(cluster, batch, now, changes)
        return changes

    def _apply_changes(self, cluster: ClusterModel, batch: ChangeBatch, now: datetime, changes: FleetChanges) -> None:
        context = cluster.context
        views, leases, rows = cluster.views, cluster.leases, cluster.rows
        touched: set[str] = set()
        ready_delta = 0
        for name, view in batch.upserted.items():
            old = views.get(name)
            ready_delta += (view.ready == "True") - (old is not None and old.ready == "True")
            views[name] = view
            touched.add(name)
        for name, lease in batch.leases.items():
            if name in views or name in leases:
                leases[name] = lease
                touched.add(name)
        removed_keys = []
        for name in batch.removed:
            old = views.pop(name, None)
            leases.pop(name, None)
            cluster.node_pods.pop(name, None)
            touched.discard(name)
            if old is not None:
                ready_delta -= old.ready == "True"
            cluster.merged_rows.pop(name, None)
            if rows.pop(name, None) is not None:
                removed_keys.append(row_key(context, name))
        cluster.ready_count += ready_delta
        changed_rows = []
        for name in touched:
            view = views.get(name)
            if view is None:
                continue
            row = self._format(cluster, view, now)
            changes.touched_keys.add(row.key)
            if self._store_if_changed(rows, name, row):
                changed_rows.append(row)
        if changed_rows:
            changes.upserted.setdefault(context, []).extend(changed_rows)
        if removed_keys:
            changes.removed.setdefault(context, []).extend(removed_keys)
            changes.touched_keys.update(removed_keys)

    def refresh_rows(self, keys: Iterable[str]) -> list[TableRow]:
        """Re-format rows (e.g. those on screen) at the current time; returns those that changed."""
        now = self.clock()
        changed = []
        for key in keys:
            context, _, name = key.rpartition("/")
            cluster = self.clusters.get(context)
            if cluster is None:
                continue
            view = cluster.views.get(name)
            if view is None:
                continue
            row = self._format(cluster, view, now)
            if self._store_if_changed(cluster.rows, name, row):
                changed.append(row)
        return changed

    def stale_rows(self, contexts: Iterable[str]) -> list[TableRow]:
        """Re-format the rows whose heartbeat went stale (or fresh) since they were formatted."""
        now = self.clock()
        changed = []
        for context in contexts:
            cluster = self.clusters[context]
            for name, row in list(cluster.rows.items()):
                data: RowData = row.data
                if heartbeat_is_stale(data.view, data.lease, now) != data.heartbeat_stale:
                    new_row = self._format(cluster, data.view, now)
                    cluster.rows[name] = new_row
                    changed.append(new_row)
        return changed

    def begin_pod_count(self, context: str) -> None:
        """Mark a context's pod count as loading."""
        pods = self.clusters[context].pods
        pods.loading, pods.progress, pods.error = True, 0, None

    def pod_count_progress(self, context: str, counted: int) -> None:
        """Record how many pods the running count has seen."""
        self.clusters[context].pods.progress = counted

    def pod_count_failed(self, context: str, message: str) -> None:
        """Record that the pod count of a context failed (earlier counts are kept)."""
        pods = self.clusters[context].pods
        pods.loading, pods.error = False, message

    def set_pod_counts(self, counts: PodCounts) -> list[TableRow]:
        """Store a finished cluster-wide pod count; returns every re-formatted row."""
        cluster = self.clusters[counts.context]
        cluster.pods.counts = counts
        cluster.pods.loading = False
        cluster.pods.error = None
        return self._reformat_all(cluster)

    def set_node_pods(self, name: str, counts: PodCounts) -> list[TableRow]:
        """Store one node's own pod count; returns its re-formatted row (if the node is known)."""
        cluster = self.clusters[counts.context]
        load = counts.per_node.get(name, ZERO_LOAD)
        cluster.node_pods[name] = NodePods(load, counts.as_of, tuple(counts.pods))
        view = cluster.views.get(name)
        if view is None:
            return []
        row = self._format(cluster, view, self.clock())
        cluster.rows[name] = row
        return [row]

    # ------------------------------------------------------------------------- internals

    def _reformat_all(self, cluster: ClusterModel) -> list[TableRow]:
        now = self.clock()
        cluster.rows = {name: self._format(cluster, view, now) for name, view in cluster.views.items()}
        return list(cluster.rows.values())

    @staticmethod
    def _store_if_changed(rows: dict[str, TableRow], name: str, row: TableRow) -> bool:
        """Cache ``row``; True when the table must hear of it: its text, order or colour changed,
        or its labels did (label selectors filter on them although no cell shows them)."""
        old = rows.get(name)
        rows[name] = row
        return old is None or old != row or old.data.view.labels != row.data.view.labels

    @staticmethod
    def _format(cluster: ClusterModel, view: NodeView, now: datetime) -> TableRow:
        return format_row(FleetModel._row_data(cluster, view, now), now)

    @staticmethod
    def _row_data(cluster: ClusterModel, view: NodeView, now: datetime) -> RowData:
        name = view.name
        return make_row_data(cluster.context, view, cluster.leases.get(name), cluster.load_of(name), now)

