"""The simulator's clock: wall time that can run faster than real time or jump ahead.

Churn, grace periods and heartbeats are all expressed in simulated seconds, so tests can turn
five minutes of kubelet behaviour into a fraction of a second with ``speed`` or ``advance``.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class SimClock:
    """A clock whose time is ``start + speed × elapsed real time + manual advances``."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._speed = speed
        self._start = start or datetime.now(timezone.utc)
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        """How many simulated seconds pass per real second."""
        return self._speed

    def now(self) -> datetime:
        """The current simulated time, timezone-aware UTC."""
        with self._lock:
            elapsed = (time.monotonic() - self._origin) * self._speed + self._offset
        return self._start + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        """Jump the clock forward by ``seconds`` simulated seconds."""
        with self._lock:
            self._offset += seconds

    def real_seconds(self, simulated_seconds: float) -> float:
        """How long in real time ``simulated_seconds`` of simulated time takes."""
        return simulated_seconds / self._speed


def format_time(moment: datetime) -> str:
    """RFC 3339 with second precision and a ``Z`` suffix, as metav1.Time serialises."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: datetime) -> str:
    """RFC 3339 with microseconds, as metav1.MicroTime (Lease renewTime) serialises."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
