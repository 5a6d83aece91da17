"""Faults on demand: what a misbehaving kube-apiserver does, switched on by tests and flags.

Every knob is thread-safe and can be changed while the server runs. The server consults a
cluster's ``Faults`` on every request; the defaults inject nothing.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass
class RequestRecord:
    """One request as the server saw it (for tests that check what a client sent)."""

    method: str
    path: str
    query: str
    verb: str  # Kubernetes verb: get, list, watch, create, update, patch, delete, ...
    resource: str
    code: int = 0


@dataclass
class FaultCounts:
    """How many faults of each kind were injected."""

    watch_closed: int = 0
    watch_gone: int = 0
    server_errors: int = 0
    stalled: int = 0
    forbidden: int = 0
    unauthorized: int = 0
    restarts: int = 0


class Faults:
    """Per-cluster fault switches and the request log."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.close_watch_after_events: int | None = None
        self._watch_gone_pending = 0
        self.error_rate = 0.0
        self.error_codes: tuple[int, ...] = (500, 503)
        self.error_verbs: frozenset[str] | None = None  # None: every verb
        self.latency_seconds = 0.0
        self._stall_pending = 0
        self.stall_seconds = 0.0
        self._forbidden: set[tuple[str, str]] = set()
        self.counts = FaultCounts()
        self.log_requests = True
        self._requests: list[RequestRecord] = []

    # ----------------------------------------------------------- switches
    def gone_on_next_watches(self, count: int = 1) -> None:
        """Answer the next ``count`` watches that resume from a resourceVersion with 410."""
        with self._lock:
            self._watch_gone_pending += count

    def stall_next_requests(self, count: int, seconds: float) -> None:
        """Hold the next ``count`` requests for ``seconds`` before answering (or streaming)."""
        with self._lock:
            self._stall_pending += count
            self.stall_seconds = seconds

    def forbid(self, verb: str, resource: str) -> None:
        """Answer ``verb`` on ``resource`` with 403 (and deny it in access reviews)."""
        with self._lock:
            self._forbidden.add((verb, resource))

    def allow(self, verb: str, resource: str) -> None:
        """Undo ``forbid``."""
        with self._lock:
            self._forbidden.discard((verb, resource))

    def clear(self) -> None:
        """Switch every fault off (the request log and counts are kept)."""
        with self._lock:
            self.close_watch_after_events = None
            self._watch_gone_pending = 0
            self.error_rate = 0.0
            self.error_verbs = None
            self.latency_seconds = 0.0
            self._stall_pending = 0
            self.stall_seconds = 0.0
            self._forbidden.clear()

    # ----------------------------------------------------------- server side
    def is_forbidden(self, verb: str, resource: str) -> bool:
        """Whether ``verb`` on ``resource`` is refused."""
        with self._lock:
            return (verb, resource) in self._forbidden

    def take_watch_gone(self) -> bool:
        """Whether this watch should get the 410 ERROR event (consumes one)."""
        with self._lock:
            if self._watch_gone_pending > 0:
                self._watch_gone_pending -= 1
                self.counts.watch_gone += 1
                return True
            return False

    def take_stall(self) -> float:
        """Seconds to stall this request (consumes one pending stall), else 0."""
        with self._lock:
            if self._stall_pending > 0:
                self._stall_pending -= 1
                self.counts.stalled += 1
                return self.stall_seconds
            return 0.0

    def pick_error(self, verb: str) -> int | None:
        """An HTTP error code to fail this request with, or None."""
        with self._lock:
            if self.error_rate <= 0 or (self.error_verbs is not None and verb not in self.error_verbs):
                return None
            if self._random.random() >= self.error_rate:
                return None
            self.counts.server_errors += 1
            return self._random.choice(self.error_codes)

    def record(self, record: RequestRecord) -> None:
        """Append a request to the log."""
        if self.log_requests:
            with self._lock:
                self._requests.append(record)

    def requests(self) -> list[RequestRecord]:
        """A copy of the request log."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._requests.clear()


@dataclass
class WatchLimits:
    """Server-side watch behaviour: bookmark cadence and the default timeout range."""

    bookmark_interval_seconds: float = 60.0
    default_timeout_range: tuple[float, float] = (1800.0, 3600.0)
