"""What every scenario shares: figures with median/min/max, table lines with budgets, the run
settings, the simulator process, and child processes measured for wall time and peak RSS.

A scenario is a function ``run(bench: Bench) -> list[Check]``. A :class:`Check` is one line of
the printed table: a knm-tui figure, an optional comparison figure, their ratio (knm-tui ÷
comparison, so below 1 means knm-tui is faster or smaller), and a budget that decides PASS/MISS.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
PASS = "PASS"
MISS = "MISS"
SKIP = "skip"


# ---------------------------------------------------------------------------------------------
# Figures and table lines


@dataclass
class Figure:
    """Samples of one measurement (several runs) in ``unit``; shown as the median with min–max."""

    label: str
    unit: str
    samples: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        """The median of the samples."""
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        """The smallest sample."""
        return min(self.samples)

    @property
    def high(self) -> float:
        """The largest sample."""
        return max(self.samples)

    def text(self) -> str:
        """``median unit (min–max)``, or just the value for a single sample."""
        value = format_value(self.median, self.unit)
        low, high = format_number(self.low, self.unit), format_number(self.high, self.unit)
        if len(self.samples) > 1 and low != high:
            value += f" ({low}–{high})"
        return value

    def as_json(self) -> dict[str, Any]:
        """The figure for ``--json`` (an infinite sample, "never seen", becomes null)."""
        return {"label": self.label, "unit": self.unit, "median": finite_or_none(self.median),
                "min": finite_or_none(self.low), "max": finite_or_none(self.high), "runs": len(self.samples),
                "samples": [finite_or_none(sample) for sample in self.samples], "note": self.note}


@dataclass
class Budget:
    """A limit from the issues: ``kind`` says what is compared with ``limit``.

    - ``"ratio_max"``: knm-tui ÷ comparison must be at most ``limit``;
    - ``"ratio_below"``: knm-tui ÷ comparison must be below ``limit``;
    - ``"max"``: the knm-tui median must be at most ``limit`` (in the figure's unit);
    - ``"min"``: the knm-tui median must be at least ``limit``.
    """

    kind: str
    limit: float
    text: str

    def judge(self, knm: Figure, ratio: float | None) -> bool | None:
        """True/False for PASS/MISS; None when the budget cannot be judged (no comparison)."""
        if self.kind == "max":
            return knm.median <= self.limit
        if self.kind == "min":
            return knm.median >= self.limit
        if ratio is None:
            return None
        if self.kind == "ratio_max":
            return ratio <= self.limit
        if self.kind == "ratio_below":
            return ratio < self.limit
        raise ValueError(f"unknown budget kind {self.kind!r}")


@dataclass
class Check:
    """One line of the table: a knm-tui figure against a comparison, judged by a budget."""

    scenario: str
    metric: str
    knm: Figure
    comparison: Figure | None = None
    budget: Budget | None = None
    note: str = ""
    skipped_comparison: str = ""  # why the comparison could not be measured (e.g. no kubectl)

    @property
    def ratio(self) -> float | None:
        """knm-tui median ÷ comparison median, or None without a comparison."""
        if self.comparison is None or not self.comparison.median:
            return None
        return self.knm.median / self.comparison.median

    @property
    def verdict(self) -> str:
        """PASS, MISS, skip (budget needs a comparison that is missing) or "" (no budget)."""
        if self.budget is None:
            return ""
        judged = self.budget.judge(self.knm, self.ratio)
        if judged is None:
            return SKIP
        return PASS if judged else MISS

    def as_json(self) -> dict[str, Any]:
        """The line for ``--json``."""
        return {
            "scenario": self.scenario,
            "metric": self.metric,
            "knm_tui": self.knm.as_json(),
            "comparison": self.comparison.as_json() if self.comparison else None,
            "comparison_skipped": self.skipped_comparison or None,
            "ratio": finite_or_none(self.ratio),
            "budget": self.budget.text if self.budget else None,
            "result": self.verdict or None,
            "note": self.note,
        }


def finite_or_none(value: float | None) -> float | None:
    """``value`` when it is a finite number, else ``None`` (JSON has no infinity)."""
    return value if value is not None and math.isfinite(value) else None


def percentile(values: Sequence[float], percent: float) -> float:
    """The ``percent``-th percentile of ``values`` (nearest rank)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(percent / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def format_number(value: float, unit: str) -> str:
    """A value without its unit, with as many digits as are meaningful."""
    if unit in ("events/s", "B/node", "B"):
        return f"{value:,.0f}"
    if unit in ("MiB",):
        return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_value(value: float, unit: str) -> str:
    """A value with its unit."""
    return f"{format_number(value, unit)} {unit}"


def format_table(checks: Sequence[Check]) -> str:
    """The results as one plain-text table (also valid Markdown)."""
    header = ["scenario", "metric", "knm-tui", "comparison", "knm/cmp", "budget", "result"]
    rows = []
    for check in checks:
        if check.comparison is not None:
            comparison = f"{check.comparison.label}: {check.comparison.text()}"
        elif check.skipped_comparison:
            comparison = check.skipped_comparison
        else:
            comparison = "—"
        ratio = check.ratio
        rows.append([
            check.scenario,
            check.metric,
            check.knm.text(),
            comparison,
            f"{ratio:.2f}" if ratio is not None else "—",
            check.budget.text if check.budget else "—",
            check.verdict or "—",
        ])
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
              for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


# ---------------------------------------------------------------------------------------------
# Run settings and shared resources


@dataclass(frozen=True)
class Sizes:
    """How big and how often: the full run and ``--quick`` differ only here."""

    nodes: int  # nodes of the big cluster (prime, memory, pods, UI)
    pods_per_node: int
    fleet_cluster_nodes: int  # nodes of each of the fleet scenario's 18 healthy clusters
    fleet_slow_latency: float  # seconds added to every request of the slow cluster
    watch_events: int  # MODIFIED events per watch-apply run
    churn_seconds: float  # measured seconds per ui-churn run
    churn_warmup_seconds: float
    churn_events_per_second: float
    runs: int  # runs of a cheap measurement
    runs_expensive: int  # runs of an expensive one (stock client, pods, sequential fleet)
    fleet_runs: int  # concurrent fleet runs
    memory_runs: int
    churn_runs: int
    startup_runs: int


FULL = Sizes(nodes=5000, pods_per_node=30, fleet_cluster_nodes=150, fleet_slow_latency=3.0,
             watch_events=20_000, churn_seconds=15.0, churn_warmup_seconds=2.0,
             churn_events_per_second=2000.0, runs=5, runs_expensive=3, fleet_runs=5, memory_runs=3,
             churn_runs=3, startup_runs=5)
QUICK = Sizes(nodes=300, pods_per_node=10, fleet_cluster_nodes=10, fleet_slow_latency=1.0,
              watch_events=2_000, churn_seconds=2.0, churn_warmup_seconds=0.5,
              churn_events_per_second=2000.0, runs=3, runs_expensive=1, fleet_runs=2, memory_runs=2,
              churn_runs=1, startup_runs=1)


class SimProcess:
    """A simulator serving ``spec`` (see :mod:`benchmarks.simserver`) from a child process."""

    def __init__(self, spec: dict[str, Any], directory: Path, name: str, timeout: float = 300.0) -> None:
        self.kubeconfig = directory / f"{name}-kubeconfig.yaml"
        full_spec = {**spec, "kubeconfig": str(self.kubeconfig)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.simserver", json.dumps(full_spec)],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        self.urls = self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> dict[str, str]:
        result: dict[str, Any] = {}

        def read_ready_line() -> None:
            assert self._process.stdout is not None
            result["line"] = self._process.stdout.readline()

        reader = threading.Thread(target=read_ready_line, daemon=True)
        reader.start()
        reader.join(timeout)
        line = result.get("line", "")
        if not line.startswith("ready "):
            self.stop()
            error = self._process.stderr.read() if self._process.stderr else ""
            raise RuntimeError(f"the simulator did not start: {line!r} {error[-2000:]}")
        return json.loads(line[len("ready "):])

    def url(self, name: str) -> str:
        """The URL of cluster ``name``."""
        return self.urls[name]

    def stop(self) -> None:
        """End the simulator (closing its input is its signal) and wait for it."""
        if self._process.poll() is None:
            try:
                if self._process.stdin:
                    self._process.stdin.close()
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class Bench:
    """The run: its sizes, a private temporary directory, and the big simulated cluster, started
    on first use and shared by every scenario that needs it."""

    BIG_CLUSTER = "big"

    def __init__(self, sizes: Sizes, quick: bool, log: Callable[[str], None]) -> None:
        self.sizes = sizes
        self.quick = quick
        self.log = log
        self.directory = Path(tempfile.mkdtemp(prefix="knm-bench-"))
        self._big: SimProcess | None = None
        self._node_pages: list[bytes] | None = None
        self.kubectl = shutil.which("kubectl")

    @property
    def big(self) -> SimProcess:
        """The big cluster (``sizes.nodes`` nodes, ``sizes.pods_per_node`` pods each)."""
        if self._big is None:
            started = time.monotonic()
            spec = {"clusters": [{"name": self.BIG_CLUSTER, "nodes": self.sizes.nodes,
                                  "pods_per_node": self.sizes.pods_per_node, "seed": 7}]}
            self._big = SimProcess(spec, self.directory, self.BIG_CLUSTER, timeout=600)
            self.log(f"big cluster: {self.sizes.nodes} nodes, {self.sizes.pods_per_node} pods per node, "
                     f"ready in {time.monotonic() - started:.1f} s")
        return self._big

    def node_pages(self) -> list[bytes]:
        """The raw bytes of the big cluster's node LIST pages (limit 500), fetched once."""
        if self._node_pages is None:
            from benchmarks.prime import fetch_pages

            self._node_pages = fetch_pages(self.big.url(self.BIG_CLUSTER), "/api/v1/nodes")
        return self._node_pages

    def node_objects(self) -> list[dict[str, Any]]:
        """The big cluster's nodes as parsed JSON (a fresh list each call)."""
        return [item for page in self.node_pages() for item in json.loads(page)["items"]]

    def kubectl_home(self) -> Path:
        """A private HOME for kubectl (its discovery cache lives there)."""
        home = self.directory / "kubectl-home"
        home.mkdir(exist_ok=True)
        return home

    def close(self) -> None:
        """Stop the simulator and remove the temporary directory."""
        if self._big is not None:
            self._big.stop()
            self._big = None
        shutil.rmtree(self.directory, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Child processes


@dataclass
class ProcessRun:
    """A finished child process: wall seconds, peak RSS in MiB, exit code and its output."""

    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str = ""
    stderr: str = field(default="", repr=False)


def run_measured(argv: Sequence[str], *, env: dict[str, str] | None = None, capture: bool = True,
                 timeout: float = 600.0, cwd: Path = REPO_ROOT) -> ProcessRun:
    """Run ``argv`` and measure its wall time and peak RSS, through :mod:`benchmarks.measure` (a
    small launcher, so the peak is the command's own and not inherited from this process).

    With ``capture=False`` its standard output goes to /dev/null (as ``> /dev/null`` would).
    """
    with tempfile.NamedTemporaryFile(prefix="knm-bench-measure-", suffix=".json", delete=False) as report:
        report_path = Path(report.name)
    launcher = [sys.executable, "-m", "benchmarks.measure", str(report_path), "--", *argv]
    process = subprocess.Popen(launcher, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env, cwd=cwd, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher's own session: it and the command
        stdout, stderr = process.communicate()
    try:
        measured = json.loads(report_path.read_text() or "{}")
    finally:
        report_path.unlink(missing_ok=True)
    return ProcessRun(seconds=measured.get("seconds", float("nan")),
                      peak_rss_mib=measured.get("peak_rss_kib", 0) / 1024,
                      returncode=measured.get("returncode", process.returncode),
                      stdout=stdout or "", stderr=stderr or "")


def python_child(module: str, *args: str) -> list[str]:
    """The command line running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def kubectl_env(home: Path) -> dict[str, str]:
    """The environment for a kubectl child: a private HOME, nothing else from the user's setup."""
    env = {key: value for key, value in os.environ.items() if key not in ("KUBECONFIG",)}
    env["HOME"] = str(home)
    return env
