"""One simulated cluster's object store, with kube-apiserver's versioning rules.

A single global resourceVersion counts every write (deletes included). Each stored object
version is immutable and keeps its serialized JSON, so a LIST or WATCH never re-encodes it. A
bounded history of events serves watches from any recent resourceVersion and rebuilds
consistent snapshots for paginated LISTs; anything older than the history is "expired" (410),
exactly as a compacted etcd would answer.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable

from knm_tui.sim.clock import format_time


@dataclass(frozen=True)
class ResourceType:
    """What the API says about one resource: its kind, group/version and scope."""

    name: str
    kind: str
    group: str
    version: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, else ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of a LIST response, e.g. ``NodeList``."""
        return f"{self.kind}List"

    @property
    def qualified_name(self) -> str:
        """``nodes`` for core resources, ``poddisruptionbudgets.policy`` for grouped ones."""
        return f"{self.name}.{self.group}" if self.group else self.name


_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

RESOURCE_TYPES: dict[str, ResourceType] = {
    rt.name: rt
    for rt in (
        ResourceType("nodes", "Node", "", "v1", False, _ALL_VERBS, ("no",)),
        ResourceType("pods", "Pod", "", "v1", True, _ALL_VERBS, ("po",)),
        ResourceType("namespaces", "Namespace", "", "v1", False, _ALL_VERBS, ("ns",)),
        ResourceType("events", "Event", "", "v1", True, _ALL_VERBS, ("ev",)),
        ResourceType("daemonsets", "DaemonSet", "apps", "v1", True, _ALL_VERBS, ("ds",)),
        ResourceType("poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", True, _ALL_VERBS, ("pdb",)),
        ResourceType("leases", "Lease", "coordination.k8s.io", "v1", True, _ALL_VERBS),
    )
}


class StoreError(Exception):
    """A failure the API reports as a ``Status`` object with an HTTP code and reason."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


def not_found(resource: str, name: str) -> StoreError:
    """The 404 upstream returns for a missing object, e.g. ``nodes "x" not found``."""
    rt = RESOURCE_TYPES[resource]
    return StoreError(404, "NotFound", f'{rt.qualified_name} "{name}" not found',
                      {"name": name, "group": rt.group, "kind": rt.name})


def conflict(resource: str, name: str) -> StoreError:
    """The 409 upstream returns when a write carries a stale resourceVersion."""
    rt = RESOURCE_TYPES[resource]
    return StoreError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified_name} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": rt.group, "kind": rt.name},
    )


def expired(message: str) -> StoreError:
    """The 410 for a resourceVersion or continue token older than the kept history."""
    return StoreError(410, "Expired", message)


class StoredObject:
    """One immutable version of an object and its compact JSON encoding (made once, on demand)."""

    __slots__ = ("obj", "rv", "_raw")

    def __init__(self, obj: dict, rv: int) -> None:
        self.obj = obj
        self.rv = rv
        self._raw: bytes | None = None

    @property
    def raw(self) -> bytes:
        """The object as compact JSON bytes."""
        raw = self._raw
        if raw is None:
            raw = self._raw = json.dumps(self.obj, separators=(",", ":")).encode()
        return raw

    def copy(self) -> dict:
        """A deep, mutable copy of the object."""
        return json.loads(self.raw)


class WatchEvent:
    """One change in the history: its type, the object after it, and the version before it."""

    __slots__ = ("rv", "type", "resource", "key", "current", "previous")

    def __init__(self, rv: int, type_: str, resource: str, key: str,
                 current: StoredObject, previous: StoredObject | None) -> None:
        self.rv = rv
        self.type = type_
        self.resource = resource
        self.key = key
        self.current = current
        self.previous = previous

    def line(self) -> bytes:
        """The event as one watch-stream JSON line."""
        return b'{"type":"' + self.type.encode() + b'","object":' + self.current.raw + b"}\n"


def object_key(namespace: str, name: str) -> str:
    """The storage key: ``namespace/name`` for namespaced objects, ``name`` otherwise."""
    return f"{namespace}/{name}" if namespace else name


class Snapshot:
    """The objects of one resource at one resourceVersion, in key order."""

    __slots__ = ("rv", "keys", "objects")

    def __init__(self, rv: int, keys: list[str], objects: list[StoredObject]) -> None:
        self.rv = rv
        self.keys = keys
        self.objects = objects

    def start_index(self, after_key: str) -> int:
        """The index of the first object whose key is greater than or equal to ``after_key``."""
        return bisect.bisect_left(self.keys, after_key)


class Store:
    """The objects of one cluster, one global resourceVersion, and a bounded event history."""

    def __init__(self, history_limit: int = 10_000, snapshot_cache: int = 32,
                 now: Callable[[], datetime] | None = None) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._rv = 1
        self._objects: dict[str, dict[str, StoredObject]] = {name: {} for name in RESOURCE_TYPES}
        self._sorted_keys: dict[str, list[str]] = {name: [] for name in RESOURCE_TYPES}
        self._events: list[WatchEvent] = []
        self._event_rvs: list[int] = []
        self._history_limit = max(1, history_limit)
        self._floor = self._rv
        self._snapshots: dict[tuple[str, int], Snapshot] = {}
        self._snapshot_cache = snapshot_cache
        self._listeners: list[Callable[[WatchEvent], None]] = []

    # ----------------------------------------------------------------- reading
    @property
    def resource_version(self) -> int:
        """The current global resourceVersion."""
        with self._cond:
            return self._rv

    @property
    def history_floor(self) -> int:
        """Watches and snapshots are served only for resourceVersions at or above this one."""
        with self._cond:
            return self._floor

    def get(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        """The current version of an object, or None. Callers must not mutate ``.obj``."""
        with self._cond:
            return self._objects[resource].get(object_key(namespace, name))

    def require(self, resource: str, namespace: str, name: str) -> StoredObject:
        """The current version of an object; a 404 StoreError when it does not exist."""
        stored = self.get(resource, namespace, name)
        if stored is None:
            raise not_found(resource, name)
        return stored

    def count(self, resource: str) -> int:
        """How many objects of ``resource`` exist now."""
        with self._cond:
            return len(self._objects[resource])

    def items(self, resource: str) -> list[StoredObject]:
        """The current objects of ``resource`` in key order (a consistent copy of the list)."""
        return self.snapshot(resource).objects

    def snapshot(self, resource: str, rv: int | None = None) -> Snapshot:
        """The objects of ``resource`` as they were at ``rv`` (default: now), in key order.

        Raises a 410 StoreError when ``rv`` is older than the kept history.
        """
        with self._cond:
            target = self._rv if rv is None else rv
            cached = self._snapshots.get((resource, target))
            if cached is not None:
                return cached
            if target > self._rv:
                raise StoreError(504, "Timeout", f"Too large resource version: {target}, current: {self._rv}")
            if target < self._floor:
                raise expired(f"too old resource version: {target} ({self._rv})")
            if target == self._rv:
                keys = list(self._sorted_keys[resource])
                objects_by_key = self._objects[resource]
                objects = [objects_by_key[k] for k in keys]
            else:
                keys, objects = self._reconstruct(resource, target)
            snap = Snapshot(target, keys, objects)
            if len(self._snapshots) >= self._snapshot_cache:
                self._snapshots.pop(next(iter(self._snapshots)))
            self._snapshots[(resource, target)] = snap
            return snap

    def _reconstruct(self, resource: str, target: int) -> tuple[list[str], list[StoredObject]]:
        """Undo the history back to ``target`` for one resource."""
        state = dict(self._objects[resource])
        start = bisect.bisect_right(self._event_rvs, target)
        for event in reversed(self._events[start:]):
            if event.resource != resource:
                continue
            if event.previous is None:
                state.pop(event.key, None)
            else:
                state[event.key] = event.previous
        keys = sorted(state)
        return keys, [state[k] for k in keys]

    def events_after(self, rv: int, resources: Iterable[str], timeout: float,
                     stop: threading.Event | None = None) -> tuple[list[WatchEvent], int]:
        """Events for ``resources`` with resourceVersion greater than ``rv``, waiting up to ``timeout``.

        Returns the events and the resourceVersion the caller has now seen up to (which moves on
        even when only other resources changed, so bookmarks can carry it). Raises a 410
        StoreError when ``rv`` is older than the kept history.
        """
        wanted = set(resources)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if rv < self._floor:
                    raise expired(f"too old resource version: {rv} ({self._rv})")
                if self._rv > rv:
                    start = bisect.bisect_right(self._event_rvs, rv)
                    found = [e for e in self._events[start:] if e.resource in wanted]
                    seen = self._rv
                    if found:
                        return found, seen
                    rv = seen
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (stop is not None and stop.is_set()):
                    return [], rv
                self._cond.wait(min(remaining, 0.5))

    def wake_watchers(self) -> None:
        """Wake every waiting watcher so it can notice a stop request."""
        with self._cond:
            self._cond.notify_all()

    def add_listener(self, listener: Callable[[WatchEvent], None]) -> None:
        """Call ``listener`` (under the store lock) after every write."""
        with self._cond:
            self._listeners.append(listener)

    # ----------------------------------------------------------------- writing
    def create(self, resource: str, obj: dict) -> dict:
        """Store a new object; assigns uid, creationTimestamp (when absent) and resourceVersion."""
        rt = RESOURCE_TYPES[resource]
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise StoreError(422, "Invalid", f"{rt.kind} \"\" is invalid: metadata.name: Required value: name is required")
        namespace = meta.get("namespace", "") if rt.namespaced else ""
        if rt.namespaced and not namespace:
            raise StoreError(422, "Invalid", f'{rt.kind} "{name}" is invalid: metadata.namespace: Required value')
        if not rt.namespaced:
            meta.pop("namespace", None)
        key = object_key(namespace, name)
        with self._cond:
            if key in self._objects[resource]:
                raise StoreError(409, "AlreadyExists", f'{rt.qualified_name} "{name}" already exists',
                                 {"name": name, "group": rt.group, "kind": rt.name})
            obj["kind"] = rt.kind
            obj["apiVersion"] = rt.api_version
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", format_time(self._now()))
            return self._write(resource, key, obj, "ADDED", None).obj

    def replace(self, resource: str, obj: dict, expect_rv: str | None = None) -> dict:
        """PUT: replace an object whole; a stale ``expect_rv`` gives 409 Conflict."""
        rt = RESOURCE_TYPES[resource]
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "")
        namespace = meta.get("namespace", "") if rt.namespaced else ""
        key = object_key(namespace, name)
        with self._cond:
            old = self._objects[resource].get(key)
            if old is None:
                raise not_found(resource, name)
            if expect_rv not in (None, "") and str(expect_rv) != str(old.rv):
                raise conflict(resource, name)
            return self._update(resource, key, old, obj)

    def mutate(self, resource: str, namespace: str, name: str,
               change: Callable[[dict], dict | None], expect_rv: str | None = None) -> dict:
        """Apply ``change`` to a fresh copy of an object and store the result atomically.

        ``change`` may edit its argument in place (returning None) or return a new dict. When
        nothing changed, nothing is written and no resourceVersion is spent, as upstream does.
        """
        key = object_key(namespace if RESOURCE_TYPES[resource].namespaced else "", name)
        with self._cond:
            old = self._objects[resource].get(key)
            if old is None:
                raise not_found(resource, name)
            if expect_rv not in (None, "") and str(expect_rv) != str(old.rv):
                raise conflict(resource, name)
            working = old.copy()
            result = change(working)
            return self._update(resource, key, old, working if result is None else result)

    def delete(self, resource: str, namespace: str, name: str) -> dict:
        """Remove an object now; the DELETED event carries a new resourceVersion."""
        key = object_key(namespace if RESOURCE_TYPES[resource].namespaced else "", name)
        with self._cond:
            old = self._objects[resource].get(key)
            if old is None:
                raise not_found(resource, name)
            final = old.copy()
            return self._write(resource, key, final, "DELETED", old).obj

    def compact(self) -> None:
        """Forget the whole history, as an etcd compaction does: older RVs now get 410."""
        with self._cond:
            self._events.clear()
            self._event_rvs.clear()
            self._snapshots.clear()
            self._floor = self._rv

    def drop_snapshots(self) -> None:
        """Forget cached LIST snapshots (continue tokens for old RVs then need the history)."""
        with self._cond:
            self._snapshots.clear()

    def _update(self, resource: str, key: str, old: StoredObject, new_obj: dict) -> dict:
        """Write ``new_obj`` over ``old`` keeping identity fields; skip no-op writes."""
        rt = RESOURCE_TYPES[resource]
        meta = new_obj.setdefault("metadata", {})
        old_meta = old.obj.get("metadata", {})
        for field in ("uid", "creationTimestamp", "name"):
            if field in old_meta:
                meta[field] = old_meta[field]
        if rt.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        new_obj["kind"] = rt.kind
        new_obj["apiVersion"] = rt.api_version
        if new_obj == old.obj:
            return old.obj
        return self._write(resource, key, new_obj, "MODIFIED", old).obj

    def _write(self, resource: str, key: str, obj: dict, event_type: str,
               previous: StoredObject | None) -> StoredObject:
        """Assign the next resourceVersion, record the event and wake watchers (lock held)."""
        self._rv += 1
        rv = self._rv
        obj["metadata"]["resourceVersion"] = str(rv)
        stored = StoredObject(obj, rv)
        objects = self._objects[resource]
        keys = self._sorted_keys[resource]
        if event_type == "DELETED":
            del objects[key]
            index = bisect.bisect_left(keys, key)
            del keys[index]
        else:
            if key not in objects:
                bisect.insort(keys, key)
            objects[key] = stored
        event = WatchEvent(rv, event_type, resource, key, stored, previous)
        self._events.append(event)
        self._event_rvs.append(rv)
        if len(self._events) > self._history_limit * 5 // 4:
            drop = len(self._events) - self._history_limit
            self._floor = self._events[drop - 1].rv
            del self._events[:drop]
            del self._event_rvs[:drop]
            for snap_key in [k for k in self._snapshots if k[1] < self._floor]:
                del self._snapshots[snap_key]
        for listener in self._listeners:
            listener(event)
        self._cond.notify_all()
        return stored

    def load(self, resource: str, objects: Iterable[dict], *, encode: bool = True) -> int:
        """Create many objects at start-up without recording history; returns how many.

        With ``encode`` every object is encoded to JSON now, so the first LIST does not pay for
        it; without, each is encoded when first read (a faster start for objects rarely listed).
        """
        rt = RESOURCE_TYPES[resource]
        count = 0
        with self._cond:
            table = self._objects[resource]
            now_text = format_time(self._now())
            for obj in objects:
                meta = obj.setdefault("metadata", {})
                namespace = meta.get("namespace", "") if rt.namespaced else ""
                if not rt.namespaced:
                    meta.pop("namespace", None)
                key = object_key(namespace, meta["name"])
                if key in table:
                    raise StoreError(409, "AlreadyExists", f'{rt.qualified_name} "{meta["name"]}" already exists')
                self._rv += 1
                obj["kind"] = rt.kind
                obj["apiVersion"] = rt.api_version
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now_text)
                meta["resourceVersion"] = str(self._rv)
                stored = StoredObject(obj, self._rv)
                if encode:
                    _ = stored.raw
                table[key] = stored
                count += 1
            self._sorted_keys[resource] = sorted(table)
            self._floor = self._rv
            self._snapshots.clear()
        return count
