"""pods-150k: pod counts per node for the big cluster (30 pods on each of 5,000 nodes).

knm-tui's ``count_pods`` runs in a child process (``python -m benchmarks.pods KUBECONFIG
CONTEXT``) through the same ``ApiClient`` set-up the sync uses; the child reports the seconds the
count took and its resident memory after every page, and the parent takes the child's peak RSS
from ``wait4``. ``kubectl get pods -A -o wide`` (stdout to /dev/null, private HOME) is measured
the same way, wall time and peak RSS. kubectl asks the simulator for server-side Table rows, so
its figure includes the simulator building them (on the simulator's own core).

Flat memory: the child samples its RSS after every page; the growth between the page at 10 % of
the count and the last page must stay under 32 MiB (a count that kept the pods would grow by
gigabytes).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from benchmarks.harness import Bench, Budget, Check, Figure, kubectl_env, python_child, run_measured

SCENARIO = "pods-150k"
FLAT_GROWTH_BUDGET_MIB = 32


def current_rss_mib() -> float:
    """This process's resident memory now, in MiB (from /proc/self/statm)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def count_in_child(kubeconfig_path: Path, context: str) -> dict:
    """Count pods once (after a one-pod warm-up request) and describe the run."""
    from knm_tui.kube.config import load_kubeconfig, make_api_client
    from knm_tui.kube.pods import PODS_PATH, count_pods
    from knm_tui.kube.sync import configure_retries, open_raw, read_body

    api_client = configure_retries(make_api_client(load_kubeconfig(str(kubeconfig_path)), context))
    read_body(open_raw(api_client, PODS_PATH, [("limit", "1")], (5.0, 30.0)))
    rss_samples: list[float] = []

    def progress(counted: int) -> None:
        rss_samples.append(current_rss_mib())

    rss_before = current_rss_mib()
    started = time.perf_counter()
    counts = count_pods(api_client, context=context, progress=progress)
    seconds = time.perf_counter() - started
    settled_from = rss_samples[len(rss_samples) // 10] if rss_samples else rss_before
    return {"seconds": seconds, "total": counts.total, "nodes": len(counts.per_node), "pages": counts.pages,
            "rss_before_mib": rss_before, "rss_max_sampled_mib": max(rss_samples, default=rss_before),
            "growth_after_first_tenth_mib": max(rss_samples, default=rss_before) - settled_from}


def run(bench: Bench) -> list[Check]:
    """The pods-150k lines."""
    sizes = bench.sizes
    sim = bench.big
    context = Bench.BIG_CLUSTER
    knm_seconds, knm_rss, growth = [], [], []
    kubectl_seconds, kubectl_rss = [], []
    total = nodes = 0
    if bench.kubectl:  # warm kubectl's discovery cache, as a user's would be
        run_measured([bench.kubectl, "--kubeconfig", str(sim.kubeconfig), "get", "namespaces"],
                     env=kubectl_env(bench.kubectl_home()), capture=False)
    for _ in range(sizes.runs_expensive):
        child = run_measured(python_child("benchmarks.pods", str(sim.kubeconfig), context), timeout=900)
        if child.returncode != 0:
            raise RuntimeError(f"the pod count failed: {child.stderr.strip()[-2000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        knm_seconds.append(result["seconds"])
        knm_rss.append(child.peak_rss_mib)
        growth.append(result["growth_after_first_tenth_mib"])
        total, nodes = result["total"], result["nodes"]
        if bench.kubectl:
            kubectl = run_measured([bench.kubectl, "--kubeconfig", str(sim.kubeconfig), "get", "pods", "-A",
                                    "-o", "wide"], env=kubectl_env(bench.kubectl_home()), capture=False,
                                   timeout=900)
            if kubectl.returncode != 0:
                raise RuntimeError(f"kubectl get pods failed: {kubectl.stderr.strip()[-500:]}")
            kubectl_seconds.append(kubectl.seconds)
            kubectl_rss.append(kubectl.peak_rss_mib)
    metric = f"count {total:,} pods on {nodes:,} nodes"
    skipped = "" if bench.kubectl else "kubectl not installed: skipped"
    kubectl_time = Figure("kubectl get pods -A -o wide", "s", kubectl_seconds) if bench.kubectl else None
    kubectl_memory = Figure("kubectl peak RSS", "MiB", kubectl_rss) if bench.kubectl else None
    return [
        Check(SCENARIO, metric, Figure("knm-tui", "s", knm_seconds), kubectl_time,
              Budget("ratio_max", 1.0, "no slower than kubectl"), skipped_comparison=skipped),
        Check(SCENARIO, "peak RSS of the process", Figure("knm-tui", "MiB", knm_rss), kubectl_memory,
              skipped_comparison=skipped),
        Check(SCENARIO, "RSS growth after the first 10 % of pages", Figure("knm-tui", "MiB", growth),
              budget=Budget("max", FLAT_GROWTH_BUDGET_MIB, f"flat: ≤ {FLAT_GROWTH_BUDGET_MIB} MiB")),
    ]


def main(argv: list[str]) -> int:
    """Child entry point: ``KUBECONFIG CONTEXT``; prints one JSON line."""
    kubeconfig, context = argv
    print(json.dumps(count_in_child(Path(kubeconfig), context)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
