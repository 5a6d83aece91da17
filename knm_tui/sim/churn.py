"""A living cluster: kubelets, the node controller, an autoscaler and workloads acting on a SimCluster.

``Churner(cluster, events_per_second).start()`` runs one background thread that, in simulated time
(``cluster.clock``, so a fast clock compresses minutes into seconds):

- renews each node's Lease in ``kube-node-lease`` about every 10 s (``renewTime`` in microseconds);
- writes each node's status about every 5 minutes (``lastHeartbeatTime`` moves) or when a
  condition changes; ``lastTransitionTime`` changes only when a condition's status changes;
- stops the heartbeats of some nodes (``unreachable_share``): after the 50 s grace period the node
  controller sets the kubelet's conditions Unknown (NodeStatusUnknown) and adds the
  ``node.kubernetes.io/unreachable`` NoSchedule and NoExecute taints, and marks the node's pods
  not Ready; minutes later the node comes back and all of that is undone;
- lets some nodes flap between Ready and NotReady (``flapping_share``), with not-ready taints;
- flips pressure conditions (MemoryPressure, DiskPressure, PIDPressure) True for a few minutes;
- replaces nodes (a new node, its Lease and DaemonSet pods join; an old one is cordoned, drained
  and deleted with its Lease);
- creates pods (Pending, then Running) and deletes pods (gracefully, via ``cluster.delete_pod``),
  keeping the number of ReplicaSet pods near where it started.

``stop_heartbeats(node)`` and ``resume_heartbeats(node)`` silence one kubelet on demand, for tests
and demos.

Every change is a store write (create, mutate or delete), so every change is a real watch event.
The total write rate follows ``events_per_second`` (real seconds): state transitions always
happen; node status and lease renewals share the rest of the budget oldest-first (in a cluster
too big for the budget, leases are renewed less often than every 10 s); pod churn takes whatever
is left, and at least ``pod_share`` of it.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from knm_tui.sim.clock import format_micro_time, format_time
from knm_tui.sim.cluster import SimCluster
from knm_tui.sim.store import StoreError
from knm_tui.sim.world import (
    GPU_RESOURCE,
    KUBELET_CONDITION_TEXT,
    KUBELET_CONDITION_TYPES,
    NODE_MONITOR_GRACE_SECONDS,
    NOT_READY_TAINT,
    PRESSURE_TAINTS,
    UNREACHABLE_TAINT,
    UNSCHEDULABLE_TAINT,
    base36,
    event_suffix,
    make_node_event,
    make_taint,
    parse_time,
    random_suffix,
    random_uid,
    sample_app_pod,
    unknown_condition,
)

log = logging.getLogger(__name__)

LEASE_RENEW_SECONDS = 10.0
"""How often a kubelet renews its node Lease."""
STATUS_REPORT_SECONDS = 300.0
"""How often a kubelet writes node status when nothing changed."""
_PLEG_MESSAGE = "PLEG is not healthy: pleg was last seen active 3m4.512s ago; threshold is 3m0s"
_PRESSURE_EVENTS = {
    "MemoryPressure": ("NodeHasInsufficientMemory", "NodeHasSufficientMemory", "memory"),
    "DiskPressure": ("NodeHasDiskPressure", "NodeHasNoDiskPressure", "ephemeral-storage"),
    "PIDPressure": ("NodeHasInsufficientPID", "NodeHasSufficientPID", "pids"),
}
_NODE_TAINT_PREFIX = "node.kubernetes.io/"
_SPOT_TAINT_KEYS = frozenset({"eks.amazonaws.com/capacityType", "cloud.google.com/gke-spot",
                              "kubernetes.azure.com/scalesetpriority"})


@dataclass
class _NodeState:
    """What the churner knows about one node."""

    name: str
    uid: str
    control_plane: bool
    gpu: bool
    last_renew: float
    last_status: float
    mode: str = "up"
    """"up" (heartbeating), "silent" (stopped, not yet Unknown) or "unknown" (marked by the node controller)."""
    recover_at: float | None = None
    flapping: bool = False
    flap_chain: int = 0
    """Bumped whenever flapping starts, so a stale scheduled toggle from an earlier bout does nothing."""
    not_ready: bool = False
    pressure: str | None = None
    leaving: bool = False
    lease_generation: int = 0
    status_generation: int = 0

    @property
    def up(self) -> bool:
        """Whether the kubelet is heartbeating."""
        return self.mode == "up"


class Churner:
    """Keeps a simulated cluster alive at about ``events_per_second`` writes per real second."""

    def __init__(self, cluster: SimCluster, events_per_second: float, seed: int = 0, *,
                 unreachable_share: float = 0.02, flapping_share: float = 0.0,
                 pressure_per_node_hour: float = 0.5, turnover_per_node_hour: float = 0.02,
                 pod_share: float = 0.1, tick_seconds: float = 0.05) -> None:
        if events_per_second < 0:
            raise ValueError("events_per_second must not be negative")
        self.cluster = cluster
        self.store = cluster.store
        self.clock = cluster.clock
        self.events_per_second = float(events_per_second)
        self.unreachable_share = unreachable_share
        self.flapping_share = flapping_share
        self.pressure_per_node_hour = pressure_per_node_hour
        self.turnover_per_node_hour = turnover_per_node_hour
        self.pod_share = pod_share
        self.tick_seconds = tick_seconds
        self.rng = random.Random(f"knm-churn/{seed}/{cluster.name}")
        self.events = 0
        """How many writes the churner has made (a graceful pod deletion counts as two)."""
        self.counts: Counter[str] = Counter()
        """Writes by activity: lease, node-status, node-unknown, node-recovered, pod-created, ..."""
        self.errors = 0
        """How many ticks failed with an unexpected exception (logged, then churn goes on)."""
        self._nodes: dict[str, _NodeState] = {}
        self._node_names: list[str] = []
        self._lease_heap: list[tuple[float, int, str]] = []
        self._status_heap: list[tuple[float, int, str]] = []
        self._timeline: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._pod_keys: list[tuple[str, str]] = []
        self._pod_target = 0
        self._daemonset_samples: dict[str, tuple[str, str]] = {}
        self._commands: queue.SimpleQueue[tuple[str, str, float | None]] = queue.SimpleQueue()
        self._budget = 0.0
        self._status_credit = 0.0
        self._credits: dict[str, float] = {}
        self._next_outage_at = 0.0
        self._next_share_check = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_resync = 0.0
        self._last_sim = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Churner":
        """Read the cluster's nodes and pods and start the background thread."""
        if self._thread is not None:
            raise RuntimeError("churner already started")
        now = self.clock.now().timestamp()
        self._load_state(now)
        self._last_resync = time.monotonic()
        self._last_sim = now
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim-churn-{self.cluster.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop writing; returns once the thread has finished (within about a second)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=2.0)
        self._thread = None

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop_heartbeats(self, node_name: str, for_seconds: float | None = None) -> None:
        """Make ``node_name``'s kubelet go silent now (for ``for_seconds`` simulated seconds, or until resumed)."""
        self._commands.put(("silence", node_name, for_seconds))

    def resume_heartbeats(self, node_name: str) -> None:
        """Bring a silenced node's kubelet back now."""
        self._commands.put(("resume", node_name, None))

    # ------------------------------------------------------------------ state
    def _load_state(self, now: float) -> None:
        leases = {stored.obj["metadata"]["name"]: stored.obj for stored in self.store.items("leases")
                  if stored.obj["metadata"].get("namespace") == "kube-node-lease"}
        for stored in self.store.items("nodes"):
            self._track_node(stored.obj, leases.get(stored.obj["metadata"]["name"]), now)
        for stored in self.store.items("pods"):
            self._index_pod(stored.obj)
        self._pod_target = len(self._pod_keys) or len(self._nodes)

    def _track_node(self, node: dict, lease: dict | None, now: float) -> _NodeState:
        meta = node["metadata"]
        labels = meta.get("labels") or {}
        conditions = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or [] if isinstance(c, dict)}
        ready = conditions.get("Ready") or {}
        heartbeat = parse_time(ready.get("lastHeartbeatTime")) or now
        renew = parse_time(((lease or {}).get("spec") or {}).get("renewTime")) or heartbeat
        capacity = (node.get("status") or {}).get("capacity") or {}
        state = _NodeState(
            name=meta["name"], uid=meta.get("uid", ""),
            control_plane=("node-role.kubernetes.io/control-plane" in labels or "node-role.kubernetes.io/master" in labels),
            gpu=str(capacity.get(GPU_RESOURCE, "0")) not in ("0", ""), last_renew=min(renew, now),
            last_status=min(heartbeat, now))
        state.not_ready = ready.get("status") == "False"
        for condition_type in PRESSURE_TAINTS:
            if (conditions.get(condition_type) or {}).get("status") == "True":
                state.pressure = condition_type
        if ready.get("status") == "Unknown":
            state.mode = "unknown"
            self._schedule_recovery(state, now + self.rng.uniform(120, 900))
        self._nodes[state.name] = state
        self._node_names.append(state.name)
        if state.up:
            self._push_lease(state, max(state.last_renew + LEASE_RENEW_SECONDS, now + self.rng.uniform(0, 1)))
            self._push_status(state, max(state.last_status + STATUS_REPORT_SECONDS, now + self.rng.uniform(0, 5)))
        if state.pressure:
            self._schedule(now + self.rng.uniform(60, 300), lambda s=state: self._end_pressure(s))
        return state

    def _forget_node(self, name: str) -> None:
        if self._nodes.pop(name, None) is not None:
            self._node_names.remove(name)

    def _index_pod(self, pod: dict) -> None:
        meta = pod.get("metadata") or {}
        owners = meta.get("ownerReferences") or []
        owner_kind = owners[0].get("kind") if owners else None
        if owner_kind == "DaemonSet":
            self._daemonset_samples.setdefault(owners[0].get("uid", ""), (meta.get("namespace", ""), meta["name"]))
        elif owner_kind == "ReplicaSet" and (pod.get("status") or {}).get("phase") == "Running" \
                and not _requests_gpu(pod):
            self._pod_keys.append((meta.get("namespace", ""), meta["name"]))

    def _resync_nodes(self, now: float) -> None:
        """Follow nodes created or deleted by others (kubectl, tests)."""
        present = {stored.obj["metadata"]["name"]: stored.obj for stored in self.store.items("nodes")}
        for name in [name for name in self._nodes if name not in present]:
            self._forget_node(name)
        for name, node in present.items():
            if name not in self._nodes:
                lease = self.store.get("leases", "kube-node-lease", name)
                self._track_node(node, lease.obj if lease else None, now)

    # ------------------------------------------------------------------ scheduling helpers
    def _schedule(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timeline, (at, next(self._sequence), action))

    def _push_lease(self, state: _NodeState, due: float) -> None:
        state.lease_generation += 1
        heapq.heappush(self._lease_heap, (due, state.lease_generation, state.name))

    def _push_status(self, state: _NodeState, due: float) -> None:
        state.status_generation += 1
        heapq.heappush(self._status_heap, (due, state.status_generation, state.name))

    def _pop_due(self, heap: list[tuple[float, int, str]], now: float, limit: int, lease: bool) -> list[_NodeState]:
        due: list[_NodeState] = []
        while heap and len(due) < limit and heap[0][0] <= now:
            _, generation, name = heapq.heappop(heap)
            state = self._nodes.get(name)
            if state is None or not state.up:
                continue
            if generation != (state.lease_generation if lease else state.status_generation):
                continue
            due.append(state)
        return due

    def _count(self, activity: str, writes: int = 1) -> None:
        self.events += writes
        self.counts[activity] += writes
        self._budget -= writes

    # ------------------------------------------------------------------ main loop
    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.tick_seconds):
            current = time.monotonic()
            elapsed = current - last
            last = current
            try:
                self._tick(elapsed)
            except Exception:  # churn must never take the simulator down
                self.errors += 1
                log.exception("cluster churn tick failed")

    def _tick(self, real_elapsed: float) -> None:
        rate = self.events_per_second
        self._budget = min(self._budget + rate * real_elapsed, rate * 0.5 + 2)
        now_moment = self.clock.now()
        now = now_moment.timestamp()
        sim_elapsed = min(60.0, max(0.0, now - self._last_sim))
        self._last_sim = now
        if time.monotonic() - self._last_resync > 2.0:
            self._last_resync = time.monotonic()
            self._resync_nodes(now)
        self._run_commands(now)
        while self._timeline and self._timeline[0][0] <= now and not self._stop.is_set():
            _, _, action = heapq.heappop(self._timeline)
            self._guarded(action)
        self._random_activities(now, sim_elapsed)
        self._heartbeats(now_moment)
        self._pod_churn(now_moment)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except StoreError as error:
            log.debug("churn write skipped: %s", error.message)

    def _run_commands(self, now: float) -> None:
        while True:
            try:
                command, name, seconds = self._commands.get_nowait()
            except queue.Empty:
                return
            state = self._nodes.get(name)
            if state is None:
                node = self.store.get("nodes", "", name)
                if node is None:
                    continue
                lease = self.store.get("leases", "kube-node-lease", name)
                state = self._track_node(node.obj, lease.obj if lease else None, now)
            if command == "silence":
                self._silence(state, now, seconds)
            elif command == "resume" and not state.up:
                self._guarded(lambda s=state: self._recover(s))

    def _fire(self, key: str, rate_per_second: float, elapsed: float) -> int:
        credit = self._credits.get(key)
        if credit is None:
            credit = self.rng.random()
        credit += rate_per_second * elapsed
        fired = int(credit)
        self._credits[key] = credit - fired
        return fired

    # ------------------------------------------------------------------ random activities
    def _random_activities(self, now: float, elapsed: float) -> None:
        count = len(self._nodes)
        if count == 0 or elapsed <= 0:
            return
        if time.monotonic() >= self._next_share_check:
            self._next_share_check = time.monotonic() + 0.5
            self._keep_shares(now)
        for _ in range(self._fire("pressure", self.pressure_per_node_hour * count / 3600, elapsed)):
            candidates = [self._nodes[n] for n in self.rng.sample(self._node_names, min(5, count))]
            for state in candidates:
                if state.up and state.pressure is None and not state.leaving:
                    self._guarded(lambda s=state: self._start_pressure(s, now))
                    break
        turnover = self.turnover_per_node_hour * count / 3600
        for _ in range(self._fire("join", turnover, elapsed)):
            self._guarded(self._join_node)
        for _ in range(self._fire("leave", turnover, elapsed)):
            staying = sum(1 for s in self._nodes.values() if not s.control_plane and not s.leaving)
            if staying < 2:
                break
            for state in (self._nodes[n] for n in self.rng.sample(self._node_names, min(5, count))):
                if state.up and not state.control_plane and not state.leaving:
                    self._guarded(lambda s=state: self._start_leaving(s, now))
                    break

    def _keep_shares(self, now: float) -> None:
        """Keep about ``unreachable_share`` of the nodes silent and ``flapping_share`` of the workers flapping."""
        nodes = list(self._nodes.values())
        target_down = round(len(nodes) * self.unreachable_share)
        down = sum(1 for state in nodes if not state.up)
        if down < target_down and now >= self._next_outage_at:
            candidates = [s for s in nodes if s.up and not s.flapping and not s.leaving]
            if candidates:
                self._silence(self.rng.choice(candidates), now, self.rng.uniform(180, 900))
                self._next_outage_at = now + self.rng.uniform(20, 90)
        workers = [s for s in nodes if not s.control_plane and not s.leaving]
        flapping = [s for s in workers if s.flapping]
        target_flapping = round(len(workers) * self.flapping_share)
        if len(flapping) < target_flapping:
            calm = [s for s in workers if not s.flapping and s.up and not s.not_ready]
            for state in self.rng.sample(calm, min(len(calm), target_flapping - len(flapping))):
                state.flapping = True
                state.flap_chain += 1
                self._schedule_flap(state, now + self.rng.uniform(5, 60))
        for state in flapping[target_flapping:]:
            state.flapping = False

    # ------------------------------------------------------------------ kubelet: leases & status
    def _heartbeats(self, now_moment: datetime) -> None:
        available = int(self._budget)
        if available <= 0:
            return
        now = now_moment.timestamp()
        node_cap = max(1, int(available * (1 - self.pod_share)))
        due_status = self._pop_due(self._status_heap, now, node_cap, lease=False)
        due_leases = self._pop_due(self._lease_heap, now, node_cap, lease=True)
        if len(due_status) + len(due_leases) > node_cap:
            # Overloaded: share the budget as the kubelets' natural rates would (one status report per
            # thirty lease renewals), carrying fractions over to later ticks.
            share = LEASE_RENEW_SECONDS / (LEASE_RENEW_SECONDS + STATUS_REPORT_SECONDS)
            self._status_credit = min(self._status_credit + node_cap * share, float(node_cap))
            status_quota = min(len(due_status), int(self._status_credit))
            self._status_credit -= status_quota
            lease_quota = min(len(due_leases), node_cap - status_quota)
        else:
            status_quota, lease_quota = len(due_status), len(due_leases)
        for state in due_status[status_quota:]:
            heapq.heappush(self._status_heap, (now, state.status_generation, state.name))
        for state in due_leases[lease_quota:]:
            heapq.heappush(self._lease_heap, (state.last_renew + LEASE_RENEW_SECONDS, state.lease_generation, state.name))
        heartbeat_text = format_time(now_moment)
        for state in due_status[:status_quota]:
            self._guarded(lambda s=state: self._write_heartbeat(s, heartbeat_text, now))
        renew_text = format_micro_time(now_moment)
        for state in due_leases[:lease_quota]:
            self._guarded(lambda s=state: self._renew_lease(s, renew_text, now))

    def _renew_lease(self, state: _NodeState, renew_text: str, now: float) -> None:
        def renew(lease: dict) -> None:
            lease.setdefault("spec", {})["renewTime"] = renew_text

        try:
            self.store.mutate("leases", "kube-node-lease", state.name, renew)
        except StoreError as error:
            if error.code != 404:
                raise
            if self.store.get("nodes", "", state.name) is None:
                self._forget_node(state.name)
                return
            self.store.create("leases", {
                "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                "metadata": {"name": state.name, "namespace": "kube-node-lease", "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": state.name, "uid": state.uid}]},
                "spec": {"holderIdentity": state.name, "leaseDurationSeconds": 40, "renewTime": renew_text}})
        self._count("lease")
        state.last_renew = now
        self._push_lease(state, now + LEASE_RENEW_SECONDS + self.rng.uniform(-0.5, 0.5))

    def _write_heartbeat(self, state: _NodeState, heartbeat_text: str, now: float) -> None:
        def heartbeat(node: dict) -> None:
            for condition in (node.get("status") or {}).get("conditions") or []:
                if condition.get("type") != "NetworkUnavailable":
                    condition["lastHeartbeatTime"] = heartbeat_text

        self._mutate_node(state, heartbeat, "node-status")
        state.last_status = now
        self._push_status(state, now + STATUS_REPORT_SECONDS)

    def _write_conditions(self, state: _NodeState, now_moment: datetime, activity: str,
                          ready_message: str | None = None) -> None:
        """Post the kubelet's view of its conditions now (heartbeat for all, transitions where status changed)."""
        stamp = format_time(now_moment)
        wanted = {"Ready": "False" if state.not_ready else "True"}
        for condition_type in PRESSURE_TAINTS:
            wanted[condition_type] = "True" if state.pressure == condition_type else "False"

        def post(node: dict) -> None:
            status = node.setdefault("status", {})
            conditions = status.setdefault("conditions", [])
            seen = set()
            for condition in conditions:
                condition_type = condition.get("type")
                if condition_type == "NetworkUnavailable":
                    continue
                condition["lastHeartbeatTime"] = stamp
                if condition_type in wanted:
                    seen.add(condition_type)
                    new_status = wanted[condition_type]
                    reason, message = KUBELET_CONDITION_TEXT[(condition_type, new_status)]
                    if condition_type == "Ready" and new_status == "False" and ready_message:
                        message = ready_message
                    if condition.get("status") != new_status:
                        condition["lastTransitionTime"] = stamp
                    condition["status"] = new_status
                    condition["reason"] = reason
                    condition["message"] = message
            for condition_type in KUBELET_CONDITION_TYPES:
                if condition_type not in seen:
                    reason, message = KUBELET_CONDITION_TEXT[(condition_type, wanted[condition_type])]
                    conditions.append({"type": condition_type, "status": wanted[condition_type],
                                       "lastHeartbeatTime": stamp, "lastTransitionTime": stamp,
                                       "reason": reason, "message": message})

        self._mutate_node(state, post, activity)
        now = now_moment.timestamp()
        state.last_status = now
        self._push_status(state, now + STATUS_REPORT_SECONDS)

    def _mutate_node(self, state: _NodeState, change: Callable[[dict], None], activity: str) -> None:
        try:
            self.store.mutate("nodes", "", state.name, change)
        except StoreError as error:
            if error.code == 404:
                self._forget_node(state.name)
            raise
        self._count(activity)

    def _set_taints(self, state: _NodeState, add: list[dict], remove_keys: set[str], activity: str) -> None:
        """Add and remove taints the way the node controller does (keyed by key and effect)."""
        def change(node: dict) -> None:
            spec = node.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or [] if t.get("key") not in remove_keys]
            present = {(t.get("key"), t.get("effect")) for t in taints}
            for taint in add:
                if (taint["key"], taint["effect"]) not in present:
                    taints.append(taint)
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)

        self._mutate_node(state, change, activity)

    def _node_event(self, state: _NodeState, reason: str, message: str, now_moment: datetime, *,
                    component: str = "kubelet", event_type: str = "Normal") -> None:
        stamp = format_time(now_moment)
        event = make_node_event(state.name, state.uid, reason, message, stamp, stamp, event_suffix(self.rng),
                                component=component, event_type=event_type)
        self.store.create("events", event)
        self._count("event")

    # ------------------------------------------------------------------ outages (node controller)
    def _silence(self, state: _NodeState, now: float, for_seconds: float | None) -> None:
        if state.mode == "up":
            state.mode = "silent"
            last_seen = max(state.last_renew, state.last_status)
            grace_at = max(now, last_seen + NODE_MONITOR_GRACE_SECONDS) + self.rng.uniform(0, 5)
            self._schedule(grace_at, lambda s=state: self._mark_unknown(s))
        state.recover_at = None
        if for_seconds is not None:
            self._schedule_recovery(state, now + for_seconds)

    def _schedule_recovery(self, state: _NodeState, at: float) -> None:
        """Bring the node back at ``at`` unless another silence or recovery replaces this one."""
        state.recover_at = at
        self._schedule(at, lambda: self._recover(state) if state.recover_at == at else None)

    def _mark_unknown(self, state: _NodeState) -> None:
        if state.mode != "silent" or state.name not in self._nodes:
            return
        now_moment = self.clock.now()
        stamp = format_time(now_moment)

        def to_unknown(node: dict) -> None:
            conditions = (node.get("status") or {}).get("conditions") or []
            node.setdefault("status", {})["conditions"] = [
                unknown_condition(c, stamp) if c.get("type") in KUBELET_CONDITION_TYPES else c for c in conditions]

        state.mode = "unknown"
        self._mutate_node(state, to_unknown, "node-unknown")
        self._set_taints(state, [make_taint(UNREACHABLE_TAINT, "NoSchedule", stamp),
                                 make_taint(UNREACHABLE_TAINT, "NoExecute", stamp)],
                         {NOT_READY_TAINT}, "node-taint")
        self._node_event(state, "NodeNotReady", f"Node {state.name} status is now: NodeNotReady", now_moment,
                         component="node-controller")
        self._set_pods_ready(state.name, False, stamp)

    def _recover(self, state: _NodeState) -> None:
        if state.up or state.name not in self._nodes:
            return
        was_unknown = state.mode == "unknown"
        state.mode = "up"
        state.recover_at = None
        now_moment = self.clock.now()
        now = now_moment.timestamp()
        self._renew_lease(state, format_micro_time(now_moment), now)
        if was_unknown:
            self._write_conditions(state, now_moment, "node-recovered")
            self._set_taints(state, [], {UNREACHABLE_TAINT}, "node-taint")
            self._node_event(state, "NodeReady", f"Node {state.name} status is now: NodeReady", now_moment)
            self._set_pods_ready(state.name, True, format_time(now_moment))
        else:
            self._write_heartbeat(state, format_time(now_moment), now)

    def _set_pods_ready(self, node_name: str, ready: bool, stamp: str) -> None:
        wanted = "True" if ready else "False"
        for stored in self.store.items("pods"):
            pod = stored.obj
            if (pod.get("spec") or {}).get("nodeName") != node_name or (pod.get("status") or {}).get("phase") != "Running":
                continue
            if pod["metadata"].get("deletionTimestamp"):
                continue
            current = next((c.get("status") for c in pod["status"].get("conditions") or [] if c.get("type") == "Ready"), None)
            if current == wanted:
                continue

            def change(obj: dict, wanted: str = wanted) -> None:
                for condition in (obj.get("status") or {}).get("conditions") or []:
                    if condition.get("type") == "Ready" and condition.get("status") != wanted:
                        condition["status"] = wanted
                        condition["lastTransitionTime"] = stamp

            meta = pod["metadata"]
            self._guarded(lambda m=meta, c=change: self._mutate_pod(m.get("namespace", ""), m["name"], c, "pod-ready"))

    def _mutate_pod(self, namespace: str, name: str, change: Callable[[dict], None], activity: str) -> None:
        self.store.mutate("pods", namespace, name, change)
        self._count(activity)

    # ------------------------------------------------------------------ flapping & pressure
    def _schedule_flap(self, state: _NodeState, at: float) -> None:
        chain = state.flap_chain
        self._schedule(at, lambda: self._flap(state) if state.flap_chain == chain else None)

    def _flap(self, state: _NodeState) -> None:
        """Toggle a flapping node's readiness (a node that stopped flapping only comes back to Ready)."""
        if state.name not in self._nodes or not (state.flapping or state.not_ready):
            return
        if not state.up:
            self._schedule_flap(state, self.clock.now().timestamp() + 30)
            return
        now_moment = self.clock.now()
        now = now_moment.timestamp()
        stamp = format_time(now_moment)
        state.not_ready = state.flapping and not state.not_ready
        self._write_conditions(state, now_moment, "node-flap", ready_message=_PLEG_MESSAGE)
        if state.not_ready:
            self._set_taints(state, [make_taint(NOT_READY_TAINT, "NoSchedule", stamp),
                                     make_taint(NOT_READY_TAINT, "NoExecute", stamp)], set(), "node-taint")
            self._node_event(state, "NodeNotReady", f"Node {state.name} status is now: NodeNotReady", now_moment)
            self._schedule_flap(state, now + self.rng.uniform(20, 90))
        else:
            self._set_taints(state, [], {NOT_READY_TAINT}, "node-taint")
            self._node_event(state, "NodeReady", f"Node {state.name} status is now: NodeReady", now_moment)
            if state.flapping:
                self._schedule_flap(state, now + self.rng.uniform(60, 240))

    def _start_pressure(self, state: _NodeState, now: float) -> None:
        state.pressure = self.rng.choice(tuple(PRESSURE_TAINTS))
        now_moment = self.clock.now()
        stamp = format_time(now_moment)
        self._write_conditions(state, now_moment, "node-pressure")
        self._set_taints(state, [make_taint(PRESSURE_TAINTS[state.pressure], "NoSchedule", stamp)], set(), "node-taint")
        reason, _, resource = _PRESSURE_EVENTS[state.pressure]
        self._node_event(state, reason, f"Node {state.name} status is now: {reason}", now_moment)
        self._node_event(state, "EvictionThresholdMet", f"Attempting to reclaim {resource}", now_moment,
                         event_type="Warning")
        self._schedule(now + self.rng.uniform(60, 300), lambda s=state: self._end_pressure(s))

    def _end_pressure(self, state: _NodeState) -> None:
        if state.pressure is None or state.name not in self._nodes:
            return
        if not state.up:
            self._schedule(self.clock.now().timestamp() + 60, lambda s=state: self._end_pressure(s))
            return
        ended = state.pressure
        state.pressure = None
        now_moment = self.clock.now()
        self._write_conditions(state, now_moment, "node-pressure")
        self._set_taints(state, [], {PRESSURE_TAINTS[ended]}, "node-taint")
        _, reason, _ = _PRESSURE_EVENTS[ended]
        self._node_event(state, reason, f"Node {state.name} status is now: {reason}", now_moment)

    # ------------------------------------------------------------------ nodes joining and leaving
    def _join_node(self) -> None:
        workers = [s for s in self._nodes.values() if not s.control_plane and not s.gpu and not s.leaving]
        if not workers:
            return
        template_state = self.rng.choice(workers)
        stored = self.store.get("nodes", "", template_state.name)
        if stored is None:
            return
        now_moment = self.clock.now()
        node, new_ip = self._clone_node(stored.obj, now_moment)
        created = self.store.create("nodes", node)
        self._count("node-joined")
        name = created["metadata"]["name"]
        stamp = format_micro_time(now_moment)
        self.store.create("leases", {
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": created["metadata"]["uid"]}]},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": stamp}})
        self._count("lease")
        state = self._track_node(created, None, now_moment.timestamp())
        state.last_renew = now_moment.timestamp()
        self._node_event(state, "Starting", "Starting kubelet.", now_moment)
        self._node_event(state, "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller",
                         now_moment, component="node-controller")
        for daemonset_uid in list(self._daemonset_samples):
            sample = self._daemonset_sample(daemonset_uid)
            if sample is None:
                continue
            selector = (sample.get("spec") or {}).get("nodeSelector") or {}
            labels = created["metadata"].get("labels") or {}
            if any(labels.get(key) != value for key, value in selector.items()):
                continue
            self._guarded(lambda s=sample: self._create_pod_like(s, created, new_ip, "daemonset-pod"))
            self._adjust_daemonset(sample, +1)

    def _daemonset_sample(self, daemonset_uid: str) -> dict | None:
        """A live pod of the DaemonSet with this uid, to copy onto a new node."""
        namespace, name = self._daemonset_samples[daemonset_uid]
        stored = self.store.get("pods", namespace, name)
        if stored is not None and not stored.obj["metadata"].get("deletionTimestamp"):
            return stored.obj
        for stored in self.store.items("pods"):
            meta = stored.obj["metadata"]
            owners = meta.get("ownerReferences") or []
            if owners and owners[0].get("uid") == daemonset_uid and not meta.get("deletionTimestamp"):
                self._daemonset_samples[daemonset_uid] = (meta.get("namespace", ""), meta["name"])
                return stored.obj
        del self._daemonset_samples[daemonset_uid]
        return None

    def _clone_node(self, template: dict, now_moment: datetime) -> tuple[dict, str]:
        """A new node of the same kind as ``template``: new name, addresses, ids, fresh conditions."""
        old_name = template["metadata"]["name"]
        old_ip = next((a.get("address") for a in (template.get("status") or {}).get("addresses") or []
                       if a.get("type") == "InternalIP"), "")
        existing_names = set(self._nodes)
        used_ips = {a.get("address") for stored in self.store.items("nodes")
                    for a in (stored.obj.get("status") or {}).get("addresses") or []}
        new_ip = self._new_ip(old_ip, used_ips)
        new_name = self._successor_name(old_name, new_ip, existing_names)
        text = json.dumps(template).replace(old_name, new_name)
        if old_ip:
            text = re.sub(r"(?<![\d.])" + re.escape(old_ip) + r"(?!\d)", new_ip, text)
        node = json.loads(text)
        meta = node["metadata"]
        for field in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation"):
            meta.pop(field, None)
        meta["uid"] = random_uid(self.rng)
        stamp = format_time(now_moment)
        spec = node.setdefault("spec", {})
        spec.pop("unschedulable", None)
        taints = [t for t in spec.get("taints") or [] if not str(t.get("key", "")).startswith(_NODE_TAINT_PREFIX)]
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
        provider = spec.get("providerID")
        if isinstance(provider, str) and provider.startswith("aws:///"):
            spec["providerID"] = provider.rsplit("/", 1)[0] + f"/i-0{self.rng.getrandbits(64):016x}"
        if spec.get("podCIDR"):
            cidr = self._free_pod_cidr(spec["podCIDR"])
            spec["podCIDR"] = cidr
            spec["podCIDRs"] = [cidr]
        status = node.setdefault("status", {})
        conditions = []
        for condition in status.get("conditions") or []:
            condition_type = condition.get("type")
            if condition_type in KUBELET_CONDITION_TYPES:
                condition_status = "True" if condition_type == "Ready" else "False"
                reason, message = KUBELET_CONDITION_TEXT[(condition_type, condition_status)]
                condition = {"type": condition_type, "status": condition_status, "lastHeartbeatTime": stamp,
                             "lastTransitionTime": stamp, "reason": reason, "message": message}
            else:
                condition = dict(condition, lastHeartbeatTime=stamp, lastTransitionTime=stamp)
            conditions.append(condition)
        status["conditions"] = conditions
        info = status.get("nodeInfo")
        if isinstance(info, dict):
            machine = f"{self.rng.getrandbits(128):032x}"
            info["machineID"] = machine
            info["systemUUID"] = random_uid(self.rng)
            info["bootID"] = random_uid(self.rng)
        return node, new_ip

    def _new_ip(self, old_ip: str, used: set) -> str:
        parts = old_ip.split(".")
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            parts = ["10", "250", "0", "0"]
        for _ in range(1000):
            candidate = f"{parts[0]}.{parts[1]}.{self.rng.randrange(0, 64)}.{self.rng.randrange(2, 255)}"
            if candidate not in used:
                return candidate
        return f"{parts[0]}.{parts[1]}.{self.rng.randrange(64, 256)}.{self.rng.randrange(2, 255)}"

    def _successor_name(self, old: str, new_ip: str, existing: set[str]) -> str:
        """A name following the provider's pattern of ``old`` that no node has yet."""
        eks = re.fullmatch(r"ip-\d+-\d+-\d+-\d+(\..+)", old)
        if eks:
            name = f"ip-{new_ip.replace('.', '-')}{eks.group(1)}"
            if name not in existing:
                return name
        gke = re.fullmatch(r"(gke-.+-[0-9a-f]{8}-)[a-z0-9]{4}", old)
        kind = re.fullmatch(r"(.+-worker)", old)
        aks = re.fullmatch(r"(aks-.+-vmss)([0-9a-z]{6})", old)
        numbered = re.fullmatch(r"(.*?)(\d+)", old)
        for _ in range(100):
            if gke:
                name = gke.group(1) + "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=4))
            elif aks:
                prefix = aks.group(1)
                highest = max((int(n[len(prefix):], 36) for n in existing
                               if n.startswith(prefix) and re.fullmatch(r"[0-9a-z]{6}", n[len(prefix):])), default=0)
                name = prefix + base36(highest + 1, 6)
            elif kind:
                prefix = kind.group(1)
                highest = max((int(n[len(prefix):] or 1) for n in existing
                               if n.startswith(prefix) and n[len(prefix):].isdigit() or n == prefix), default=1)
                name = f"{prefix}{highest + 1}"
            elif numbered:
                prefix, digits = numbered.group(1), numbered.group(2)
                highest = max((int(n[len(prefix):]) for n in existing
                               if n.startswith(prefix) and n[len(prefix):].isdigit()), default=0)
                name = f"{prefix}{highest + 1:0{len(digits)}d}"
            else:
                name = f"{old}-{random_suffix(self.rng)}"
            if name not in existing:
                return name
        return f"{old}-{random_suffix(self.rng)}"

    def _free_pod_cidr(self, template_cidr: str) -> str:
        used = set()
        for stored in self.store.items("nodes"):
            cidr = (stored.obj.get("spec") or {}).get("podCIDR")
            if cidr:
                used.add(cidr)
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)\.0/24", template_cidr)
        if not match:
            return template_cidr
        first, second = int(match.group(1)), int(match.group(2))
        for offset in range(0, 64 * 256):
            candidate = f"{first}.{second + offset // 256}.{offset % 256}.0/24"
            if candidate not in used:
                return candidate
        return template_cidr

    def _start_leaving(self, state: _NodeState, now: float) -> None:
        """Scale-down: cordon now, drain 20 s later, delete the node and its Lease after 60 s more."""
        state.leaving = True
        stamp = format_time(self.clock.now())

        def cordon(node: dict) -> None:
            spec = node.setdefault("spec", {})
            spec["unschedulable"] = True
            taints = spec.setdefault("taints", [])
            if not any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints):
                taints.append(make_taint(UNSCHEDULABLE_TAINT, "NoSchedule", stamp))

        self._mutate_node(state, cordon, "node-cordoned")
        self._schedule(now + 20, lambda s=state: self._drain(s))
        self._schedule(now + 80, lambda s=state: self._remove_node(s))

    def _drain(self, state: _NodeState) -> None:
        for stored in self.store.items("pods"):
            pod = stored.obj
            meta = pod["metadata"]
            if (pod.get("spec") or {}).get("nodeName") != state.name or meta.get("deletionTimestamp"):
                continue
            owners = meta.get("ownerReferences") or []
            if owners and owners[0].get("kind") in ("DaemonSet", "Node"):
                continue
            self._guarded(lambda m=meta: self._delete_pod(m.get("namespace", ""), m["name"]))

    def _remove_node(self, state: _NodeState) -> None:
        name = state.name
        self._forget_node(name)
        for stored in self.store.items("pods"):
            pod = stored.obj
            if (pod.get("spec") or {}).get("nodeName") == name:
                meta = pod["metadata"]
                owners = meta.get("ownerReferences") or []
                if owners and owners[0].get("kind") == "DaemonSet":
                    self._adjust_daemonset(pod, -1)
                self._guarded(lambda m=meta: self._force_delete_pod(m.get("namespace", ""), m["name"]))
        self._guarded(lambda: (self.store.delete("nodes", "", name), self._count("node-left")))
        self._guarded(lambda: (self.store.delete("leases", "kube-node-lease", name), self._count("lease")))

    def _adjust_daemonset(self, pod: dict, delta: int) -> None:
        owners = pod["metadata"].get("ownerReferences") or []
        if not owners:
            return
        namespace = pod["metadata"].get("namespace", "")
        name = owners[0].get("name", "")

        def change(daemonset: dict) -> None:
            status = daemonset.setdefault("status", {})
            for field in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberAvailable",
                          "updatedNumberScheduled"):
                status[field] = max(0, int(status.get(field, 0) or 0) + delta)

        try:
            self.store.mutate("daemonsets", namespace, name, change)
            self._count("daemonset-status")
        except StoreError:
            pass

    # ------------------------------------------------------------------ pods
    def _pod_churn(self, now_moment: datetime) -> None:
        operations = int(self._budget // 2)
        if operations <= 0:
            return
        for _ in range(operations):
            if self._stop.is_set():
                return
            current = len(self._pod_keys)
            target = max(self._pod_target, 1)
            create_odds = min(0.9, max(0.1, 0.5 + (target - current) / target * 10))
            if self.rng.random() < create_odds or not self._pod_keys:
                self._create_app_pod(now_moment)
            else:
                self._delete_random_pod()

    def _eligible_node(self) -> dict | None:
        for _ in range(8):
            if not self._node_names:
                return None
            state = self._nodes[self.rng.choice(self._node_names)]
            if not state.up or state.control_plane or state.gpu or state.leaving or state.not_ready:
                continue
            stored = self.store.get("nodes", "", state.name)
            if stored is None:
                continue
            spec = stored.obj.get("spec") or {}
            if spec.get("unschedulable") or any(t.get("key") not in _SPOT_TAINT_KEYS for t in spec.get("taints") or []):
                continue
            return stored.obj
        return None

    def _create_app_pod(self, now_moment: datetime) -> None:
        node = self._eligible_node()
        if node is None:
            self._budget -= 2
            return
        host_ip = _internal_ip(node)
        template = None
        for _ in range(4):
            if not self._pod_keys:
                break
            namespace, name = self._pod_keys[self.rng.randrange(len(self._pod_keys))]
            stored = self.store.get("pods", namespace, name)
            if stored is not None:
                template = stored.obj
                break
        if template is None:
            template = sample_app_pod(self.rng, "default", node["metadata"]["name"], host_ip, "", now_moment)
        self._guarded(lambda: self._create_pod_like(template, node, host_ip, "pod-created"))

    def _create_pod_like(self, template: dict, node: dict, host_ip: str, activity: str) -> None:
        """Create a Pending copy of ``template`` on ``node``; it turns Running a few seconds later."""
        meta = template["metadata"]
        node_name = node["metadata"]["name"]
        old_node = (template.get("spec") or {}).get("nodeName", "")
        text = json.dumps(template)
        if old_node:
            text = text.replace(f'"{old_node}"', f'"{node_name}"')
        pod = json.loads(text)
        namespace = meta.get("namespace", "default")
        base = meta.get("generateName") or f"{meta['name']}-"
        pod_meta = pod["metadata"]
        for field in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds"):
            pod_meta.pop(field, None)
        pod_meta["generateName"] = base
        pod_meta["uid"] = random_uid(self.rng)
        pod_meta["name"] = f"{base}{random_suffix(self.rng)}"
        if self.store.get("pods", namespace, pod_meta["name"]) is not None:
            return
        spec = pod.setdefault("spec", {})
        spec["nodeName"] = node_name
        token = f"kube-api-access-{random_suffix(self.rng)}"
        for volume in spec.get("volumes") or []:
            if str(volume.get("name", "")).startswith("kube-api-access-"):
                old_token = volume["name"]
                volume["name"] = token
                for container in spec.get("containers") or []:
                    for mount in container.get("volumeMounts") or []:
                        if mount.get("name") == old_token:
                            mount["name"] = token
        host_network = bool(spec.get("hostNetwork"))
        pod_ip = host_ip if host_network else _pod_ip_for(node, self.rng)
        now_moment = self.clock.now()
        stamp = format_time(now_moment)
        containers = spec.get("containers") or []
        pod["status"] = _pending_status(containers, host_ip, stamp, (template.get("status") or {}).get("qosClass"))
        created = self.store.create("pods", pod)
        self._count(activity)
        key = (namespace, created["metadata"]["name"])
        owners = created["metadata"].get("ownerReferences") or []
        if owners and owners[0].get("kind") == "ReplicaSet":
            self._pod_keys.append(key)
        image_ids = {s.get("name"): s.get("imageID") for s in (template.get("status") or {}).get("containerStatuses") or []}
        delay = self.rng.uniform(2, 8)
        self._schedule(now_moment.timestamp() + delay,
                       lambda: self._guarded(lambda: self._start_pod(key, pod_ip, image_ids)))

    def _start_pod(self, key: tuple[str, str], pod_ip: str, image_ids: dict) -> None:
        stamp = format_time(self.clock.now())
        rng = self.rng

        def run(pod: dict) -> None:
            if pod["metadata"].get("deletionTimestamp"):
                return
            status = pod.setdefault("status", {})
            status["phase"] = "Running"
            for condition in status.get("conditions") or []:
                if condition.get("type") != "PodScheduled" and condition.get("status") != "True":
                    condition["status"] = "True"
                    condition["lastTransitionTime"] = stamp
                    condition.pop("reason", None)
                    condition.pop("message", None)
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
            statuses = []
            for container in (pod.get("spec") or {}).get("containers") or []:
                container_id = f"containerd://{rng.getrandbits(256):064x}"
                image = container.get("image", "")
                statuses.append({"name": container.get("name"), "state": {"running": {"startedAt": stamp}},
                                 "lastState": {}, "ready": True, "restartCount": 0, "image": image,
                                 "imageID": image_ids.get(container.get("name")) or image,
                                 "containerID": container_id, "started": True})
            status["containerStatuses"] = statuses

        self._mutate_pod(key[0], key[1], run, "pod-started")

    def _delete_random_pod(self) -> None:
        keys = self._pod_keys
        index = self.rng.randrange(len(keys))
        key = keys[index]
        keys[index] = keys[-1]
        keys.pop()
        stored = self.store.get("pods", *key)
        if stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return
        self._guarded(lambda: self._delete_pod(*key))

    def _delete_pod(self, namespace: str, name: str) -> None:
        pod = self.cluster.delete_pod(namespace, name)
        graceful = bool(pod.get("metadata", {}).get("deletionTimestamp")) and self.store.get("pods", namespace, name) is not None
        self._count("pod-deleted", 2 if graceful else 1)

    def _force_delete_pod(self, namespace: str, name: str) -> None:
        """Remove a pod at once, as the pod garbage collector does for pods of a deleted node."""
        self.cluster.delete_pod(namespace, name, grace_seconds=0)
        self._count("pod-deleted")


def _requests_gpu(pod: dict) -> bool:
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        if GPU_RESOURCE in (resources.get("requests") or {}) or GPU_RESOURCE in (resources.get("limits") or {}):
            return True
    return False


def _internal_ip(node: dict) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address", ""))
    return ""


def _pod_ip_for(node: dict, rng: random.Random) -> str:
    cidr = (node.get("spec") or {}).get("podCIDR")
    if isinstance(cidr, str) and re.fullmatch(r"\d+\.\d+\.\d+\.0/24", cidr):
        return f"{cidr.rsplit('.', 1)[0]}.{rng.randrange(2, 255)}"
    host = _internal_ip(node).split(".")
    if len(host) == 4:
        return f"{host[0]}.{int(host[1]) + 1 if host[1].isdigit() else 1}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _pending_status(containers: list[dict], host_ip: str, stamp: str, qos_class: str | None) -> dict:
    names = [c.get("name", "") for c in containers]
    unready = f"containers with unready status: [{' '.join(names)}]"
    return {
        "phase": "Pending",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "False", "lastProbeTime": None, "lastTransitionTime": stamp},
            {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp},
            {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": stamp,
             "reason": "ContainersNotReady", "message": unready},
            {"type": "ContainersReady", "status": "False", "lastProbeTime": None, "lastTransitionTime": stamp,
             "reason": "ContainersNotReady", "message": unready},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp},
        ],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": stamp,
        "containerStatuses": [
            {"name": c.get("name", ""), "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {},
             "ready": False, "restartCount": 0, "image": c.get("image", ""), "imageID": "", "started": False}
            for c in containers],
        "qosClass": qos_class or "BestEffort",
    }

