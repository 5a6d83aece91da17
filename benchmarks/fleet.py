"""fleet-20: twenty contexts primed at once by one ``Fleet`` vs one after another.

A simulator process serves 19 clusters: 18 healthy ones and one slow one whose every request
waits ``fleet_slow_latency`` seconds (first in kubeconfig order); a twentieth context points at a
closed port (dead, last in order). A ``Fleet`` over all twenty (node leases watched, as the app
does) is started and a recording feed notes when each context first turns LIVE or ERROR.

- time until the last of the 18 healthy clusters is LIVE, concurrently, against the sum of the
  same times when each context is primed by a ``Fleet`` of its own, one after another in
  kubeconfig order (stopping each one is not counted);
- the healthy clusters must not wait for the slow one: the last healthy one must be LIVE before
  the slow one is;
- time until the dead context shows ERROR (within the 5 s connect timeout).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from benchmarks.harness import Bench, Budget, Check, Figure, SimProcess
from knm_tui.kube.cache import ChangeFeed, ClusterStatus, SyncState

SCENARIO = "fleet-20"
HEALTHY = [f"healthy-{index:02d}" for index in range(1, 19)]
SLOW = "slow"
DEAD = "dead"
TIMEOUT = 120.0
CONNECT_TIMEOUT_BUDGET = 5.0


class RecordingFeed(ChangeFeed):
    """A change feed that notes when each context first reaches LIVE and ERROR."""

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.live_at: dict[str, float] = {}
        self.error_at: dict[str, float] = {}
        self.changed = threading.Condition()

    def publish_status(self, context: str, status: ClusterStatus) -> None:
        """Record the status and the first LIVE/ERROR moments."""
        super().publish_status(context, status)
        moment = time.perf_counter() - self.started
        with self.changed:
            if status.state == SyncState.LIVE:
                self.live_at.setdefault(context, moment)
            elif status.state == SyncState.ERROR:
                self.error_at.setdefault(context, moment)
            self.changed.notify_all()

    def wait_for(self, live: list[str], error: list[str], timeout: float = TIMEOUT) -> None:
        """Wait until every context in ``live`` is LIVE and every one in ``error`` is ERROR."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (all(name in self.live_at for name in live) and all(name in self.error_at for name in error)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"fleet did not settle: live {sorted(self.live_at)}, error {sorted(self.error_at)}")
                self.changed.wait(remaining)


def concurrent_run(kubeconfig_path: Path) -> RecordingFeed:
    """One Fleet over every context; returns its recording feed once all have settled."""
    from knm_tui.kube.config import load_kubeconfig
    from knm_tui.kube.sync import Fleet

    kubeconfig = load_kubeconfig(str(kubeconfig_path))
    feed = RecordingFeed(time.perf_counter())
    fleet = Fleet(kubeconfig, [], feed)
    feed.started = time.perf_counter()
    fleet.start()
    try:
        feed.wait_for(HEALTHY + [SLOW], [DEAD])
    finally:
        fleet.stop()
    return feed


def sequential_seconds(kubeconfig_path: Path) -> float:
    """Prime each context with a Fleet of its own, in kubeconfig order; seconds until the last
    healthy one is LIVE (each context's time to LIVE, or ERROR for the dead one, summed)."""
    from knm_tui.kube.config import load_kubeconfig
    from knm_tui.kube.sync import Fleet

    kubeconfig = load_kubeconfig(str(kubeconfig_path))
    elapsed = 0.0
    last_healthy_live = 0.0
    for context in kubeconfig.context_names:
        feed = RecordingFeed(time.perf_counter())
        fleet = Fleet(kubeconfig, [context], feed)
        feed.started = time.perf_counter()
        fleet.start()
        try:
            if context == DEAD:
                feed.wait_for([], [DEAD])
                elapsed += feed.error_at[DEAD]
            else:
                feed.wait_for([context], [])
                elapsed += feed.live_at[context]
        finally:
            fleet.stop()
        if context in HEALTHY:
            last_healthy_live = elapsed
    return last_healthy_live


def run(bench: Bench) -> list[Check]:
    """The fleet-20 lines."""
    sizes = bench.sizes
    clusters = [{"name": SLOW, "nodes": sizes.fleet_cluster_nodes, "seed": 100,
                 "latency_seconds": sizes.fleet_slow_latency}]
    clusters += [{"name": name, "nodes": sizes.fleet_cluster_nodes, "seed": 100 + index}
                 for index, name in enumerate(HEALTHY, start=1)]
    started = time.monotonic()
    sim = SimProcess({"clusters": clusters, "unreachable": [DEAD]}, bench.directory, "fleet")
    bench.log(f"fleet simulator: 19 clusters of {sizes.fleet_cluster_nodes} nodes, ready in "
              f"{time.monotonic() - started:.1f} s")
    try:
        concurrent_run(sim.kubeconfig)  # warm-up: imports and the simulator's first pages
        last_live, dead_error, slow_live, sequential = [], [], [], []
        for run_index in range(sizes.fleet_runs):
            feed = concurrent_run(sim.kubeconfig)
            last_live.append(max(feed.live_at[name] for name in HEALTHY))
            dead_error.append(feed.error_at[DEAD])
            slow_live.append(feed.live_at[SLOW])
            if run_index < sizes.runs_expensive:
                sequential.append(sequential_seconds(sim.kubeconfig))
    finally:
        sim.stop()
    latency = sizes.fleet_slow_latency
    healthy = f"{len(HEALTHY)} healthy × {sizes.fleet_cluster_nodes} nodes"
    last_live_figure = Figure("knm-tui", "s", last_live)
    return [
        Check(SCENARIO, f"last healthy LIVE ({healthy}, 1 slow, 1 dead)", last_live_figure,
              Figure("one after another", "s", sequential), Budget("ratio_below", 1.0, "faster than sequential")),
        Check(SCENARIO, f"last healthy LIVE vs the slow cluster ({latency:g} s per request)", last_live_figure,
              Figure("slow cluster LIVE", "s", slow_live), Budget("ratio_below", 1.0, "before the slow one")),
        Check(SCENARIO, "dead context shows ERROR", Figure("knm-tui", "s", dead_error),
              budget=Budget("max", CONNECT_TIMEOUT_BUDGET, "≤ 5 s (connect timeout)")),
    ]
