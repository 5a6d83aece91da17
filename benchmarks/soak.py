"""Soak: the sync engine against three churning simulated clusters while faults fire at random.

``run_soak(seconds)`` starts the simulator in a process of its own (so every thread, socket and
byte measured here belongs to the client), three clusters with live churn (leases, node status,
flapping, unreachable kubelets, nodes joining and leaving, pods), and a ``Fleet`` with short
timeouts reading them over HTTP through a kubeconfig whose users read their bearer token from a
``tokenFile``. A fault injector thread fires, in shuffled rounds so every kind is seen:

- ``watch_closed``: the server ends watches after a few events, for a few seconds;
- ``watch_reset``: every open watch connection is reset mid-stream;
- ``gone_on_resume``: the next watches that resume from a resourceVersion get 410 Gone;
- ``compaction``: the server forgets its history, so resuming clients must relist;
- ``list_errors``: LIST answers 500/503 for a few seconds while a compaction and reset watches
  force relists;
- ``stall``: the next requests are held longer than any client read timeout;
- ``restart``: the API server restarts on the same port, resetting every connection;
- ``token_rotation``: the bearer token expires (401) and a renewed one is written to the token
  file a moment later, as a credential helper would.

With ``with_app`` the headless ``KnmApp`` runs on the same fleet (all-clusters view, read-only).
At the end churn and faults stop and the caches must settle within a deadline, then each cache
is compared with its server (names, resourceVersions, every projected field including the
conditions; leases too), the feed consumer's view (or the app's model and table) with the
cache, and after ``Fleet.stop()`` the threads and file descriptors must be back to where they
were. Memory (tracemalloc and RSS) is sampled after a warm-up and at the end of the churn.

``python benchmarks/soak.py --minutes 10`` (or ``python -m benchmarks soak --minutes 10``)
prints the figures and exits 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import multiprocessing
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from knm_tui.kube.cache import SyncState
from knm_tui.kube.config import load_kubeconfig
from knm_tui.kube.leaseview import LeaseView, project_lease
from knm_tui.kube.nodeview import NodeView, project_node
from knm_tui.kube.sync import Fleet, SyncSettings

CLUSTER_NAMES = ("soak-a", "soak-b", "soak-c", "soak-d", "soak-e", "soak-f")
NODES_PER_CLUSTER = (120, 60, 30, 30, 30, 30)
DEFAULT_EVENTS_PER_SECOND = 300.0
CLOCK_SPEED = 20.0  # simulated seconds per real second: kubelet status every 15 s, outages in seconds
NODE_LEASE_NAMESPACE = "kube-node-lease"

SOAK_SETTINGS = SyncSettings(
    connect_timeout=1.0,
    read_timeout=1.0,
    watch_timeout_range=(2, 6),
    watch_read_margin=1.0,
    min_watch_seconds=0.3,
    backoff_initial=0.1,
    backoff_max=2.0,
    auth_retry_seconds=1.0,
    lease_retry_seconds=2.0,
    stale_after_failures=3,
    stale_after_seconds=3.0,
)
"""Short timeouts and backoffs, so a soak of minutes goes through hundreds of recoveries."""

LONGEST_READ_TIMEOUT = max(SOAK_SETTINGS.read_timeout,
                           SOAK_SETTINGS.watch_timeout_range[1] + SOAK_SETTINGS.watch_read_margin)
STALL_SECONDS = LONGEST_READ_TIMEOUT + 1.0

FAULT_KINDS = ("watch_closed", "watch_reset", "gone_on_resume", "compaction", "list_errors",
               "stall", "restart", "token_rotation")

PRIME_TIMEOUT_SECONDS = 60.0
BASELINE_TIMEOUT_SECONDS = 10.0
MEMORY_SAMPLE_SECONDS = 5.0
TRACED_TOLERANCE_MB = 4.0  # traced bytes may grow this much after the warm-up (caches of parsed strings fill)
RSS_TOLERANCE_MB = 32.0  # the allocator keeps freed arenas: RSS is a coarser measure
FEED_DRAIN_SECONDS = 0.2
SETTLE_POLL_SECONDS = 0.2
MAX_DIFFS_SHOWN = 20


# =============================================================================================
# The simulator process


class _SimulatorControl:
    """The simulator side of the control channel: one method per command the soak sends."""

    def __init__(self, simulator: Any) -> None:
        self.simulator = simulator

    def _faults(self, cluster: str) -> Any:
        return self.simulator.cluster(cluster).faults

    def close_watches(self, cluster: str, after_events: int | None) -> None:
        """End every watch after ``after_events`` events (``None``: never)."""
        self._faults(cluster).close_watch_after_events = after_events

    def drop_watches(self, cluster: str) -> int:
        """Reset the open watch connections; returns how many."""
        return self.simulator.servers[cluster].drop_watches()

    def gone(self, cluster: str, count: int) -> None:
        """Answer the next ``count`` resuming watches with 410."""
        self._faults(cluster).gone_on_next_watches(count)

    def compact(self, cluster: str) -> None:
        """Forget the cluster's watch history."""
        self.simulator.cluster(cluster).store.compact()

    def list_errors(self, cluster: str, rate: float) -> None:
        """Fail this share of LIST requests with 500 or 503 (0: stop)."""
        faults = self._faults(cluster)
        faults.error_codes = (500, 503)
        faults.error_verbs = frozenset({"list"})
        faults.error_rate = rate

    def stall(self, cluster: str, count: int, seconds: float) -> None:
        """Hold the next ``count`` requests for ``seconds``."""
        self._faults(cluster).stall_next_requests(count, seconds)

    def restart(self, cluster: str) -> None:
        """Restart the cluster's API server on the same port."""
        self.simulator.servers[cluster].restart()

    def rotate_token(self, cluster: str, token: str) -> None:
        """Expire the bearer token: only ``token`` is accepted from now on."""
        self.simulator.cluster(cluster).rotate_token(token)

    def clear_faults(self) -> None:
        """Switch every fault off on every cluster."""
        for cluster in self.simulator.clusters.values():
            cluster.faults.clear()

    def stop_churn(self) -> None:
        """Stop every churner (the clusters keep serving)."""
        for churner in self.simulator.churners.values():
            churner.stop()

    def churn(self) -> dict[str, dict[str, Any]]:
        """Per cluster: churn writes in total, by activity, and failed ticks."""
        return {name: {"events": churner.events, "counts": dict(churner.counts), "errors": churner.errors}
                for name, churner in self.simulator.churners.items()}

    def fault_counts(self) -> dict[str, dict[str, int]]:
        """Per cluster: the faults the server actually injected, by kind."""
        return {name: dataclasses.asdict(cluster.faults.counts) for name, cluster in self.simulator.clusters.items()}

    def requests(self) -> dict[str, dict[str, int]]:
        """Per cluster: requests seen, as "verb resource" (and "HTTP code") counts."""
        tallies: dict[str, dict[str, int]] = {}
        for name, cluster in self.simulator.clusters.items():
            counter: Counter[str] = Counter()
            for record in cluster.faults.requests():
                counter[f"{record.verb} {record.resource}"] += 1
                counter[f"HTTP {record.code}"] += 1
            tallies[name] = dict(counter)
        return tallies

    def versions(self) -> dict[str, dict[str, dict[str, str]]]:
        """Per cluster: node name → resourceVersion and node lease name → resourceVersion."""
        result = {}
        for name, cluster in self.simulator.clusters.items():
            store = cluster.store
            result[name] = {
                "nodes": {s.obj["metadata"]["name"]: s.obj["metadata"]["resourceVersion"] for s in store.items("nodes")},
                "leases": {s.obj["metadata"]["name"]: s.obj["metadata"]["resourceVersion"]
                           for s in store.items("leases")
                           if s.obj["metadata"].get("namespace") == NODE_LEASE_NAMESPACE},
            }
        return result

    def objects(self) -> dict[str, dict[str, list[bytes]]]:
        """Per cluster: every node and node lease as the JSON the server sends."""
        result = {}
        for name, cluster in self.simulator.clusters.items():
            store = cluster.store
            result[name] = {
                "nodes": [s.raw for s in store.items("nodes")],
                "leases": [s.raw for s in store.items("leases")
                           if s.obj["metadata"].get("namespace") == NODE_LEASE_NAMESPACE],
            }
        return result


def _simulator_main(connection: Connection, plan: dict[str, Any]) -> None:
    """The simulator process: start the clusters of ``plan``, then answer commands until "stop"."""
    from knm_tui.sim import ClusterSpec, SimClock, Simulator
    from knm_tui.sim.world import WorldSpec

    specs = []
    for entry in plan["clusters"]:
        world = WorldSpec(name=entry["name"], nodes=entry["nodes"], pods_per_node=4, seed=entry["seed"],
                          images_per_node=(3, 10), unhealthy_share=0.02, pressure_share=0.02,
                          cordoned_share=0.02, npd_share=0.1)
        specs.append(ClusterSpec(
            name=entry["name"], world=world, token=entry["token"], seed=entry["seed"],
            churn_events_per_second=entry["events_per_second"],
            churn_options={"turnover_per_node_hour": 0.5, "flapping_share": 0.05, "unreachable_share": 0.05},
        ))
    simulator = Simulator(specs, clock=SimClock(speed=plan["clock_speed"]))
    try:
        simulator.start()
    except BaseException as error:
        connection.send(("error", f"{type(error).__name__}: {error}"))
        raise
    control = _SimulatorControl(simulator)
    connection.send(("ok", {name: simulator.url(name) for name in simulator.clusters}))
    try:
        while True:
            try:
                command, arguments = connection.recv()
            except (EOFError, OSError):
                break
            if command == "stop":
                break
            try:
                result = getattr(control, command)(**arguments)
            except Exception as error:  # reported to the soak, which fails loudly
                connection.send(("error", f"{command}: {type(error).__name__}: {error}"))
            else:
                connection.send(("ok", result))
    finally:
        simulator.stop()
        try:
            connection.send(("ok", None))
        except OSError:
            pass


class SimulatorProcess:
    """The simulator running in a child process, driven over a pipe (thread-safe)."""

    def __init__(self, plan: dict[str, Any], start_timeout: float = 120.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        self._lock = threading.Lock()
        self._process = context.Process(target=_simulator_main, args=(child_end, plan),
                                        name="knm-soak-simulator", daemon=True)
        self._process.start()
        child_end.close()
        if not self._connection.poll(start_timeout):
            self._process.kill()
            raise RuntimeError("the simulator process did not start in time")
        status, payload = self._connection.recv()
        if status != "ok":
            raise RuntimeError(f"the simulator process failed to start: {payload}")
        self.urls: dict[str, str] = payload

    def call(self, command: str, **arguments: Any) -> Any:
        """Run one command in the simulator process and return its result."""
        with self._lock:
            self._connection.send((command, arguments))
            status, payload = self._connection.recv()
        if status != "ok":
            raise RuntimeError(f"simulator command failed: {payload}")
        return payload

    def stop(self) -> None:
        """Stop the simulator and its process."""
        with self._lock:
            try:
                self._connection.send(("stop", {}))
                if self._connection.poll(15.0):
                    self._connection.recv()
            except (OSError, EOFError):
                pass
            self._connection.close()
        self._process.join(timeout=10.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5.0)


# =============================================================================================
# Credentials the way a credential helper renews them


class TokenFiles:
    """One bearer-token file per context, rewritten atomically (mode 0600) on renewal."""

    def __init__(self, directory: Path, contexts: Sequence[str]) -> None:
        self.directory = directory
        self.tokens = {context: _new_token(context) for context in contexts}
        for context in contexts:
            self.write(context, self.tokens[context])

    def path(self, context: str) -> Path:
        """The token file of ``context``."""
        return self.directory / f"{context}.token"

    def write(self, context: str, token: str) -> None:
        """Replace the token file's content with ``token``."""
        target = self.path(context)
        temporary = target.with_suffix(".new")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token)
        os.replace(temporary, target)
        self.tokens[context] = token


def _new_token(context: str) -> str:
    return f"soak-{context}-{secrets.token_hex(16)}"


def write_kubeconfig(path: Path, urls: dict[str, str], tokens: TokenFiles) -> Path:
    """A kubeconfig (mode 0600) with one context per cluster whose user reads a ``tokenFile``."""
    names = list(urls)
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": names[0],
        "clusters": [{"name": name, "cluster": {"server": urls[name]}} for name in names],
        "users": [{"name": f"{name}-user", "user": {"tokenFile": str(tokens.path(name))}} for name in names],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-user"}} for name in names],
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path


# =============================================================================================
# Faults


class FaultInjector:
    """Fires random faults at random clusters from a thread of its own, and undoes the timed ones.

    Kinds come in shuffled rounds (every kind once per round), clusters at random, with
    exponentially distributed gaps of mean ``mean_interval`` seconds.
    """

    def __init__(self, simulator: SimulatorProcess, contexts: Sequence[str], tokens: TokenFiles,
                 rng: random.Random, mean_interval: float, on_tick: Callable[[], None] | None = None) -> None:
        self.simulator = simulator
        self.contexts = list(contexts)
        self.tokens = tokens
        self.rng = rng
        self.mean_interval = mean_interval
        self.on_tick = on_tick
        self.injected: Counter[str] = Counter()
        self.errors: list[str] = []
        self._round: list[str] = []
        self._undo: list[tuple[float, str, str, Callable[[], None]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="knm-soak-faults", daemon=True)

    def start(self) -> None:
        """Start firing."""
        self._thread.start()

    def finish(self) -> None:
        """Stop firing and undo every timed fault now (renewed tokens are written at once)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=30.0)
        for _, _, _, undo in sorted(self._undo, key=lambda item: item[0]):
            self._guarded(undo)
        self._undo.clear()

    def _run(self) -> None:
        next_fault = time.monotonic() + self.rng.expovariate(1.0 / self.mean_interval)
        while not self._stop.wait(0.05):
            now = time.monotonic()
            for item in [item for item in self._undo if item[0] <= now]:
                self._undo.remove(item)
                self._guarded(item[3])
            if now >= next_fault:
                self._guarded(self._fire_one)
                next_fault = now + self.rng.expovariate(1.0 / self.mean_interval)
            if self.on_tick is not None:
                self._guarded(self.on_tick)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as error:  # a broken injector must fail the soak, not kill the thread
            self.errors.append(f"{type(error).__name__}: {error}")

    def _pending(self, context: str, kind: str) -> bool:
        return any(item[1] == context and item[2] == kind for item in self._undo)

    def _later(self, seconds: float, context: str, kind: str, undo: Callable[[], None]) -> None:
        self._undo.append((time.monotonic() + seconds, context, kind, undo))

    def _fire_one(self) -> None:
        if not self._round:
            self._round = list(FAULT_KINDS)
            self.rng.shuffle(self._round)
        kind = self._round.pop()
        context = self.rng.choice(self.contexts)
        if self._pending(context, kind):
            context = next((c for c in self.contexts if not self._pending(c, kind)), "")
            if not context:
                return
        getattr(self, f"_fire_{kind}")(context)
        self.injected[kind] += 1

    def _fire_watch_closed(self, context: str) -> None:
        self.simulator.call("close_watches", cluster=context, after_events=self.rng.randint(1, 20))
        self._later(self.rng.uniform(2.0, 6.0), context, "watch_closed",
                    lambda: self.simulator.call("close_watches", cluster=context, after_events=None))

    def _fire_watch_reset(self, context: str) -> None:
        self.simulator.call("drop_watches", cluster=context)

    def _fire_gone_on_resume(self, context: str) -> None:
        self.simulator.call("gone", cluster=context, count=self.rng.randint(1, 3))

    def _fire_compaction(self, context: str) -> None:
        self.simulator.call("compact", cluster=context)

    def _fire_list_errors(self, context: str) -> None:
        self.simulator.call("list_errors", cluster=context, rate=self.rng.uniform(0.5, 1.0))
        self.simulator.call("compact", cluster=context)
        self.simulator.call("drop_watches", cluster=context)
        self._later(self.rng.uniform(2.0, 6.0), context, "list_errors",
                    lambda: self.simulator.call("list_errors", cluster=context, rate=0.0))

    def _fire_stall(self, context: str) -> None:
        self.simulator.call("stall", cluster=context, count=self.rng.randint(2, 3), seconds=STALL_SECONDS)

    def _fire_restart(self, context: str) -> None:
        self.simulator.call("restart", cluster=context)

    def _fire_token_rotation(self, context: str) -> None:
        renewed = _new_token(context)
        self.simulator.call("rotate_token", cluster=context, token=renewed)
        self._later(self.rng.uniform(0.5, 3.0), context, "token_rotation",
                    lambda: self.tokens.write(context, renewed))


# =============================================================================================
# Observing the client


class SyncLogCounter(logging.Handler):
    """Counts what the sync engine logs: state transitions, relists, expiries and internal errors."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.entered: Counter[str] = Counter()
        self.relists = 0
        self.expiries = 0
        self.primes = 0
        self.internal_errors: list[str] = []
        self._lock_counts = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record of ``knm_tui.kube.sync``."""
        template = record.msg if isinstance(record.msg, str) else ""
        arguments = record.args if isinstance(record.args, tuple) else ()
        with self._lock_counts:
            if template.startswith('cluster "%s": %s -> %s') and len(arguments) >= 4:
                old, new, kind = str(arguments[1]), str(arguments[2]), str(arguments[3]).strip()
                self.transitions[(old, new)] += 1
                self.entered[f"{new}{' ' + kind if kind else ''}"] += 1
            elif "relisted" in template:
                self.relists += 1
            elif "expired" in template and "relisting" in template:
                self.expiries += 1
            elif template.startswith("Initialized node cache"):
                self.primes += 1
            if record.levelno >= logging.ERROR:
                self.internal_errors.append(record.getMessage())

    @property
    def recoveries(self) -> int:
        """Returns to LIVE from RECONNECTING, STALE or ERROR."""
        return sum(count for (old, new), count in self.transitions.items()
                   if new == SyncState.LIVE.value and old in ("reconnecting", "stale", "error"))


class FeedConsumer:
    """Drains the change feed like the UI does and keeps its own view of every context's nodes."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.views: dict[str, dict[str, NodeView]] = {context: {} for context in fleet.contexts}
        self.resets = 0
        self.batches = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="knm-soak-feed", daemon=True)

    def start(self) -> None:
        """Start draining every 0.2 s."""
        self._thread.start()

    def stop(self) -> None:
        """Stop draining (after one last drain)."""
        self._stop.set()
        self._thread.join(timeout=10.0)
        self.drain()

    def _run(self) -> None:
        while not self._stop.wait(FEED_DRAIN_SECONDS):
            self.drain()

    def drain(self) -> None:
        """Apply every pending batch."""
        for batch in self.fleet.feed.drain():
            self.batches += 1
            view = self.views[batch.context]
            if batch.reset:
                self.resets += 1
                view.clear()
                view.update((node.name, node) for node in self.fleet.cache(batch.context).nodes())
            view.update(batch.upserted)
            for name in batch.removed:
                view.pop(name, None)


def open_fds() -> dict[str, str]:
    """Open file descriptors of this process: number → what it refers to."""
    targets = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            targets[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed meanwhile, or the descriptor listdir itself used
            continue
    return targets


_TCP_STATES = {"01": "established", "06": "time-wait", "07": "closed", "08": "close-wait", "0A": "listen"}


def describe_sockets(targets: Sequence[str]) -> list[str]:
    """``socket:[inode]`` targets described as TCP ports and state where /proc tells them."""
    described = {}
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            state = _TCP_STATES.get(fields[3], fields[3])
            described[f"socket:[{fields[9]}]"] = f"tcp :{local_port} -> :{remote_port} {state}"
    return [described.get(target, target) for target in targets]


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass(frozen=True)
class MemorySample:
    """Memory at one moment: seconds since the faults started, RSS and tracemalloc's traced bytes."""

    at_seconds: float
    rss: int
    traced: int | None


def memory_sample(started: float, collect: bool = False) -> MemorySample:
    """Sample memory now (after a full garbage collection when ``collect``)."""
    if collect:
        gc.collect()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None
    return MemorySample(time.monotonic() - started, rss_bytes(), traced)


# =============================================================================================
# Comparing caches with servers


def server_views(objects: dict[str, dict[str, list[bytes]]]) -> dict[str, tuple[dict[str, NodeView], dict[str, LeaseView]]]:
    """Per cluster: the server's nodes and leases, projected exactly as the client projects them."""
    result = {}
    for cluster, kinds in objects.items():
        nodes = {view.name: view for view in (project_node(json.loads(raw)) for raw in kinds["nodes"])}
        leases = {lease.node_name: lease for lease in (project_lease(json.loads(raw)) for raw in kinds["leases"])}
        result[cluster] = (nodes, leases)
    return result


def compare_nodes(where: str, expected: dict[str, NodeView], actual: dict[str, NodeView]) -> list[str]:
    """One line per difference between the server's nodes and a client-side view of them."""
    diffs = [f"{where}: node {name} missing" for name in sorted(expected.keys() - actual.keys())]
    diffs += [f"{where}: ghost node {name}" for name in sorted(actual.keys() - expected.keys())]
    for name in sorted(expected.keys() & actual.keys()):
        want, got = expected[name], actual[name]
        if want.resource_version != got.resource_version:
            diffs.append(f"{where}: node {name} at resourceVersion {got.resource_version}, "
                         f"server {want.resource_version}")
        elif want != got:
            fields = [f.name for f in dataclasses.fields(NodeView) if getattr(want, f.name) != getattr(got, f.name)]
            diffs.append(f"{where}: node {name} differs in {', '.join(fields)}")
    return diffs


def compare_leases(where: str, expected: dict[str, LeaseView], actual: dict[str, LeaseView]) -> list[str]:
    """One line per difference between the server's node leases and the cache's."""
    diffs = [f"{where}: lease {name} missing" for name in sorted(expected.keys() - actual.keys())]
    diffs += [f"{where}: ghost lease {name}" for name in sorted(actual.keys() - expected.keys())]
    diffs += [f"{where}: lease {name} renewed at {actual[name].renew_time}, server {expected[name].renew_time}"
              for name in sorted(expected.keys() & actual.keys()) if expected[name] != actual[name]]
    return diffs


# =============================================================================================
# The report


@dataclass
class SoakReport:
    """Everything a soak measured; ``ok`` says whether every check passed."""

    seconds: float
    clusters: list[str]
    nodes: dict[str, int]
    events_per_second: float
    seed: int
    with_app: bool
    events: int = 0
    events_by_activity: dict[str, int] = field(default_factory=dict)
    faults_injected: dict[str, int] = field(default_factory=dict)
    faults_hit: dict[str, int] = field(default_factory=dict)  # what the servers counted
    recoveries: int = 0
    relists: int = 0
    expiries: int = 0
    states_entered: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    feed_resets: int | None = None  # resets the feed consumer applied (headless runs)
    settle_seconds: float | None = None
    settle_timeout: float = 0.0
    diffs: list[str] = field(default_factory=list)
    threads_before: int = 0
    threads_after: int = 0
    leaked_threads: list[str] = field(default_factory=list)
    fds_before: int = 0
    fds_after: int = 0
    leaked_fds: list[str] = field(default_factory=list)  # what the extra descriptors refer to
    memory_start: MemorySample | None = None
    memory_end: MemorySample | None = None
    memory_peak_rss: int = 0
    memory_samples: list[MemorySample] = field(default_factory=list)  # every few seconds during the faults
    memory_tolerance: int = 0
    problems: list[str] = field(default_factory=list)  # internal errors, injector or churn failures

    @property
    def settled(self) -> bool:
        """Whether every cache matched its server within the deadline."""
        return self.settle_seconds is not None

    @property
    def memory_growth(self) -> int | None:
        """Traced (else RSS) bytes gained between the warm-up sample and the end sample."""
        if self.memory_start is None or self.memory_end is None:
            return None
        if self.memory_start.traced is not None and self.memory_end.traced is not None:
            return self.memory_end.traced - self.memory_start.traced
        return self.memory_end.rss - self.memory_start.rss

    @property
    def memory_flat(self) -> bool:
        """Whether memory grew by no more than the tolerance after the warm-up."""
        growth = self.memory_growth
        return growth is not None and growth <= self.memory_tolerance

    @property
    def ok(self) -> bool:
        """Whether the soak passed: settled, zero diffs, nothing leaked, memory flat, no internal error."""
        return (self.settled and not self.diffs and not self.leaked_threads
                and self.fds_after <= self.fds_before and self.memory_flat and not self.problems)

    def summary(self) -> str:
        """The figures, a few lines of text."""
        def megabytes(value: int | None) -> str:
            return "n/a" if value is None else f"{value / 2**20:.1f} MB"

        sizes = "+".join(str(self.nodes[name]) for name in self.clusters)
        top = sorted(self.events_by_activity.items(), key=lambda item: -item[1])[:6]
        faults = ", ".join(f"{kind} {self.faults_injected.get(kind, 0)}" for kind in FAULT_KINDS)
        hits = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults_hit.items()) if count)
        states = ", ".join(f"{state} {count}" for state, count in sorted(self.states_entered.items()))
        resets = f", {self.feed_resets} feed resets" if self.feed_resets is not None else ""
        lines = [
            f"soak: {self.seconds:.0f} s, {len(self.clusters)} clusters ({sizes} nodes), churn "
            f"{self.events_per_second:.0f} events/s, seed {self.seed}, app: {'yes' if self.with_app else 'no'}",
            f"events: {self.events:,} churn writes ({', '.join(f'{k} {v:,}' for k, v in top)})",
            f"faults injected: {faults}",
            f"faults seen by the servers: {hits or 'none'}",
            f"recoveries: {self.recoveries} back to live, {self.relists} relists, {self.expiries} expired "
            f"resourceVersions{resets}; servers saw "
            f"{self.requests.get('list nodes', 0)} node lists, {self.requests.get('watch nodes', 0)} node watches, "
            f"{self.requests.get('HTTP 401', 0)} 401s",
            f"states entered: {states or 'none'}",
            f"settled: {'in %.1f s' % self.settle_seconds if self.settled else 'NO'} "
            f"(deadline {self.settle_timeout:.0f} s)",
            f"diffs: {len(self.diffs)}",
            *(f"  {diff}" for diff in self.diffs[:MAX_DIFFS_SHOWN]),
            f"threads: {self.threads_before} before, {self.threads_after} after"
            + (f" (leaked: {', '.join(self.leaked_threads)})" if self.leaked_threads else ""),
            f"file descriptors: {self.fds_before} before, {self.fds_after} after"
            + (f" (new: {', '.join(self.leaked_fds)})" if self.leaked_fds else ""),
        ]
        start, end = self.memory_start, self.memory_end
        if start is not None and end is not None:
            lines.append(
                f"memory: RSS {megabytes(start.rss)} at {start.at_seconds:.0f} s -> {megabytes(end.rss)} at "
                f"{end.at_seconds:.0f} s (peak {megabytes(self.memory_peak_rss)}); traced "
                f"{megabytes(start.traced)} -> {megabytes(end.traced)}; growth {megabytes(self.memory_growth)} "
                f"(allowed {megabytes(self.memory_tolerance)})")
        if len(self.memory_samples) >= 4:
            quarters = [self.memory_samples[len(self.memory_samples) * share // 4 - 1] for share in (1, 2, 3, 4)]
            lines.append("RSS over time: " + ", ".join(f"{megabytes(sample.rss)} at {sample.at_seconds:.0f} s"
                                                      for sample in quarters))
        lines += [f"problem: {problem}" for problem in self.problems]
        lines.append(f"result: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


# =============================================================================================
# The run


class _Soak:
    """One soak run (see :func:`run_soak`)."""

    def __init__(self, seconds: float, clusters: int, events_per_second: float, seed: int, with_app: bool,
                 settle_timeout: float, fault_interval: float, trace_memory: bool, memory_tolerance: int,
                 progress: Callable[[str], None]) -> None:
        if not 1 <= clusters <= len(CLUSTER_NAMES):
            raise ValueError(f"clusters must be between 1 and {len(CLUSTER_NAMES)}")
        self.seconds = seconds
        self.contexts = list(CLUSTER_NAMES[:clusters])
        self.events_per_second = events_per_second
        self.seed = seed
        self.with_app = with_app
        self.settle_timeout = settle_timeout
        self.fault_interval = fault_interval
        self.trace_memory = trace_memory
        self.progress = progress
        self.rng = random.Random(seed)
        self.report = SoakReport(seconds=seconds, clusters=self.contexts,
                                 nodes=dict(zip(self.contexts, NODES_PER_CLUSTER)),
                                 events_per_second=events_per_second, seed=seed, with_app=with_app,
                                 settle_timeout=settle_timeout, memory_tolerance=memory_tolerance)
        self.log_counter = SyncLogCounter()
        self._faults_started = 0.0
        self._settle_started = 0.0
        self._last_sample = 0.0

    # ------------------------------------------------------------------ whole run
    def run(self) -> SoakReport:
        """Start everything, soak, check, stop everything; returns the filled report."""
        directory = Path(tempfile.mkdtemp(prefix="knm-soak-"))
        per_cluster = self.events_per_second / len(self.contexts)
        plan = {"clock_speed": CLOCK_SPEED, "clusters": []}
        tokens = TokenFiles(directory, self.contexts)
        for index, name in enumerate(self.contexts):
            plan["clusters"].append({"name": name, "nodes": self.report.nodes[name], "seed": self.seed * 100 + index,
                                     "events_per_second": per_cluster, "token": tokens.tokens[name]})
        sync_logger = logging.getLogger("knm_tui.kube.sync")
        old_level = sync_logger.level
        sync_logger.addHandler(self.log_counter)
        sync_logger.setLevel(logging.INFO)
        simulator: SimulatorProcess | None = None
        try:
            self.progress(f"starting {len(self.contexts)} simulated clusters")
            simulator = SimulatorProcess(plan)
            kubeconfig_path = write_kubeconfig(directory / "kubeconfig", simulator.urls, tokens)
            gc.collect()
            threads_before = {thread.ident: thread.name for thread in threading.enumerate()}
            self.report.threads_before = len(threads_before)
            fds_before = open_fds()
            self.report.fds_before = len(fds_before)
            if self.trace_memory:
                tracemalloc.start()
            fleet = Fleet(load_kubeconfig(str(kubeconfig_path)), (), settings=SOAK_SETTINGS)
            injector = FaultInjector(simulator, self.contexts, tokens, self.rng, self.fault_interval,
                                     on_tick=self._sample_memory)
            try:
                if self.with_app:
                    asyncio.run(self._with_app(fleet, simulator, injector))
                else:
                    self._headless(fleet, simulator, injector)
            finally:
                fleet.stop(timeout=10.0)
                injector.finish()
            self._check_baseline(threads_before, fds_before)
            self.report.faults_injected = dict(injector.injected)
            self.report.problems += [f"fault injector: {error}" for error in injector.errors]
            self._collect_counts(simulator)
        finally:
            if tracemalloc.is_tracing():
                tracemalloc.stop()
            sync_logger.removeHandler(self.log_counter)
            sync_logger.setLevel(old_level)
            if simulator is not None:
                simulator.stop()
            shutil.rmtree(directory, ignore_errors=True)
        return self.report

    # ------------------------------------------------------------------ the two variants
    def _headless(self, fleet: Fleet, simulator: SimulatorProcess, injector: FaultInjector) -> None:
        consumer = FeedConsumer(fleet)
        fleet.start()
        consumer.start()
        try:
            self._wait_primed(fleet, time.sleep)
            self._start_faults(injector)
            self._sleep_until(self._faults_started + self._warm_up_seconds(), time.sleep)
            self.report.memory_start = memory_sample(self._faults_started, collect=True)
            self._sleep_until(self._faults_started + self.seconds, time.sleep)
            self.report.memory_end = memory_sample(self._faults_started, collect=True)
            self._stop_faults(simulator, injector)
            expected = self._settle(fleet, simulator, lambda: self._consumer_equal(fleet, consumer), time.sleep)
        finally:
            consumer.stop()
        self.report.feed_resets = consumer.resets
        self._compare(fleet, expected)
        for context in fleet.contexts:
            self.report.diffs += compare_nodes(f"{context} feed view", expected[context][0], consumer.views[context])

    async def _with_app(self, fleet: Fleet, simulator: SimulatorProcess, injector: FaultInjector) -> None:
        from knm_tui.app import KnmApp

        app = KnmApp(fleet, read_only=True, stop_timeout=10.0)
        async with app.run_test(size=(160, 45)) as pilot:
            async def pause(seconds: float) -> None:
                await pilot.pause(seconds)

            await pilot.press("0")  # the all-clusters view: every node of every cluster in one table
            await self._wait_primed_async(fleet, pause)
            self._start_faults(injector)
            await self._sleep_until_async(self._faults_started + self._warm_up_seconds(), pause)
            self.report.memory_start = memory_sample(self._faults_started, collect=True)
            await self._sleep_until_async(self._faults_started + self.seconds, pause)
            self.report.memory_end = memory_sample(self._faults_started, collect=True)
            await asyncio.to_thread(self._stop_faults, simulator, injector)
            expected = await self._settle_async(fleet, simulator, app, pause)
            self._compare(fleet, expected)
            self._compare_app(app, fleet, expected)
            await pilot.press("q")

    # ------------------------------------------------------------------ phases
    def _warm_up_seconds(self) -> float:
        return min(60.0, max(5.0, self.seconds * 0.2))

    def _primed(self, fleet: Fleet) -> bool:
        return all(fleet.status(context).state is SyncState.LIVE for context in fleet.contexts)

    def _wait_primed(self, fleet: Fleet, sleep: Callable[[float], None]) -> None:
        deadline = time.monotonic() + PRIME_TIMEOUT_SECONDS
        while not self._primed(fleet):
            if time.monotonic() > deadline:
                raise RuntimeError("the clusters did not go live at the start of the soak")
            sleep(0.1)

    async def _wait_primed_async(self, fleet: Fleet, pause: Callable[[float], Any]) -> None:
        deadline = time.monotonic() + PRIME_TIMEOUT_SECONDS
        while not self._primed(fleet):
            if time.monotonic() > deadline:
                raise RuntimeError("the clusters did not go live at the start of the soak")
            await pause(0.1)

    def _start_faults(self, injector: FaultInjector) -> None:
        self.progress(f"clusters live; churn and faults for {self.seconds:.0f} s")
        self._faults_started = self._last_sample = time.monotonic()
        injector.start()

    @staticmethod
    def _sleep_until(moment: float, sleep: Callable[[float], None]) -> None:
        while (left := moment - time.monotonic()) > 0:
            sleep(min(left, 1.0))

    @staticmethod
    async def _sleep_until_async(moment: float, pause: Callable[[float], Any]) -> None:
        while (left := moment - time.monotonic()) > 0:
            await pause(min(left, 0.5))

    def _sample_memory(self) -> None:
        """Called by the injector thread: a memory sample every few seconds (for the peak)."""
        now = time.monotonic()
        if now - self._last_sample >= MEMORY_SAMPLE_SECONDS:
            self._last_sample = now
            sample = memory_sample(self._faults_started)
            self.report.memory_samples.append(sample)
            self.report.memory_peak_rss = max(self.report.memory_peak_rss, sample.rss)

    def _stop_faults(self, simulator: SimulatorProcess, injector: FaultInjector) -> None:
        self.progress("stopping churn and faults; waiting for the caches to settle")
        injector.finish()
        simulator.call("clear_faults")
        simulator.call("stop_churn")
        self._settle_started = time.monotonic()

    def _caches_match(self, fleet: Fleet, versions: dict[str, dict[str, dict[str, str]]]) -> bool:
        for context in fleet.contexts:
            status = fleet.status(context)
            cache = fleet.cache(context)
            if status.state is not SyncState.LIVE:
                return False
            nodes = {view.name: view.resource_version for view in cache.nodes()}
            if nodes != versions[context]["nodes"] or cache.leases().keys() != versions[context]["leases"].keys():
                return False
        return True

    def _settle(self, fleet: Fleet, simulator: SimulatorProcess, consumer_equal: Callable[[], bool],
                sleep: Callable[[float], None]) -> dict[str, tuple[dict[str, NodeView], dict[str, LeaseView]]]:
        versions = simulator.call("versions")
        deadline = self._settle_started + self.settle_timeout
        while time.monotonic() < deadline:
            if self._caches_match(fleet, versions):
                expected = server_views(simulator.call("objects"))
                if self._exact(fleet, expected) and consumer_equal():
                    self.report.settle_seconds = time.monotonic() - self._settle_started
                    return expected
            sleep(SETTLE_POLL_SECONDS)
        return server_views(simulator.call("objects"))

    async def _settle_async(self, fleet: Fleet, simulator: SimulatorProcess, app: Any,
                            pause: Callable[[float], Any]) -> dict[str, tuple[dict[str, NodeView], dict[str, LeaseView]]]:
        versions = await asyncio.to_thread(simulator.call, "versions")
        deadline = self._settle_started + self.settle_timeout
        while time.monotonic() < deadline:
            if self._caches_match(fleet, versions):
                expected = server_views(await asyncio.to_thread(simulator.call, "objects"))
                if self._exact(fleet, expected) and not self._app_diffs(app, fleet, expected):
                    self.report.settle_seconds = time.monotonic() - self._settle_started
                    return expected
            await pause(SETTLE_POLL_SECONDS)
        return server_views(await asyncio.to_thread(simulator.call, "objects"))

    def _exact(self, fleet: Fleet, expected: dict[str, tuple[dict[str, NodeView], dict[str, LeaseView]]]) -> bool:
        for context in fleet.contexts:
            nodes, leases = expected[context]
            cache = fleet.cache(context)
            if {view.name: view for view in cache.nodes()} != nodes or cache.leases() != leases:
                return False
        return True

    @staticmethod
    def _consumer_equal(fleet: Fleet, consumer: FeedConsumer) -> bool:
        consumer.drain()
        return all(consumer.views[context] == {view.name: view for view in fleet.cache(context).nodes()}
                   for context in fleet.contexts)

    # ------------------------------------------------------------------ checks
    def _compare(self, fleet: Fleet, expected: dict[str, tuple[dict[str, NodeView], dict[str, LeaseView]]]) -> None:
        for context in fleet.contexts:
            nodes, leases = expected[context]
            cache = fleet.cache(context)
            views = cache.nodes()
            cached = {view.name: view for view in views}
            if len(views) != len(cached):
                self.report.diffs.append(f"{context} cache: {len(views) - len(cached)} duplicate nodes")
            self.report.diffs += compare_nodes(f"{context} cache", nodes, cached)
            self.report.diffs += compare_leases(f"{context} cache", leases, cache.leases())
            status = fleet.status(context)
            ready = sum(1 for view in nodes.values() if view.ready == "True")
            if (status.node_count, status.ready_count) != (len(nodes), ready):
                self.report.diffs.append(f"{context} status: {status.node_count} nodes, {status.ready_count} "
                                         f"ready; server {len(nodes)} nodes, {ready} ready")
            if status.state is not SyncState.LIVE or not status.synced:
                self.report.diffs.append(f"{context} status: {status.state.value}, not live ({status.message})")

    def _app_diffs(self, app: Any, fleet: Fleet,
                   expected: dict[str, tuple[dict[str, NodeView], dict[str, LeaseView]]]) -> list[str]:
        diffs: list[str] = []
        for context in fleet.contexts:
            diffs += compare_nodes(f"{context} app model", expected[context][0], app.model.cluster(context).views)
        keys = list(app.table.visible_keys)
        total = sum(len(nodes) for nodes, _ in expected.values())
        if len(keys) != len(set(keys)):
            diffs.append(f"app table: {len(keys) - len(set(keys))} duplicate rows")
        if app.table.total_row_count != total or len(keys) != total:
            diffs.append(f"app table: {app.table.total_row_count} rows held, {len(keys)} shown; "
                         f"servers have {total} nodes")
        wanted = {f"{context}/{name}" for context, (nodes, _) in expected.items() for name in nodes}
        if set(keys) != wanted:
            diffs.append(f"app table: {len(set(keys) - wanted)} ghost rows, {len(wanted - set(keys))} missing rows")
        return diffs

    def _compare_app(self, app: Any, fleet: Fleet,
                     expected: dict[str, tuple[dict[str, NodeView], dict[str, LeaseView]]]) -> None:
        self.report.diffs += self._app_diffs(app, fleet, expected)

    def _check_baseline(self, threads_before: dict[int | None, str], fds_before: dict[str, str]) -> None:
        deadline = time.monotonic() + BASELINE_TIMEOUT_SECONDS
        while True:
            gc.collect()
            extra = [thread.name for thread in threading.enumerate()
                     if thread.ident not in threads_before and thread.is_alive()]
            fds = open_fds()
            if (not extra and len(fds) <= len(fds_before)) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.report.threads_after = threading.active_count()
        self.report.leaked_threads = extra
        self.report.fds_after = len(fds)
        self.report.leaked_fds = describe_sockets(
            sorted(target for number, target in fds.items() if fds_before.get(number) != target))

    def _collect_counts(self, simulator: SimulatorProcess) -> None:
        churn = simulator.call("churn")
        activities: Counter[str] = Counter()
        for cluster in churn.values():
            self.report.events += cluster["events"]
            activities.update(cluster["counts"])
            if cluster["errors"]:
                self.report.problems.append(f"churn: {cluster['errors']} failed ticks")
        self.report.events_by_activity = dict(activities)
        hits: Counter[str] = Counter()
        for counts in simulator.call("fault_counts").values():
            hits.update(counts)
        self.report.faults_hit = dict(hits)
        requests: Counter[str] = Counter()
        for tally in simulator.call("requests").values():
            requests.update(tally)
        self.report.requests = dict(requests)
        self.report.recoveries = self.log_counter.recoveries
        self.report.relists = self.log_counter.relists
        self.report.expiries = self.log_counter.expiries
        self.report.states_entered = dict(self.log_counter.entered)
        self.report.problems += [f"sync engine error: {message}" for message in self.log_counter.internal_errors]


def run_soak(
    seconds: float,
    clusters: int = 3,
    events_per_second: float = DEFAULT_EVENTS_PER_SECOND,
    seed: int = 1,
    with_app: bool = False,
    *,
    settle_timeout: float = 60.0,
    fault_interval: float = 1.5,
    trace_memory: bool = True,
    memory_tolerance_mb: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> SoakReport:
    """Run one soak: churn and faults for ``seconds`` (after the clusters prime), then the checks.

    ``events_per_second`` is the churn target summed over the ``clusters`` simulated clusters;
    ``fault_interval`` the mean gap between faults; ``settle_timeout`` how long the caches get to
    match their servers once churn and faults stop. Memory is traced with tracemalloc when
    ``trace_memory`` (else RSS is compared); growth after the warm-up must stay within
    ``memory_tolerance_mb`` (default 4 MB traced, 32 MB of RSS). ``progress`` receives a line
    at each phase.
    """
    if memory_tolerance_mb is None:
        memory_tolerance_mb = TRACED_TOLERANCE_MB if trace_memory else RSS_TOLERANCE_MB
    soak = _Soak(seconds, clusters, events_per_second, seed, with_app, settle_timeout, fault_interval,
                 trace_memory, int(memory_tolerance_mb * 2**20), progress or (lambda line: None))
    return soak.run()


def build_parser() -> argparse.ArgumentParser:
    """The soak's command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak",
                                     description="Soak the sync engine: churn and random faults, then exact checks.")
    duration = parser.add_mutually_exclusive_group()
    duration.add_argument("--minutes", type=float, help="how long churn and faults run (default: 1 minute)")
    duration.add_argument("--seconds", type=float, help="the same, in seconds")
    parser.add_argument("--clusters", type=int, default=3, help="simulated clusters (default 3)")
    parser.add_argument("--events-per-second", type=float, default=DEFAULT_EVENTS_PER_SECOND,
                        help=f"churn summed over the clusters (default {DEFAULT_EVENTS_PER_SECOND:.0f})")
    parser.add_argument("--seed", type=int, default=1, help="random seed of faults and churn (default 1)")
    parser.add_argument("--with-app", action="store_true", help="also run the headless dashboard")
    parser.add_argument("--fault-interval", type=float, default=1.5, help="mean seconds between faults (default 1.5)")
    parser.add_argument("--settle-timeout", type=float, default=60.0, help="seconds the caches get to settle")
    parser.add_argument("--no-tracemalloc", action="store_true", help="compare RSS instead of traced memory")
    parser.add_argument("--log-file", metavar="PATH", help="write the client's log here (default: nowhere)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a soak from the command line; prints the figures, returns 0 when every check passed."""
    args = build_parser().parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (args.minutes if args.minutes is not None else 1.0) * 60
    root = logging.getLogger()
    handler: logging.Handler = (logging.FileHandler(args.log_file, encoding="utf-8") if args.log_file
                                else logging.NullHandler())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        report = run_soak(seconds, clusters=args.clusters, events_per_second=args.events_per_second,
                          seed=args.seed, with_app=args.with_app, settle_timeout=args.settle_timeout,
                          fault_interval=args.fault_interval, trace_memory=not args.no_tracemalloc,
                          progress=lambda line: print(f"soak: {line}", file=sys.stderr, flush=True))
    finally:
        root.removeHandler(handler)
        handler.close()
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
