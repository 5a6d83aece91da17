"""The benchmarks' simulator process: ``python -m benchmarks.simserver SPEC_JSON``.

Serves the clusters described by a JSON spec from a process of its own, so the simulator's CPU
never counts against the client being measured (one core each on a 2-core machine). Unlike
``python -m knm_tui.sim`` it takes per-cluster sizes, image counts and latency, and contexts
whose server is unreachable. The spec::

    {"kubeconfig": "/tmp/x/kubeconfig",
     "clusters": [{"name": "big", "nodes": 5000, "pods_per_node": 30, "seed": 1,
                   "images_per_node": [10, 50], "latency_seconds": 0.0}],
     "unreachable": ["dead"]}

When every cluster is serving it prints one line, ``ready {"name": url, ...}``, and then runs
until its standard input closes (the parent ended) or it gets SIGTERM/SIGINT.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

from knm_tui.sim.simulator import ClusterSpec, Simulator
from knm_tui.sim.world import WorldSpec

READY_PREFIX = "ready "


def cluster_spec(entry: dict[str, Any]) -> ClusterSpec:
    """A simulator ``ClusterSpec`` from one cluster entry of the spec."""
    world = WorldSpec(
        name=entry["name"],
        nodes=int(entry.get("nodes", 50)),
        pods_per_node=int(entry.get("pods_per_node", 0)),
        seed=int(entry.get("seed", 0)),
        images_per_node=tuple(entry.get("images_per_node", (10, 50))),
    )
    return ClusterSpec(name=entry["name"], world=world, seed=int(entry.get("seed", 0)),
                       churn_events_per_second=float(entry.get("churn", 0.0)))


def serve(spec: dict[str, Any]) -> int:
    """Start the simulator for ``spec``, print the ready line and serve until told to stop."""
    clusters = spec.get("clusters", [])
    simulator = Simulator([cluster_spec(entry) for entry in clusters],
                          unreachable_contexts=tuple(spec.get("unreachable", ())))
    simulator.start()
    try:
        for entry in clusters:
            faults = simulator.cluster(entry["name"]).faults
            faults.log_requests = False  # the request log would grow for the whole run
            faults.latency_seconds = float(entry.get("latency_seconds", 0.0))
        simulator.write_kubeconfig(spec["kubeconfig"])
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        threading.Thread(target=_stop_at_end_of_input, args=(stop,), daemon=True).start()
        names = [entry["name"] for entry in clusters] + list(spec.get("unreachable", ()))
        print(READY_PREFIX + json.dumps({name: simulator.url(name) for name in names}), flush=True)
        stop.wait()
    finally:
        simulator.stop()
    return 0


def _stop_at_end_of_input(stop: threading.Event) -> None:
    """Set ``stop`` once standard input reaches end of file (the parent closed it or died)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        stop.set()


def main(argv: list[str]) -> int:
    """Entry point: ``argv`` holds one JSON spec."""
    if len(argv) != 1:
        print("usage: python -m benchmarks.simserver SPEC_JSON", file=sys.stderr)
        return 2
    return serve(json.loads(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
