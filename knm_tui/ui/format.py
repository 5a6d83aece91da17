"""Turning NodeViews into what the screen shows: table rows, times, quantities, health.

Two ways of writing a time:

- the node table uses kubectl's compact ages (``45s``, ``3m12s``, ``5h``, ``12d``), narrow enough
  for a column and familiar to anyone who reads ``kubectl get nodes``;
- the conditions panel writes a local absolute time and a relative one via humanize,
  ``2024-01-15 10:30:00 · 3 minutes ago``; a time the server did not report is ``not reported``.

Every function takes ``now`` explicitly (from the app's injected clock), so output is
deterministic under test. Nothing here imports Textual widgets; rows are plain
:class:`~knm_tui.ui.node_table.TableRow` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Mapping

import humanize

from knm_tui.kube.leaseview import LeaseView
from knm_tui.kube.nodeview import Condition, NodeView, Resources
from knm_tui.ui.node_table import Column, RowParts, Severity, TableRow

if TYPE_CHECKING:
    from knm_tui.kube.pods import NodeLoad

NOT_REPORTED = "not reported"
NO_ROLES = "<none>"
TIME_SEPARATOR = " · "
ABSOLUTE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
STALE_SUFFIX = " stale"

# A lease that ran out means the kubelet stopped renewing it. Without a lease, the kubelet still
# writes node status at least every 5 minutes (nodeStatusReportFrequency); allow a grace period
# equal to the default lease duration before calling the heartbeat stale.
DEFAULT_LEASE_DURATION = timedelta(seconds=40)
NODE_STATUS_STALE_AFTER = timedelta(minutes=5) + DEFAULT_LEASE_DURATION

# Sort rank of each row severity: the most alarming first when STATUS sorts ascending.
SEVERITY_RANK: Mapping[str, int] = {"error": 0, "warning": 1, "cordoned": 2, "ok": 3, "muted": 4}

COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME", max_width=48),
    Column("status", "STATUS", max_width=40),
    Column("last_change", "LAST CHANGE", justify="right"),
    Column("heartbeat", "HEARTBEAT", justify="right"),
    Column("pods", "PODS", min_width=7, justify="right"),
    Column("cpu", "CPU", min_width=5, justify="right"),
    Column("memory", "MEMORY", justify="right"),
    Column("roles", "ROLES", max_width=24),
    Column("age", "AGE", min_width=5, justify="right"),
    Column("version", "VERSION", max_width=24),
    Column("internal_ip", "INTERNAL-IP", max_width=40),
    Column("zone", "ZONE", max_width=24),
    Column("instance_type", "INSTANCE-TYPE", max_width=24),
    Column("taints", "TAINTS", max_width=40),
)
"""Columns of a single cluster's node table: health first (STATUS, LAST CHANGE, HEARTBEAT), then
load (PODS, CPU, MEMORY), then what the node is; the first ones fit a 160-column terminal without
scrolling sideways."""

NAME_COLUMN_INDEX = 0
"""Where :data:`COLUMNS` has the node name (its sort value is the name itself)."""

CLUSTER_COLUMN = Column("cluster", "CLUSTER", max_width=32)
ALL_CLUSTERS_COLUMNS: tuple[Column, ...] = (CLUSTER_COLUMN, *COLUMNS)
"""Columns of the all-clusters view: the cluster first, then the single-cluster columns."""


@dataclass(frozen=True, slots=True)
class RowData:
    """What a node row was formatted from; filters and the detail panel read it."""

    context: str
    view: NodeView
    lease: LeaseView | None
    heartbeat: datetime | None
    heartbeat_stale: bool
    load: NodeLoad | None


def row_key(context: str, node_name: str) -> str:
    """The table key of a node: ``context/name`` (unique across clusters)."""
    return f"{context}/{node_name}"


def split_row_key(key: str) -> tuple[str, str]:
    """The (context, node name) of a table key; node names never contain ``/``."""
    context, _, name = key.rpartition("/")
    return context, name


# ----------------------------------------------------------------------------------- times


def compact_age(delta: timedelta) -> str:
    """A duration as kubectl prints ages: ``45s``, ``3m12s``, ``25m``, ``5h30m``, ``12h``, ``3d4h``, ``40d``, ``2y``.

    Negative durations (clock skew) read as ``0s``.
    """
    seconds = int(delta.total_seconds())
    if seconds < 0:
        seconds = 0
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = seconds // 86400
    if days < 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def age_cell(moment: datetime | None, now: datetime) -> str:
    """A table cell for the age of ``moment``; ``not reported`` when the server sent none."""
    return NOT_REPORTED if moment is None else compact_age(now - moment)


def relative_time(moment: datetime, now: datetime) -> str:
    """``3 minutes ago`` / ``30 seconds from now`` via humanize."""
    return humanize.naturaltime(now - moment)


def absolute_time(moment: datetime, tz: tzinfo | None = None) -> str:
    """``2024-01-15 10:30:00`` in ``tz`` (the local time zone when ``None``)."""
    return moment.astimezone(tz).strftime(ABSOLUTE_TIME_FORMAT)


def short_time(moment: datetime, now: datetime, tz: tzinfo | None = None) -> str:
    """``10:30:00`` when ``moment`` is on the same local day as ``now``, else the full date and time."""
    local, today = moment.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M:%S")
    return local.strftime(ABSOLUTE_TIME_FORMAT)


def format_timestamp(moment: datetime | None, now: datetime, tz: tzinfo | None = None) -> str:
    """``2024-01-15 10:30:00 · 3 minutes ago``, or ``not reported`` when ``moment`` is ``None``."""
    if moment is None:
        return NOT_REPORTED
    return f"{absolute_time(moment, tz)}{TIME_SEPARATOR}{relative_time(moment, now)}"


# ----------------------------------------------------------------------------------- quantities


def format_cpu(millis: int | None) -> str:
    """Cores as kubectl would read them: ``4``, ``3.92``, ``0.25``; empty when not reported."""
    if millis is None:
        return ""
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis / 1000:.2f}".rstrip("0").rstrip(".")


_BINARY_UNITS = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def format_bytes(value: int | None) -> str:
    """Bytes in binary units with one decimal: ``15.3Gi``, ``512Mi``; empty when not reported."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    if value < 1024:
        return f"{value}B"
    amount = float(value)
    unit = ""
    for unit in _BINARY_UNITS:
        amount /= 1024
        if amount < 1024:
            break
    text = f"{amount:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return f"{text}{unit}"


def format_share(used: int, total: int | None) -> str:
    """``59%`` of ``total``, or empty when the total is unknown or zero."""
    if not total:
        return ""
    return f"{round(100 * used / total)}%"


_RESOURCE_TEXT_CACHE: dict[int, tuple[Resources, str, str]] = {}
_RESOURCE_CACHE_LIMIT = 4096


def _resource_cells(resources: Resources) -> tuple[str, str]:
    """CPU and memory cells of an allocatable set; cached because nodes share Resources objects."""
    cached = _RESOURCE_TEXT_CACHE.get(id(resources))
    if cached is not None and cached[0] is resources:
        return cached[1], cached[2]
    cpu, memory = format_cpu(resources.cpu_millis), format_bytes(resources.memory_bytes)
    if len(_RESOURCE_TEXT_CACHE) >= _RESOURCE_CACHE_LIMIT:
        _RESOURCE_TEXT_CACHE.clear()
    _RESOURCE_TEXT_CACHE[id(resources)] = (resources, cpu, memory)
    return cpu, memory


# ----------------------------------------------------------------------------------- health


def heartbeat_is_stale(view: NodeView, lease: LeaseView | None, now: datetime) -> bool:
    """Whether the node stopped heartbeating: its Lease ran out, or (without one) its status is old."""
    return _heartbeat_health(view, lease, now)[1]


def _heartbeat_health(view: NodeView, lease: LeaseView | None, now: datetime) -> tuple[datetime | None, bool]:
    """The freshest sign of life (the Lease renew time, else the newest condition heartbeat) and
    whether it is stale (see :func:`heartbeat_is_stale`)."""
    if lease is not None and lease.renew_time is not None:
        duration = timedelta(seconds=lease.duration_seconds) if lease.duration_seconds else DEFAULT_LEASE_DURATION
        return lease.renew_time, now - lease.renew_time > duration
    heartbeat = view.last_heartbeat
    return heartbeat, heartbeat is not None and now - heartbeat > NODE_STATUS_STALE_AFTER


def row_severity(view: NodeView, heartbeat_stale: bool,
                 problems: tuple[Condition, ...] | None = None) -> Severity:
    """How a row stands out: NotReady/Unknown is an error; pressure or a stale heartbeat a
    warning; a cordoned but otherwise healthy node is "cordoned". ``problems`` is
    ``view.pressure_conditions`` when the caller has it already."""
    if view.status != "Ready":
        return "error"
    if heartbeat_stale or (view.pressure_conditions if problems is None else problems):
        return "warning"
    if view.cordoned:
        return "cordoned"
    return "ok"


def status_text(view: NodeView, problems: tuple[Condition, ...] | None = None) -> str:
    """The STATUS cell: kubectl's ``Ready,SchedulingDisabled`` plus any problem conditions
    (``problems`` is ``view.pressure_conditions`` when the caller has it already)."""
    if problems is None:
        problems = view.pressure_conditions
    if not problems:
        return view.display_status
    return ",".join([view.display_status, *(condition.type for condition in problems)])


def taints_text(view: NodeView) -> str:
    """The TAINTS cell: ``key=value:Effect`` joined by commas."""
    return ",".join(map(str, view.taints))


# ----------------------------------------------------------------------------------- rows


def make_row_data(
    context: str,
    view: NodeView,
    lease: LeaseView | None,
    load: NodeLoad | None,
    now: datetime,
) -> RowData:
    """Bundle a node with its lease, pod load and heartbeat health at ``now``."""
    heartbeat, stale = _heartbeat_health(view, lease, now)
    return RowData(context=context, view=view, lease=lease, heartbeat=heartbeat, heartbeat_stale=stale, load=load)


def format_row(data: RowData, now: datetime) -> TableRow:
    """The node table row of one node (single-cluster columns, see :data:`COLUMNS`)."""
    cells, sort_values, severity = row_parts(data, now)
    return TableRow(key=row_key(data.context, data.view.name), cells=cells, sort_values=sort_values,
                    severity=severity, data=data)


def deferred_row(data: RowData, now: datetime) -> TableRow:
    """:func:`format_row` done on first need (as of ``now``); sorting by name formats nothing."""
    return TableRow.deferred(row_key(data.context, data.view.name), data, lambda row_data: row_parts(row_data, now),
                             {NAME_COLUMN_INDEX: data.view.name})


def row_parts(data: RowData, now: datetime) -> RowParts:
    """The cells, sort values and severity of one node's row (see :data:`COLUMNS`)."""
    view = data.view
    roles = ",".join(view.roles) if view.roles else NO_ROLES
    cpu, memory = _resource_cells(view.allocatable)
    pod_capacity = view.allocatable.pods
    if data.load is None:
        pods_cell, pods_sort = "", None
    else:
        capacity = "?" if pod_capacity is None else str(pod_capacity)
        pods_cell, pods_sort = f"{data.load.pods}/{capacity}", data.load.pods
    last_transition = view.last_transition
    heartbeat_cell = age_cell(data.heartbeat, now)
    if data.heartbeat_stale:
        heartbeat_cell += STALE_SUFFIX
    problems = view.pressure_conditions
    severity = row_severity(view, data.heartbeat_stale, problems)
    status = status_text(view, problems)
    taints = taints_text(view)
    # Ages sort by the moment itself (older first), so the order never moves as time passes.
    return (
        (
            view.name,
            status,
            age_cell(last_transition, now),
            heartbeat_cell,
            pods_cell,
            cpu,
            memory,
            roles,
            age_cell(view.created, now),
            view.kubelet_version,
            view.internal_ip,
            view.zone,
            view.instance_type,
            taints,
        ),
        (
            view.name,
            (SEVERITY_RANK[severity], status),
            _newest_first(last_transition),
            _newest_first(data.heartbeat),
            pods_sort,
            view.allocatable.cpu_millis,
            view.allocatable.memory_bytes,
            roles,
            _newest_first(view.created),
            view.kubelet_version,
            view.internal_ip,
            view.zone,
            view.instance_type,
            (len(view.taints), taints),
        ),
        severity,
    )


def _newest_first(moment: datetime | None) -> float | None:
    """Sort key that puts recent moments first (ascending by age, like the cell reads)."""
    return None if moment is None else -moment.timestamp()


def with_cluster_column(row: TableRow, cluster_rank: int) -> TableRow:
    """The same row for the all-clusters view: the context name first, sorting in kubeconfig order.

    A row not formatted yet stays so: the merged row formats it when it is itself formatted.
    """
    data: RowData = row.data
    cluster_sort = (cluster_rank, data.context)
    if row.formatted:
        return TableRow(key=row.key, cells=(data.context, *row.cells), sort_values=(cluster_sort, *row.sort_values),
                        severity=row.severity, data=data)

    def merged_parts(row_data: RowData) -> RowParts:
        return (row_data.context, *row.cells), (cluster_sort, *row.sort_values), row.severity

    return TableRow.deferred(row.key, data, merged_parts, {0: cluster_sort, NAME_COLUMN_INDEX + 1: data.view.name})
