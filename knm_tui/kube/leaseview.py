"""Lease JSON → LeaseView: the kubelet's heartbeat in ``kube-node-lease/<node>``.

The kubelet renews its Lease about every 10 s, far more often than it writes node status, so the
Lease's ``renewTime`` is the freshest sign of life of a node. Like the Node projection this reads
a dict from ``json.loads`` and never raises on missing or odd fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from knm_tui.kube.nodeview import parse_time

NODE_LEASE_NAMESPACE = "kube-node-lease"


class LeaseProjectionError(ValueError):
    """The object cannot become a LeaseView because it has no usable ``metadata.name``."""


@dataclass(frozen=True, slots=True)
class LeaseView:
    """A node Lease: named after its node; times timezone-aware or ``None`` when not reported."""

    node_name: str
    holder: str  # spec.holderIdentity, "" when absent
    renew_time: datetime | None
    duration_seconds: int | None

    @property
    def expires_at(self) -> datetime | None:
        """When the lease runs out unless renewed, or ``None`` when renew time or duration is missing."""
        if self.renew_time is None or self.duration_seconds is None:
            return None
        return self.renew_time + timedelta(seconds=self.duration_seconds)

    def is_expired(self, now: datetime) -> bool | None:
        """Whether the lease has run out at ``now`` (aware); ``None`` when that cannot be told."""
        expires_at = self.expires_at
        return None if expires_at is None else now >= expires_at


def project_lease(obj: dict) -> LeaseView:
    """Project a Lease object (a dict from ``json.loads``) into a :class:`LeaseView`.

    The only error is :class:`LeaseProjectionError` when the object is not a mapping or has no
    usable ``metadata.name`` (a non-empty string; a JSON integer is read as its text).
    A duration that is not a non-negative integer is ``None``.
    """
    if not isinstance(obj, dict):
        raise LeaseProjectionError(f"lease object is a {type(obj).__name__}, not a JSON object")
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if isinstance(name, bool) or not isinstance(name, (str, int)) or name == "":
        raise LeaseProjectionError(f"lease object has no usable metadata.name (got {name!r:.60})")
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    holder = spec.get("holderIdentity")
    duration = spec.get("leaseDurationSeconds")
    valid_duration = isinstance(duration, int) and not isinstance(duration, bool) and duration >= 0
    return LeaseView(
        node_name=str(name),
        holder=holder if isinstance(holder, str) else "",
        renew_time=parse_time(spec.get("renewTime")),
        duration_seconds=duration if valid_duration else None,
    )
