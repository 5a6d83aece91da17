"""The audit log: one JSON line per node operation, appended to a private file.

Each line records when (ISO 8601, UTC), where (kubeconfig context), who (the kubeconfig *user
entry name*, never a credential), which node(s), what (action and parameters) and how it ended
(outcome, per-node results, per-pod results for drains). The default file is
``$XDG_STATE_HOME/knm-tui/audit.jsonl``, else ``~/.local/state/knm-tui/audit.jsonl``.

The file is created with mode 0600 and its directory, when this module creates it, with 0700.
Appends are serialised with a lock and written with one ``write`` on an ``O_APPEND`` descriptor,
so concurrent operations never interleave their lines. A failure to write raises
:class:`AuditError` with one clean line; it never escapes as an unexpected exception.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

AUDIT_DIRECTORY_NAME = "knm-tui"
AUDIT_FILE_NAME = "audit.jsonl"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class AuditError(Exception):
    """The audit log cannot be written; ``message`` is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_audit_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/knm-tui/audit.jsonl``, else ``~/.local/state/knm-tui/audit.jsonl``.

    As the XDG base directory specification says, a relative ``XDG_STATE_HOME`` is ignored.
    ``env`` defaults to ``os.environ``.
    """
    environ = os.environ if env is None else env
    state_home = environ.get("XDG_STATE_HOME", "")
    if not state_home or not os.path.isabs(state_home):
        home = environ.get("HOME") or os.path.expanduser("~")
        state_home = os.path.join(home, ".local", "state")
    return Path(state_home) / AUDIT_DIRECTORY_NAME / AUDIT_FILE_NAME


def utc_timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as ISO 8601 UTC with milliseconds and a ``Z`` suffix."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """An append-only JSON Lines file of node operations; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(path) if path is not None else default_audit_path()
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """Where the lines go."""
        return self._path

    def check(self) -> None:
        """Make sure the file can be appended to (creating it and its directory); raises AuditError."""
        with self._lock:
            self._append(b"")

    def record(
        self,
        *,
        context: str,
        user: str,
        action: str,
        nodes: Sequence[str],
        parameters: Mapping[str, Any],
        outcome: str,
        results: Sequence[Mapping[str, Any]] | None = None,
        pods: Sequence[Mapping[str, Any]] | None = None,
        time: datetime | None = None,
    ) -> dict[str, Any]:
        """Append one operation and return the entry written; raises AuditError when it cannot.

        ``user`` is the kubeconfig user entry name. ``results`` holds per-node outcomes of a batch,
        ``pods`` the per-pod results of a drain; both are left out when ``None``.
        """
        entry: dict[str, Any] = {
            "time": utc_timestamp(time),
            "context": context,
            "user": user,
            "action": action,
            "nodes": list(nodes),
            "parameters": dict(parameters),
            "outcome": outcome,
        }
        if results is not None:
            entry["results"] = [dict(result) for result in results]
        if pods is not None:
            entry["pods"] = [dict(pod) for pod in pods]
        try:
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        except (TypeError, ValueError) as error:
            raise AuditError(f"cannot encode the audit entry for {action}: {error}") from None
        with self._lock:
            self._append(line.encode("utf-8"))
        return entry

    def _append(self, data: bytes) -> None:
        """Append ``data`` with one write (lock held); creates the directory and file as needed."""
        directory = self._path.parent
        if directory.exists() and not directory.is_dir():
            raise AuditError(f"cannot open the audit log {self._path}: {directory} is not a directory")
        try:
            if not directory.is_dir():
                os.makedirs(directory, mode=DIRECTORY_MODE, exist_ok=True)
                os.chmod(directory, DIRECTORY_MODE)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            descriptor = os.open(self._path, flags, FILE_MODE)
        except OSError as error:
            raise AuditError(f"cannot open the audit log {self._path}: {_reason(error)}") from None
        try:
            view = memoryview(data)
            while view:
                written = os.write(descriptor, view)
                view = view[written:]
        except OSError as error:
            raise AuditError(f"cannot write the audit log {self._path}: {_reason(error)}") from None
        finally:
            os.close(descriptor)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
