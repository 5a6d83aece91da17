"""Words and markers for a cluster's sync health, shared by the tabs, the banner and the status bar.

Each state has a glyph of its own shape (so it reads without colour) and a word; errors carry the
kind of failure in plain words ("unauthorised", "unreachable"...).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from knm_tui.kube.cache import ClusterStatus, SyncState
from knm_tui.ui.fleet_model import ClusterModel
from knm_tui.ui.format import compact_age, short_time

STATE_GLYPHS: dict[SyncState, str] = {
    SyncState.CONNECTING: "…",
    SyncState.PRIMING: "◌",
    SyncState.LIVE: "●",
    SyncState.RECONNECTING: "↻",
    SyncState.STALE: "⚠",
    SyncState.ERROR: "✖",
}

ERROR_KIND_WORDS: dict[str, str] = {
    "auth": "unauthorised",
    "forbidden": "forbidden",
    "unreachable": "unreachable",
    "timeout": "timed out",
    "tls": "TLS error",
    "config": "kubeconfig problem",
    "server": "server error",
}

TLS_VERIFY_OFF = "TLS verify off"


def state_word(status: ClusterStatus | None) -> str:
    """One word or two for the state: ``live``, ``priming``, ``error: unauthorised``..."""
    if status is None:
        return SyncState.CONNECTING.value
    word = SyncState(status.state).value
    if status.state == SyncState.ERROR and status.error_kind:
        return f"{word}: {ERROR_KIND_WORDS.get(status.error_kind, status.error_kind)}"
    return word


def state_css_class(cluster: ClusterModel) -> str:
    """The CSS class naming a cluster's state, e.g. ``-live``."""
    return f"-{SyncState(cluster.state).value}"


def tab_summary(cluster: ClusterModel) -> str:
    """A tab's health: glyph and ready/total, or the state word while there is nothing to count."""
    state = SyncState(cluster.state)
    glyph = STATE_GLYPHS[state]
    status = cluster.status
    has_nodes = status is not None and status.synced
    if state == SyncState.ERROR and not has_nodes:
        kind = status.error_kind if status is not None else None
        return f"{glyph} {ERROR_KIND_WORDS.get(kind or '', 'error')}"
    if state in (SyncState.CONNECTING, SyncState.PRIMING) and not has_nodes:
        return f"{glyph} {state.value}"
    counts = f"{cluster.ready_count}/{cluster.node_count}"
    if state == SyncState.STALE:
        return f"{glyph} stale {counts}"
    return f"{glyph} {counts}"


def problem_line(cluster: ClusterModel, now: datetime, tz: tzinfo | None = None) -> str | None:
    """A sentence about a cluster that is not live, or ``None`` when it is live."""
    status = cluster.status
    context = cluster.context
    if status is None:
        return f"{context}: connecting…"
    state = SyncState(status.state)
    detail = f" — {status.message}" if status.message else ""
    if state == SyncState.LIVE:
        return None
    if state == SyncState.CONNECTING:
        where = f" to {status.server}" if status.server else ""
        return f"{context}: connecting{where}…"
    if state == SyncState.PRIMING:
        return f"{context}: loading nodes…{detail}"
    since = _since(status.since, now, tz)
    if state == SyncState.RECONNECTING:
        return f"{context}: reconnecting{since}; showing the cached nodes{detail}"
    if state == SyncState.STALE:
        return f"{context}: stale{since}; the nodes shown may be out of date{detail}"
    kind = ERROR_KIND_WORDS.get(status.error_kind or "", "error")
    failing = f" · failing{since}" if since else ""
    return f"{context}: {kind}{detail}{failing}"


def _since(moment: datetime | None, now: datetime, tz: tzinfo | None) -> str:
    if moment is None:
        return ""
    return f" since {short_time(moment, now, tz)} ({compact_age(now - moment)})"
