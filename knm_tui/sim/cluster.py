"""One simulated cluster: its store, clock, credentials, faults, and the behaviour behind writes.

The HTTP layer (``server.py``) translates requests into calls here; churn (``churn.py``) uses the
same calls, so a kubelet-style change and a kubectl-style change go through one path.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from datetime import timedelta
from typing import Callable

from knm_tui.sim.clock import SimClock, format_time
from knm_tui.sim.faults import Faults, WatchLimits
from knm_tui.sim.store import Store, StoreError, not_found

log = logging.getLogger(__name__)


class Scheduler:
    """Runs callbacks after a delay in simulated seconds, on one daemon thread."""

    def __init__(self, clock: SimClock, name: str) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"sim-scheduler-{name}", daemon=True)
        self._thread.start()

    def call_later(self, simulated_seconds: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` once ``simulated_seconds`` have passed on the clock."""
        due = time.monotonic() + self._clock.real_seconds(max(0.0, simulated_seconds))
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._counter), callback))
            self._cond.notify()

    def stop(self) -> None:
        """Stop running callbacks; pending ones are dropped."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic())
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except StoreError:
                pass
            except Exception:  # a failing callback must not kill the scheduler
                log.exception("simulator scheduled callback failed")


class SimCluster:
    """A cluster's state and the server-side rules for pods, evictions and PDBs."""

    def __init__(self, name: str, *, clock: SimClock | None = None, token: str | None = None,
                 history_limit: int = 10_000, faults: Faults | None = None,
                 watch_limits: WatchLimits | None = None) -> None:
        self.name = name
        self.clock = clock or SimClock()
        self.store = Store(history_limit=history_limit, now=self.clock.now)
        self.token = token
        self.faults = faults or Faults()
        self.watch_limits = watch_limits or WatchLimits()
        self.scheduler = Scheduler(self.clock, name)
        self.user = "knm-sim-admin"

    def close(self) -> None:
        """Stop background work owned by the cluster."""
        self.scheduler.stop()
        self.store.wake_watchers()

    # ------------------------------------------------------------------ auth
    def rotate_token(self, new_token: str) -> None:
        """Expire the current bearer token: requests with the old one now get 401."""
        self.token = new_token

    # ------------------------------------------------------------------ pods
    def delete_pod(self, namespace: str, name: str, grace_seconds: int | None = None,
                   preconditions_uid: str | None = None) -> dict:
        """Delete a pod the way kube-apiserver does.

        A bound pod with a grace period > 0 is marked (``deletionTimestamp``, MODIFIED) and removed
        once the period has passed (DELETED); unbound or finished pods, or grace 0, go at once.
        """
        stored = self.store.require("pods", namespace, name)
        pod = stored.obj
        uid = pod.get("metadata", {}).get("uid")
        if preconditions_uid and preconditions_uid != uid:
            raise StoreError(409, "Conflict",
                             f'Operation cannot be fulfilled on pods "{name}": Precondition failed: '
                             f"UID in precondition: {preconditions_uid}, UID in object meta: {uid}")
        spec = pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        if grace_seconds is None:
            grace_seconds = int(spec.get("terminationGracePeriodSeconds", 30) or 0)
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            grace_seconds = 0
        if grace_seconds <= 0:
            return self.store.delete("pods", namespace, name)
        meta = pod.get("metadata", {})
        if meta.get("deletionTimestamp"):
            return pod
        deadline = self.clock.now() + timedelta(seconds=grace_seconds)

        def mark_terminating(obj: dict) -> None:
            obj["metadata"]["deletionTimestamp"] = format_time(deadline)
            obj["metadata"]["deletionGracePeriodSeconds"] = grace_seconds

        marked = self.store.mutate("pods", namespace, name, mark_terminating)
        marked_uid = marked["metadata"].get("uid")
        self.scheduler.call_later(grace_seconds, lambda: self._finish_pod_deletion(namespace, name, marked_uid))
        return marked

    def _finish_pod_deletion(self, namespace: str, name: str, uid: str | None) -> None:
        """Remove a terminating pod whose grace period is over (if it is still the same pod)."""
        stored = self.store.get("pods", namespace, name)
        if stored is not None and stored.obj.get("metadata", {}).get("uid") == uid:
            self.store.delete("pods", namespace, name)

    # ------------------------------------------------------------------ PDBs
    def pdbs_for_pod(self, pod: dict) -> list[dict]:
        """The PodDisruptionBudgets whose selector matches ``pod`` (same namespace)."""
        from knm_tui.sim.selectors import selector_from_label_selector_object

        meta = pod.get("metadata", {})
        namespace = meta.get("namespace", "")
        labels = meta.get("labels") or {}
        matches = []
        for stored in self.store.items("poddisruptionbudgets"):
            pdb = stored.obj
            if pdb["metadata"].get("namespace") != namespace:
                continue
            if selector_from_label_selector_object((pdb.get("spec") or {}).get("selector")).matches(labels):
                matches.append(pdb)
        return matches

    def refresh_pdb_status(self, namespace: str, name: str) -> dict:
        """Recompute a PDB's status from the pods it selects; writes only when it changed."""
        from knm_tui.sim.world import compute_pdb_status

        stored = self.store.require("poddisruptionbudgets", namespace, name)
        pods = [p.obj for p in self.store.items("pods") if p.obj["metadata"].get("namespace") == namespace]
        status = compute_pdb_status(stored.obj, pods, now=self.clock.now())
        if status == (stored.obj.get("status") or {}):
            return stored.obj

        def set_status(obj: dict) -> None:
            obj["status"] = status

        return self.store.mutate("poddisruptionbudgets", namespace, name, set_status)

    def refresh_all_pdb_status(self) -> None:
        """Recompute every PDB's status (done before PDBs are read)."""
        for stored in self.store.items("poddisruptionbudgets"):
            meta = stored.obj["metadata"]
            try:
                self.refresh_pdb_status(meta.get("namespace", ""), meta["name"])
            except StoreError:
                continue

    def evict_pod(self, namespace: str, name: str, delete_options: dict | None = None) -> None:
        """The Eviction subresource: delete a pod unless a PodDisruptionBudget forbids it.

        Raises StoreError 404 (no pod), 429 (a PDB allows no disruption now) or 500 (more than one
        PDB selects the pod), with upstream's messages.
        """
        stored = self.store.get("pods", namespace, name)
        if stored is None:
            raise not_found("pods", name)
        pod = stored.obj
        options = delete_options or {}
        grace = options.get("gracePeriodSeconds")
        uid = ((options.get("preconditions") or {}).get("uid"))
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase in ("Succeeded", "Failed"):
            self.delete_pod(namespace, name, grace, uid)
            return
        pdbs = self.pdbs_for_pod(pod)
        if len(pdbs) > 1:
            raise StoreError(500, "InternalError",
                             "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        if pdbs:
            pdb = self.refresh_pdb_status(namespace, pdbs[0]["metadata"]["name"])
            status = pdb.get("status") or {}
            if int(status.get("disruptionsAllowed", 0) or 0) <= 0:
                raise StoreError(
                    429, "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    {"causes": [{
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {pdb['metadata']['name']} needs "
                                   f"{status.get('desiredHealthy', 0)} healthy pods and has "
                                   f"{status.get('currentHealthy', 0)} currently",
                    }]},
                )

            def record_disruption(obj: dict) -> None:
                obj_status = obj.setdefault("status", {})
                obj_status["disruptionsAllowed"] = max(0, int(obj_status.get("disruptionsAllowed", 0)) - 1)

            self.store.mutate("poddisruptionbudgets", namespace, pdb["metadata"]["name"], record_disruption)
        self.delete_pod(namespace, name, grace, uid)
