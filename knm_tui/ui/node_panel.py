"""The details panel of the selected node: conditions with their times, Lease, pods, and the rest.

Conditions come first, each with its last heartbeat and last transition as a local absolute time
and a relative one ("2024-01-15 10:30:00 · 3 minutes ago"); a time the server did not report
reads "not reported". Then the Lease (the kubelet's real heartbeat), cordon state, pods and
requests against allocatable (when counted), taints, capacity against allocatable, node info,
addresses and labels. The app re-renders the panel every second so relative times tick.

The panel is a Line-API scroll view: :func:`panel_lines` lays the node out as plain lines of
styled spans (wrapping long condition messages to the panel width), and only the lines on screen
are turned into strips. Re-rendering it costs well under a millisecond and never re-lays out the
screen, which a Rich table in a ``Static`` did (tens of milliseconds per update).

Colours come from the theme's variables; every state is also written out in words or glyphs.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, tzinfo
from typing import ClassVar, Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from knm_tui.kube.nodeview import Condition, NodeView, Resources
from knm_tui.ui.fleet_model import ClusterModel
from knm_tui.ui.format import (
    NOT_REPORTED,
    RowData,
    format_bytes,
    format_cpu,
    format_share,
    format_timestamp,
    status_text,
)

NO_NODE_TEXT = "No node selected."
LEASES_NOT_AVAILABLE = "not available (this context cannot read leases in kube-node-lease)"
NO_LEASE = "none found in kube-node-lease"
PODS_NOT_LOADED = "not loaded: press p to count pods in this cluster, P for this node only"
MIN_MESSAGE_WIDTH = 24
GAP = "  "

Span = tuple[str, str]  # (text, style name: "", "key", "heading", "muted", "ok", "warning", "error")
Line = list[Span]


def _plain(text: str, style: str = "") -> Line:
    return [(text, style)]


def _labelled(label: str, value: str, style: str = "") -> Line:
    """``label`` (already padded to its section's width), two spaces, ``value``."""
    return [(f"{label}  ", "key"), (value, style or ("muted" if value == NOT_REPORTED else ""))]


def _heading(title: str) -> list[Line]:
    return [[], _plain(title, "heading")]


def _condition_marker(condition: Condition) -> tuple[str, str]:
    if condition.status == "Unknown":
        return "?", "error" if condition.type == "Ready" else "warning"
    return ("✖", "error") if condition.is_problem else ("✓", "ok")


def _conditions(view: NodeView, now: datetime, tz: tzinfo | None, width: int) -> list[Line]:
    if not view.conditions:
        return [_plain("Conditions: none reported by the server", "warning")]
    header = ("", "TYPE", "STATUS", "REASON", "LAST HEARTBEAT", "LAST TRANSITION")
    rows = []
    for condition in view.conditions:
        marker, severity = _condition_marker(condition)
        rows.append((
            (marker, severity),
            (condition.type, severity if severity != "ok" else ""),
            (condition.status or NOT_REPORTED, severity),
            (condition.reason or NOT_REPORTED, "" if condition.reason else "muted"),
            (format_timestamp(condition.last_heartbeat, now, tz), "" if condition.last_heartbeat else "muted"),
            (format_timestamp(condition.last_transition, now, tz), "" if condition.last_transition else "muted"),
            condition.message or NOT_REPORTED,
        ))
    widths = [max(len(header[index]), *(len(row[index][0]) for row in rows)) for index in range(len(header))]
    widths[3] = min(widths[3], 32)
    fixed = sum(widths) + len(GAP) * len(widths)
    message_width = width - fixed
    inline_message = message_width >= MIN_MESSAGE_WIDTH
    lines: list[Line] = []
    header_line: Line = []
    for index, title in enumerate(header):
        header_line.append((title.ljust(widths[index]) + GAP, "heading"))
    header_line.append(("MESSAGE" if inline_message else "", "heading"))
    lines.append(header_line)
    for row in rows:
        line: Line = []
        for index, (text, style) in enumerate(row[:-1]):
            if len(text) > widths[index]:
                text = text[: widths[index] - 1] + "…"
            line.append((text.ljust(widths[index]) + GAP, style))
        message = row[-1]
        message_style = "muted" if message == NOT_REPORTED else ""
        if inline_message:
            wrapped = textwrap.wrap(message, message_width) or [""]
            line.append((wrapped[0], message_style))
            lines.append(line)
            for continuation in wrapped[1:]:
                lines.append([(" " * fixed, ""), (continuation, message_style)])
        else:
            lines.append(line)
            indent = " " * (widths[0] + len(GAP))
            for part in textwrap.wrap(message, max(MIN_MESSAGE_WIDTH, width - len(indent))) or [""]:
                lines.append([(indent, ""), (part, message_style)])
    return lines


def _summary(data: RowData) -> Line:
    view = data.view
    severity = "error" if view.status != "Ready" else "warning" if view.pressure_conditions else "ok"
    line: Line = [("Status  ", "key"), (status_text(view), severity)]
    if view.cordoned:
        line.append(("   cordoned: no new pods are scheduled here", "warning"))
    if data.heartbeat_stale:
        line.append(("   heartbeat stale", "warning"))
    return line


def _heartbeat(data: RowData, cluster: ClusterModel, now: datetime, tz: tzinfo | None) -> list[Line]:
    lines = _heading("Heartbeat")
    leases_available = cluster.status is None or cluster.status.leases_available
    lease = data.lease
    if lease is not None:
        renewed: Line = _labelled("Lease renewed   ", format_timestamp(lease.renew_time, now, tz))
        if lease.is_expired(now):
            renewed.append(("   expired: the kubelet stopped renewing it", "warning"))
        lines.append(renewed)
        lines.append(_labelled("Lease holder    ", lease.holder or NOT_REPORTED))
        duration = f"{lease.duration_seconds} s" if lease.duration_seconds is not None else NOT_REPORTED
        lines.append(_labelled("Lease duration  ", duration))
    elif not leases_available:
        lines.append(_labelled("Lease           ", LEASES_NOT_AVAILABLE, "muted"))
    else:
        lines.append(_labelled("Lease           ", NO_LEASE, "muted"))
    lines.append(_labelled("Status heartbeat", format_timestamp(data.view.last_heartbeat, now, tz)))
    return lines


def _cordon(view: NodeView, now: datetime, tz: tzinfo | None) -> list[Line]:
    lines = _heading("Cordon")
    lines.append(_labelled("Reason", view.cordon_reason or "not recorded"))
    if view.cordoned_by:
        lines.append(_labelled("By    ", view.cordoned_by))
    if view.cordoned_at is not None:
        lines.append(_labelled("At    ", format_timestamp(view.cordoned_at, now, tz)))
    return lines


def _pods(data: RowData, cluster: ClusterModel, now: datetime, tz: tzinfo | None) -> list[Line]:
    lines = _heading("Pods and requests")
    name = data.view.name
    load = cluster.load_of(name)
    as_of = cluster.load_as_of(name)
    allocatable = data.view.allocatable
    if load is None or as_of is None:
        lines.append(_plain(PODS_NOT_LOADED, "muted"))
        return lines
    capacity = "?" if allocatable.pods is None else str(allocatable.pods)
    lines.append(_labelled("Pods           ", f"{load.pods}/{capacity} {format_share(load.pods, allocatable.pods)}".rstrip()))
    cpu = f"{format_cpu(load.cpu_requests_millis)} of {format_cpu(allocatable.cpu_millis) or '?'} cores"
    share = format_share(load.cpu_requests_millis, allocatable.cpu_millis)
    lines.append(_labelled("CPU requests   ", f"{cpu} {share}".rstrip()))
    memory = f"{format_bytes(load.memory_requests_bytes) or '0'} of {format_bytes(allocatable.memory_bytes) or '?'}"
    share = format_share(load.memory_requests_bytes, allocatable.memory_bytes)
    lines.append(_labelled("Memory requests", f"{memory} {share}".rstrip()))
    lines.append(_labelled("As of          ", format_timestamp(as_of, now, tz)))
    own = cluster.node_pods.get(name)
    if own is not None and own.pods:
        lines.append(_plain(f"{'NAMESPACE':<24}{GAP}{'POD':<48}{GAP}{'OWNER':<12}{GAP}{'CPU':>6}{GAP}{'MEMORY':>8}", "heading"))
        for pod in own.pods:
            lines.append(_plain(
                f"{pod.namespace[:24]:<24}{GAP}{pod.name[:48]:<48}{GAP}{(pod.owner_kind or '-')[:12]:<12}{GAP}"
                f"{format_cpu(pod.cpu_requests_millis):>6}{GAP}{format_bytes(pod.memory_requests_bytes) or '0':>8}"
            ))
    return lines


def _taints(view: NodeView, now: datetime, tz: tzinfo | None) -> list[Line]:
    lines = _heading(f"Taints ({len(view.taints)})")
    if not view.taints:
        lines.append(_plain("none", "muted"))
    for taint in view.taints:
        line = _plain(str(taint))
        if taint.time_added is not None:
            line.append((f"   added {format_timestamp(taint.time_added, now, tz)}", "muted"))
        lines.append(line)
    return lines


def _resource_value(resources: Resources, name: str) -> str:
    if name == "cpu":
        return format_cpu(resources.cpu_millis) or NOT_REPORTED
    if name == "memory":
        return format_bytes(resources.memory_bytes) or NOT_REPORTED
    if name == "pods":
        return NOT_REPORTED if resources.pods is None else str(resources.pods)
    if name == "ephemeral-storage":
        return format_bytes(resources.ephemeral_storage_bytes) or NOT_REPORTED
    return resources.raw.get(name, NOT_REPORTED)


def _resources(view: NodeView) -> list[Line]:
    lines = _heading("Capacity and allocatable")
    names = ["cpu", "memory", "pods", "ephemeral-storage"]
    names += sorted((set(view.capacity.raw) | set(view.allocatable.raw)) - set(names))
    width = max(len(name) for name in names)
    lines.append(_plain(f"{'RESOURCE':<{width}}{GAP}{'CAPACITY':>14}{GAP}{'ALLOCATABLE':>14}", "heading"))
    for name in names:
        lines.append(_plain(
            f"{name:<{width}}{GAP}{_resource_value(view.capacity, name):>14}{GAP}{_resource_value(view.allocatable, name):>14}"
        ))
    return lines


def _facts(view: NodeView, now: datetime, tz: tzinfo | None) -> list[Line]:
    lines = _heading("Node")
    facts = [
        ("Roles", ",".join(view.roles) or "<none>"),
        ("Created", format_timestamp(view.created, now, tz)),
        ("Kubelet", view.kubelet_version),
        ("OS image", view.os_image),
        ("Kernel", view.kernel_version),
        ("Container runtime", view.container_runtime),
        ("OS / architecture", "/".join(part for part in (view.operating_system, view.architecture) if part)),
        ("Region / zone", " / ".join(part for part in (view.region, view.zone) if part)),
        ("Instance type", view.instance_type),
        ("Node pool", view.node_pool),
        ("Provider ID", view.provider_id),
        ("Addresses", ", ".join(f"{kind} {address}" for kind, address in view.addresses)),
    ]
    width = max(len(label) for label, _ in facts)
    for label, value in facts:
        lines.append(_labelled(label.ljust(width), value or NOT_REPORTED))
    return lines


def _labels(view: NodeView) -> list[Line]:
    lines = _heading(f"Labels ({len(view.labels)})")
    for key in sorted(view.labels):
        value = view.labels[key]
        lines.append(_plain(f"{key}={value}" if value else key))
    if not view.labels:
        lines.append(_plain("none", "muted"))
    return lines


def panel_lines(data: RowData, cluster: ClusterModel, now: datetime, tz: tzinfo | None, width: int) -> list[Line]:
    """Everything the panel shows about a node, as lines of styled spans, ``width`` cells wide."""
    view = data.view
    lines: list[Line] = [_summary(data)]
    lines.extend(_conditions(view, now, tz, width))
    lines.extend(_heartbeat(data, cluster, now, tz))
    if view.cordoned:
        lines.extend(_cordon(view, now, tz))
    lines.extend(_pods(data, cluster, now, tz))
    lines.extend(_taints(view, now, tz))
    lines.extend(_resources(view))
    lines.extend(_facts(view, now, tz))
    lines.extend(_labels(view))
    return lines


def line_text(line: Sequence[Span]) -> str:
    """The plain text of one panel line."""
    return "".join(text for text, _ in line)


class NodePanel(ScrollView, can_focus=True):
    """A scrollable panel showing one node; :meth:`show` (re)renders it."""

    STYLE_NAMES: ClassVar[tuple[str, ...]] = ("key", "heading", "muted", "ok", "warning", "error")

    def __init__(self, *, id: str | None = None, tz: tzinfo | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.key: str | None = None
        self._lines: list[Line] = [_plain(NO_NODE_TEXT, "muted")]
        self._styles: dict[str, Style] | None = None
        self._last: tuple[RowData | None, ClusterModel | None, datetime] | None = None

    @property
    def lines(self) -> list[str]:
        """The panel's content as plain text lines (all of them, not only those on screen)."""
        return [line_text(line) for line in self._lines]

    def show(self, data: RowData | None, cluster: ClusterModel | None, now: datetime) -> None:
        """Render ``data`` (``None``: nothing selected) as of ``now``."""
        self._last = (data, cluster, now)
        if data is None or cluster is None:
            self.key = None
            self.border_title = "Node"
            self._set_lines([_plain(NO_NODE_TEXT, "muted")])
            return
        key = f"{data.context}/{data.view.name}"
        if key != self.key:
            self.scroll_to(y=0, animate=False, immediate=True)
        self.key = key
        self.border_title = f"{data.view.name} · {data.context}"
        width = max(40, self.scrollable_content_region.width or self.size.width or 120)
        self._set_lines(panel_lines(data, cluster, now, self.tz, width))

    def _set_lines(self, lines: list[Line]) -> None:
        self._lines = lines
        width = max((sum(len(text) for text, _ in line) for line in lines), default=0)
        self.virtual_size = Size(width, len(lines))
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        """Re-wrap condition messages to the new width."""
        if self._last is not None:
            self.show(*self._last)

    def notify_style_update(self) -> None:
        """Pick up theme changes."""
        super().notify_style_update()
        self._styles = None

    def _style_map(self) -> dict[str, Style]:
        if self._styles is None:
            variables = self.app.theme_variables
            base = self.rich_style
            self._styles = {
                "": base,
                "key": base + Style(bold=True),
                "heading": base + Style(color=variables.get("text-primary"), bold=True),
                "muted": base + Style(dim=True),
                "ok": base + Style(color=variables.get("text-success")),
                "warning": base + Style(color=variables.get("text-warning")),
                "error": base + Style(color=variables.get("text-error"), bold=True),
            }
        return self._styles

    def render_line(self, y: int) -> Strip:
        """One line of the panel at the current scroll position."""
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        styles = self._style_map()
        if index >= len(self._lines):
            return Strip.blank(width, styles[""])
        segments = [Segment(text, styles.get(style, styles[""])) for text, style in self._lines[index] if text]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, styles[""])
