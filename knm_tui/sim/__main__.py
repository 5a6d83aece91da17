"""``python -m knm_tui.sim``: serve simulated clusters until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from knm_tui.sim.clock import SimClock
from knm_tui.sim.simulator import ClusterSpec, Simulator
from knm_tui.sim.tls import TLSSetupError


class _OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser that reports a bad command line in one line (no usage block) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``error: <message>`` on one line and exit with status 2."""
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line of the standalone simulator."""
    parser = _OneLineErrorParser(prog="python -m knm_tui.sim",
                                 description="Serve simulated Kubernetes clusters on 127.0.0.1.")
    parser.add_argument("--clusters", type=int, default=None,
                        help="how many generated clusters (default 1, or 0 with --nodes-from)")
    parser.add_argument("--nodes", type=int, default=50, help="nodes per generated cluster (default 50)")
    parser.add_argument("--pods-per-node", type=int, default=10, help="pods per node (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated worlds (default 0)")
    parser.add_argument("--nodes-from", action="append", default=[], metavar="FILE",
                        help="serve the nodes in this dump as one cluster named after the file (repeatable)")
    parser.add_argument("--churn", type=float, default=0.0, metavar="EVENTS_PER_S",
                        help="living-cluster churn rate per cluster (default 0: still)")
    parser.add_argument("--clock-speed", type=float, default=1.0,
                        help="simulated seconds per real second (default 1)")
    parser.add_argument("--history", type=int, default=10_000, help="watch events kept per cluster")
    parser.add_argument("--token", help="require this bearer token (kubectl sends it only with --tls)")
    parser.add_argument("--tls", action="store_true", help="serve https with a certificate the kubeconfig trusts")
    parser.add_argument("--fault-close-watch-after", type=int, metavar="N", help="close every watch after N events")
    parser.add_argument("--fault-error-rate", type=float, default=0.0, metavar="SHARE",
                        help="fail this share of requests with 500/503")
    parser.add_argument("--fault-latency", type=float, default=0.0, metavar="SECONDS",
                        help="add this latency to every request")
    parser.add_argument("--kubeconfig", required=True, metavar="OUT", help="where to write the kubeconfig")
    return parser


def specs_from_args(args: argparse.Namespace) -> list[ClusterSpec]:
    """Cluster specs for the parsed arguments."""
    specs: list[ClusterSpec] = []
    for path in args.nodes_from:
        name = os.path.splitext(os.path.basename(path))[0]
        specs.append(ClusterSpec(name=name, nodes_from=path, history_limit=args.history, seed=args.seed))
    generated = args.clusters if args.clusters is not None else (0 if args.nodes_from else 1)
    if generated:
        from knm_tui.sim.world import WorldSpec
    for index in range(generated):
        name = f"sim-{index + 1}"
        world = WorldSpec(name=name, nodes=args.nodes, pods_per_node=args.pods_per_node, seed=args.seed + index)
        specs.append(ClusterSpec(name=name, world=world, churn_events_per_second=args.churn,
                                 history_limit=args.history, seed=args.seed + index))
    return specs


def main(argv: list[str] | None = None) -> int:
    """Run the simulator; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if (args.clusters or 0) < 0 or args.nodes < 0 or args.pods_per_node < 0:
        print("error: --clusters, --nodes and --pods-per-node must not be negative", file=sys.stderr)
        return 2
    if args.clock_speed <= 0:
        print("error: --clock-speed must be positive", file=sys.stderr)
        return 2
    for path in args.nodes_from:
        if not os.path.isfile(path):
            print(f"error: --nodes-from {path}: no such file", file=sys.stderr)
            return 2
    specs = specs_from_args(args)
    if not specs:
        print("error: nothing to serve: give --clusters 1 or more, or --nodes-from FILE", file=sys.stderr)
        return 2
    try:
        simulator = Simulator(specs, tls=args.tls, token=args.token,
                              clock=SimClock(speed=args.clock_speed))
        simulator.start()
    except (TLSSetupError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for cluster in simulator.clusters.values():
            cluster.faults.close_watch_after_events = args.fault_close_watch_after
            cluster.faults.error_rate = args.fault_error_rate
            cluster.faults.latency_seconds = args.fault_latency
            cluster.faults.log_requests = False
        simulator.write_kubeconfig(args.kubeconfig)
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        urls = ", ".join(f"{name}={simulator.url(name)}" for name in simulator.clusters)
        print(f"knm-sim ready: {len(simulator.clusters)} cluster(s) ({urls}); kubeconfig {args.kubeconfig}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
