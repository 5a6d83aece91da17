"""watch-apply: node MODIFIED events parsed and applied to the cache per second, on one core.

Runs in a fresh child process (``python -m benchmarks.watch_apply ...``). A ``Fleet`` primes the big cluster's context over HTTP and is stopped; its ``ClusterSync`` then
keeps its cache, feed and node reflector. Pre-serialized watch event lines — each a whole node
(images and all, as the apiserver sends them) with a new resourceVersion and a moved Ready
heartbeat, cycling through every node — go through ``Reflector.apply_lines`` (image lists cut,
``json.loads``, ``project_node``, the unchanged-content check, the feed and the cache), which the
watch loop calls with the complete lines of every read, in batches of what one 64 KiB read holds.
No network and no UI: the figure is the parse/apply cost alone, on the one thread that runs it.
The baseline, interleaved with it in the same process: a bare ``json.loads`` of the same lines
(nothing applied), which says how fast this machine parses the events at all.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.harness import Bench, Budget, Check, Figure, python_child, run_measured
from benchmarks.prime import SyncedFeed, fetch_pages

SCENARIO = "watch-apply"
BUDGET_EVENTS_PER_SECOND = 10_000


def event_lines(nodes: list[dict], count: int) -> list[bytes]:
    """``count`` MODIFIED event lines cycling through ``nodes``, each with a fresh RV and heartbeat."""
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    lines = []
    for index in range(count):
        node = nodes[index % len(nodes)]
        node["metadata"]["resourceVersion"] = str(10_000_000 + index)
        heartbeat = (start + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for condition in node.get("status", {}).get("conditions", []):
            if condition.get("type") == "Ready":
                condition["lastHeartbeatTime"] = heartbeat
        lines.append(json.dumps({"type": "MODIFIED", "object": node}, separators=(",", ":")).encode())
    return lines


def measure(kubeconfig_path: Path, context: str, url: str, events: int, runs: int) -> dict:
    """Prime ``context``, then apply ``events`` event lines ``runs`` times; events/s of each run."""
    from knm_tui.kube.config import load_kubeconfig
    from knm_tui.kube.sync import STREAM_READ_BYTES, Fleet

    nodes = [item for page in fetch_pages(url, "/api/v1/nodes") for item in json.loads(page)["items"]]
    lines = event_lines(nodes, events)
    del nodes
    feed = SyncedFeed()
    fleet = Fleet(load_kubeconfig(str(kubeconfig_path)), [context], feed, watch_leases=False)
    fleet.start()
    try:
        if not feed.synced.wait(300):
            raise RuntimeError("the cache did not prime")
    finally:
        fleet.stop()
    apply_lines = fleet.sync(context)._nodes.apply_lines  # what the node watch loop calls per read
    per_read = max(1, STREAM_READ_BYTES // round(sum(map(len, lines)) / len(lines)))
    batches = [lines[start:start + per_read] for start in range(0, len(lines), per_read)]
    rates, loads_rates = [], []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        for line in lines:
            json.loads(line)
        loads_rates.append(len(lines) / (time.perf_counter() - started))
        feed.drain()
        gc.collect()
        started = time.perf_counter()
        for batch in batches:
            apply_lines(batch)
        rates.append(len(lines) / (time.perf_counter() - started))
    last = json.loads(lines[-1])["object"]["metadata"]
    if fleet.cache(context).get(last["name"]).resource_version != last["resourceVersion"]:
        raise RuntimeError("the events were not applied to the cache")
    return {"rates": rates, "loads_rates": loads_rates, "mean_line_bytes": sum(map(len, lines)) / len(lines)}


def run(bench: Bench) -> list[Check]:
    """The watch-apply line, measured in a fresh child process (one thread applies the events)."""
    sizes = bench.sizes
    sim = bench.big
    child = run_measured(python_child("benchmarks.watch_apply", str(sim.kubeconfig), Bench.BIG_CLUSTER,
                                      sim.url(Bench.BIG_CLUSTER), str(sizes.watch_events), str(sizes.runs)),
                         timeout=900)
    if child.returncode != 0:
        raise RuntimeError(f"watch-apply failed: {child.stderr.strip()[-2000:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    metric = f"node MODIFIED events/s, one core ({result['mean_line_bytes'] / 1024:.1f} KiB events)"
    return [Check(SCENARIO, metric, Figure("knm-tui", "events/s", result["rates"]),
                  Figure("bare json.loads of the lines", "events/s", result["loads_rates"]),
                  Budget("min", BUDGET_EVENTS_PER_SECOND, "≥ 10,000 events/s"))]


def main(argv: list[str]) -> int:
    """Child entry point: ``KUBECONFIG CONTEXT URL EVENTS RUNS``; prints one JSON line."""
    kubeconfig, context, url, events, runs = argv
    print(json.dumps(measure(Path(kubeconfig), context, url, int(events), int(runs))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
