"""The status bar (one line at the bottom) and the banner that explains a cluster that is not live.

The status bar reads, for the current cluster (or all of them): sync state and since when,
ready/total nodes, events per second, age of the last event, reconnects, the pod count state
("counting pods… 1,500" or "pods as of 10:30:12"), "TLS verify off" when the kubeconfig turned
verification off, and "read-only".
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from typing import Sequence

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from knm_tui.kube.cache import SyncState
from knm_tui.ui.fleet_model import ClusterModel, FleetModel
from knm_tui.ui.format import compact_age, short_time
from knm_tui.ui.health import TLS_VERIFY_OFF, problem_line, state_word

SEPARATOR = " · "
READ_ONLY = "read-only"
MAX_BANNER_LINES = 4


def _pods_text(cluster: ClusterModel, now: datetime, tz: tzinfo | None) -> str:
    pods = cluster.pods
    if pods.loading:
        return f"counting pods… {pods.progress:,}"
    if pods.error:
        return f"pod count failed: {pods.error}"
    if pods.counts is not None:
        return f"pods as of {short_time(pods.counts.as_of, now, tz)} ({compact_age(now - pods.counts.as_of)} ago)"
    return ""


def status_line(
    model: FleetModel, context: str | None, now: datetime, tz: tzinfo | None, read_only: bool
) -> Text:
    """The status bar's text for the current view."""
    parts: list[tuple[str, str]] = []
    if context is None:
        ready, total = model.totals()
        live = sum(1 for cluster in model.clusters.values() if cluster.state == SyncState.LIVE)
        parts.append((f"All clusters: {live}/{len(model.clusters)} live", "bold"))
        parts.append((f"{ready}/{total} nodes ready", ""))
        clusters = list(model.clusters.values())
    else:
        cluster = model.cluster(context)
        status = cluster.status
        state = state_word(status)
        if status is not None and status.since is not None:
            state += f" since {short_time(status.since, now, tz)}"
        parts.append((f"{context}: {state}", "bold"))
        parts.append((f"{cluster.ready_count}/{cluster.node_count} nodes ready", ""))
        clusters = [cluster]
    parts.append((f"{model.event_rate(context, now):.1f} events/s", ""))
    last = model.last_event_at(context)
    parts.append((f"last event {compact_age(now - last)} ago" if last else "no events yet", ""))
    reconnects = sum(cluster.reconnects for cluster in clusters)
    parts.append((f"{reconnects} reconnect{'s' if reconnects != 1 else ''}", ""))
    for cluster in clusters:
        pods = _pods_text(cluster, now, tz)
        if pods:
            prefix = f"{cluster.context}: " if context is None else ""
            parts.append((prefix + pods, "italic"))
    if context is not None:
        status = model.cluster(context).status
        if status is not None and status.insecure_tls:
            parts.append((TLS_VERIFY_OFF, "bold"))
    if read_only:
        parts.append((READ_ONLY, "bold reverse"))
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, (part, style) in enumerate(parts):
        if index:
            text.append(SEPARATOR)
        text.append(part, style=style)
    return text


class StatusBar(Static):
    """One line at the bottom; :meth:`show` redraws it."""

    text = ""

    def show(self, model: FleetModel, context: str | None, now: datetime, tz: tzinfo | None, read_only: bool) -> None:
        """Redraw for the current view (only when the text changed; the bar is always one line)."""
        line = status_line(model, context, now, tz, read_only)
        if line.plain != self.text or line.spans != self._spans:
            self.text, self._spans = line.plain, line.spans
            self.update(line, layout=False)

    _spans: list = []


class ClusterBanner(Static):
    """Explains why the current cluster (or any, in the all view) is not live; hidden otherwise."""

    text = ""

    def show(self, model: FleetModel, context: str | None, now: datetime, tz: tzinfo | None) -> None:
        """Redraw; sets the ``-error`` / ``-warning`` class by the worst state shown."""
        clusters = list(model.clusters.values()) if context is None else [model.cluster(context)]
        lines = []
        worst = ""
        for cluster in clusters:
            line = problem_line(cluster, now, tz)
            if line is None:
                continue
            lines.append(line)
            if cluster.state in (SyncState.ERROR, SyncState.STALE):
                worst = "error"
            elif not worst:
                worst = "warning"
        if len(lines) > MAX_BANNER_LINES:
            hidden = len(lines) - MAX_BANNER_LINES + 1
            lines = lines[: MAX_BANNER_LINES - 1] + [f"… and {hidden} more clusters not live"]
        self.display = bool(lines)
        self.set_class(worst == "error", "-error")
        self.set_class(worst == "warning", "-warning")
        text = "\n".join(lines)
        if text != self.text:
            self.update(Text(text), layout=text.count("\n") != self.text.count("\n"))
            self.text = text


class KeyHints(Static):
    """One line of key hints (``q Quit  ? Help …``), built once from the app's bindings."""

    def show_hints(self, hints: Sequence[tuple[str, str]]) -> None:
        """Show (key, description) pairs, keys in the theme's accent colour."""
        content = Content("  ").join(
            Content.assemble((key, "bold $accent"), " ", description) for key, description in hints
        )
        self.update(content)


class EmptyNote(Static):
    """Laid over an empty node table: why there is nothing to show."""

    text = ""
