"""prime-5k and memory-5k: LIST + cache of the big cluster's nodes, in time and in bytes.

prime-5k compares, on the same simulator in the same run (runs interleaved):

- knm-tui: a ``Fleet`` with the one context, from construction until the cache is complete
  (the status turns ``synced``; node leases not watched);
- the floor: the same pages (``limit=500``) fetched with a bare urllib3 pool and ``json.loads``;
- ``kubectl get nodes -o json`` (its default ``--chunk-size=500``), stdout to /dev/null, with a
  private HOME;
- the stock client: ``CoreV1Api(api_client).list_node(limit=500, _continue=...)`` with models.

memory-5k runs in fresh child processes (``python -m benchmarks.prime memory-knm|memory-stock``)
so nothing cached by earlier scenarios hides any cost: tracemalloc counts the bytes still held
once the prime is over and everything but the cache (or the stock client's ``V1Node`` list) has
been dropped, divided by the number of nodes.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import urllib3

from benchmarks.harness import Bench, Budget, Check, Figure, kubectl_env, python_child, run_measured
from knm_tui.kube.cache import ChangeFeed, ClusterStatus

PAGE_SIZE = 500
SCENARIO_PRIME = "prime-5k"
SCENARIO_MEMORY = "memory-5k"
MEMORY_BUDGET_BYTES = 3000


class SyncedFeed(ChangeFeed):
    """A change feed that also records when each context first reports a synced cache."""

    def __init__(self) -> None:
        super().__init__()
        self.synced = threading.Event()

    def publish_status(self, context: str, status: ClusterStatus) -> None:
        """Record the status; set ``synced`` once the cache is complete."""
        super().publish_status(context, status)
        if status.synced:
            self.synced.set()


def fetch_pages(base_url: str, path: str, page_size: int = PAGE_SIZE) -> list[bytes]:
    """Every page of a paginated LIST as raw bytes, fetched with a bare urllib3 pool."""
    pool = urllib3.PoolManager()
    pages: list[bytes] = []
    token = ""
    while True:
        fields = {"limit": str(page_size)}
        if token:
            fields["continue"] = token
        response = pool.request("GET", base_url + path, fields=fields, headers={"Accept": "application/json"})
        if response.status != 200:
            raise RuntimeError(f"LIST {path} answered {response.status}")
        pages.append(response.data)
        token = json.loads(response.data).get("metadata", {}).get("continue") or ""
        if not token:
            pool.clear()
            return pages


def floor_seconds(base_url: str) -> float:
    """Fetch every node page with urllib3 and ``json.loads`` it (nothing kept): the floor."""
    started = time.perf_counter()
    pool = urllib3.PoolManager()
    token = ""
    while True:
        fields = {"limit": str(PAGE_SIZE)}
        if token:
            fields["continue"] = token
        response = pool.request("GET", base_url + "/api/v1/nodes", fields=fields,
                                headers={"Accept": "application/json"})
        page = json.loads(response.data)
        token = page["metadata"].get("continue") or ""
        del page
        if not token:
            break
    elapsed = time.perf_counter() - started
    pool.clear()
    return elapsed


def knm_prime(kubeconfig_path: Path, context: str, timeout: float = 300.0) -> tuple[float, int]:
    """Prime one context with a ``Fleet``; returns (seconds until the cache is complete, nodes)."""
    from knm_tui.kube.config import load_kubeconfig
    from knm_tui.kube.sync import Fleet

    kubeconfig = load_kubeconfig(str(kubeconfig_path))
    feed = SyncedFeed()
    started = time.perf_counter()
    fleet = Fleet(kubeconfig, [context], feed, watch_leases=False)
    fleet.start()
    try:
        if not feed.synced.wait(timeout):
            raise RuntimeError(f"{context} did not prime within {timeout} s: {fleet.status(context).message}")
        elapsed = time.perf_counter() - started
        return elapsed, len(fleet.cache(context))
    finally:
        fleet.stop()


def stock_list_nodes(kubeconfig_path: Path, context: str, max_nodes: int | None = None) -> list:
    """The stock client's paginated ``list_node()`` (``V1Node`` models), up to ``max_nodes``."""
    from kubernetes import client as k8s_client

    from knm_tui.kube.config import load_kubeconfig, make_api_client

    api_client = make_api_client(load_kubeconfig(str(kubeconfig_path)), context)
    api = k8s_client.CoreV1Api(api_client)
    items: list = []
    token = None
    while True:
        page_size = PAGE_SIZE if max_nodes is None else min(PAGE_SIZE, max_nodes - len(items))
        response = api.list_node(limit=page_size, _continue=token)
        items.extend(response.items)
        token = response.metadata._continue
        if not token or (max_nodes is not None and len(items) >= max_nodes):
            api_client.close()
            return items


def stock_seconds(kubeconfig_path: Path, context: str) -> float:
    """Seconds for the stock client's paginated ``list_node()`` of every node."""
    started = time.perf_counter()
    items = stock_list_nodes(kubeconfig_path, context)
    elapsed = time.perf_counter() - started
    del items
    return elapsed


def kubectl_seconds(bench: Bench, kubeconfig_path: Path) -> float:
    """Wall seconds of ``kubectl get nodes -o json > /dev/null``."""
    run = run_measured([bench.kubectl, "--kubeconfig", str(kubeconfig_path), "get", "nodes", "-o", "json"],
                       env=kubectl_env(bench.kubectl_home()), capture=False)
    if run.returncode != 0:
        raise RuntimeError(f"kubectl get nodes failed: {run.stderr.strip()[-500:]}")
    return run.seconds


def run_prime(bench: Bench) -> list[Check]:
    """The prime-5k lines: knm-tui against the floor, kubectl and the stock client."""
    sizes = bench.sizes
    sim = bench.big
    url = sim.url(Bench.BIG_CLUSTER)
    context = Bench.BIG_CLUSTER
    # Warm-up first: lazy imports, the simulator's first pages, kubectl's discovery cache (a
    # user's would be warm too). knm-tui primes in a fresh child process each run, as the app
    # primes each cluster once per process: nothing interned or cached by a previous run helps.
    bench.node_pages()
    stock_list_nodes(sim.kubeconfig, context, max_nodes=1)
    if bench.kubectl:
        kubectl_seconds(bench, sim.kubeconfig)
    knm, floor, kubectl, stock = [], [], [], []
    nodes = 0
    for run in range(sizes.runs):
        floor.append(floor_seconds(url))
        result = _child("prime-knm", sim.kubeconfig, context)
        knm.append(result["seconds"])
        nodes = result["nodes"]
        if run < sizes.runs_expensive:
            if bench.kubectl:
                kubectl.append(kubectl_seconds(bench, sim.kubeconfig))
            stock.append(stock_seconds(sim.kubeconfig, context))
        gc.collect()
    if nodes != sizes.nodes:
        raise RuntimeError(f"the cache held {nodes} nodes, expected {sizes.nodes}")
    metric = f"LIST+cache {sizes.nodes:,} nodes"
    knm_figure = Figure("knm-tui", "s", knm)
    checks = [
        Check(SCENARIO_PRIME, metric, knm_figure, Figure("floor (urllib3 + json.loads)", "s", floor),
              Budget("ratio_max", 1.3, "≤ 1.3× floor")),
    ]
    if bench.kubectl:
        checks.append(Check(SCENARIO_PRIME, metric, knm_figure, Figure("kubectl get nodes -o json", "s", kubectl),
                            Budget("ratio_below", 1.0, "faster than kubectl")))
    else:
        checks.append(Check(SCENARIO_PRIME, metric, knm_figure, None, Budget("ratio_below", 1.0, "faster than kubectl"),
                            skipped_comparison="kubectl not installed: skipped"))
    checks.append(Check(SCENARIO_PRIME, metric, knm_figure, Figure("stock list_node() models", "s", stock),
                        Budget("ratio_max", 0.25, "≥ 4× faster than stock")))
    return checks


# ---------------------------------------------------------------------------------------------
# memory-5k


def run_memory(bench: Bench) -> list[Check]:
    """The memory-5k lines: bytes retained per cached node vs raw JSON and stock models."""
    sizes = bench.sizes
    sim = bench.big
    pages = bench.node_pages()
    raw_bytes = sum(len(page) for page in pages)
    node_count = sum(len(json.loads(page)["items"]) for page in pages)
    raw_per_node = raw_bytes / node_count
    knm, knm_peak, stock = [], [], []
    for run in range(sizes.memory_runs):
        result = _child("memory-knm", sim.kubeconfig, Bench.BIG_CLUSTER)
        knm.append(result["retained_per_node"])
        knm_peak.append(result["peak_per_node"])
        if run < max(1, sizes.memory_runs - 1):
            stock.append(_child("memory-stock", sim.kubeconfig, Bench.BIG_CLUSTER)["retained_per_node"])
    metric = f"retained per cached node ({node_count:,} nodes)"
    knm_figure = Figure("knm-tui", "B/node", knm,
                        note=f"tracemalloc peak during the prime: {statistics.median(knm_peak):,.0f} B/node")
    return [
        Check(SCENARIO_MEMORY, metric, knm_figure, Figure("raw JSON", "B/node", [raw_per_node]),
              Budget("max", MEMORY_BUDGET_BYTES, "≤ 3 KB/node")),
        Check(SCENARIO_MEMORY, metric, knm_figure, Figure("stock V1Node models", "B/node", stock)),
    ]


def _child(mode: str, kubeconfig_path: Path, context: str) -> dict:
    run = run_measured(python_child("benchmarks.prime", mode, str(kubeconfig_path), context), timeout=900)
    if run.returncode != 0:
        raise RuntimeError(f"{mode} failed: {run.stderr.strip()[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def prime_knm(kubeconfig_path: Path, context: str) -> dict:
    """One knm-tui prime in this (fresh) process, after the HTTP path is warm."""
    _warm_up_http(kubeconfig_path, context)
    gc.collect()
    seconds, nodes = knm_prime(kubeconfig_path, context)
    return {"seconds": seconds, "nodes": nodes}


def _warm_up_http(kubeconfig_path: Path, context: str) -> None:
    """One single-node LIST through the product's request path, so lazy imports and pools exist
    before tracemalloc starts counting."""
    from knm_tui.kube.config import load_kubeconfig, make_api_client
    from knm_tui.kube.nodeview import project_node
    from knm_tui.kube.sync import NODES_PATH, configure_retries, open_raw, read_body

    client = configure_retries(make_api_client(load_kubeconfig(str(kubeconfig_path)), context))
    page = json.loads(read_body(open_raw(client, NODES_PATH, [("limit", "1")], (5.0, 30.0))))
    for item in page["items"]:
        project_node(item)
    client.close()


def memory_knm(kubeconfig_path: Path, context: str) -> dict:
    """Bytes held by a primed ``NodeCache`` per node (tracemalloc), after the fleet is gone."""
    from knm_tui.kube.config import load_kubeconfig
    from knm_tui.kube.sync import Fleet

    _warm_up_http(kubeconfig_path, context)
    kubeconfig = load_kubeconfig(str(kubeconfig_path))
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    feed = SyncedFeed()
    fleet = Fleet(kubeconfig, [context], feed, watch_leases=False)
    fleet.start()
    if not feed.synced.wait(600):
        raise RuntimeError("the prime did not finish")
    cache = fleet.cache(context)
    fleet.stop()
    del fleet, feed
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    nodes = len(cache)
    return {"nodes": nodes, "retained_per_node": (retained - base) / nodes, "peak_per_node": (peak - base) / nodes}


def memory_stock(kubeconfig_path: Path, context: str) -> dict:
    """Bytes held by the stock client's ``V1Node`` list per node (tracemalloc)."""
    stock_list_nodes(kubeconfig_path, context, max_nodes=1)  # warm-up: imports, pools
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    items = stock_list_nodes(kubeconfig_path, context)
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"nodes": len(items), "retained_per_node": (retained - base) / len(items),
            "peak_per_node": (peak - base) / len(items)}


def main(argv: list[str]) -> int:
    """Child entry point: ``prime-knm|memory-knm|memory-stock KUBECONFIG CONTEXT`` prints one JSON line."""
    mode, kubeconfig, context = argv
    measure = {"prime-knm": prime_knm, "memory-knm": memory_knm, "memory-stock": memory_stock}[mode]
    print(json.dumps(measure(Path(kubeconfig), context)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
