"""``python -m benchmarks --quick`` runs end to end: one table naming every scenario, and valid JSON.

This proves the benchmark harness works on the CI machine; it asserts nothing about speed (the
PASS/MISS verdicts are the benchmarks' business, not the test's).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("prime-5k", "memory-5k", "watch-apply", "pods-150k", "ui-churn", "ui-table", "fleet-20", "startup")
TIMEOUT_SECONDS = 600


def test_quick_run_prints_every_scenario_and_writes_json(tmp_path: Path) -> None:
    results_path = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(results_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    table_rows = [line for line in completed.stdout.splitlines() if line.startswith("| ")]
    printed = {row.split("|")[1].strip() for row in table_rows}
    assert set(SCENARIOS) <= printed, f"missing from the table: {set(SCENARIOS) - printed}"

    document = json.loads(results_path.read_text())
    assert document["mode"] == "quick"
    assert document["failed"] == []
    assert {result["scenario"] for result in document["results"]} == set(SCENARIOS)
    for result in document["results"]:
        assert result["knm_tui"]["runs"] >= 1 and result["knm_tui"]["samples"], result["metric"]
