"""``python -m benchmarks``: run the scenarios, print one table, optionally write JSON.

Usage::

    python -m benchmarks [--quick] [--json PATH] [--only NAME ...]
    python -m benchmarks soak --minutes N

Exit codes: 0 when every scenario ran (whatever the PASS/MISS verdicts), 1 when a scenario
failed to run, 2 for a usage error (or ``soak`` when the soak module is not there).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from benchmarks.harness import FULL, QUICK, Bench, Check, format_table

Scenario = Callable[[Bench], list[Check]]

# (name, "module:function"), in the order they run and are printed.
SCENARIOS: tuple[tuple[str, str], ...] = (
    ("prime-5k", "benchmarks.prime:run_prime"),
    ("memory-5k", "benchmarks.prime:run_memory"),
    ("watch-apply", "benchmarks.watch_apply:run"),
    ("pods-150k", "benchmarks.pods:run"),
    ("ui-churn", "benchmarks.ui:run_churn"),
    ("ui-table", "benchmarks.ui:run_table"),
    ("fleet-20", "benchmarks.fleet:run"),
    ("startup", "benchmarks.startup:run"),
)
SCENARIO_NAMES = tuple(name for name, _ in SCENARIOS)


def load_scenario(target: str) -> Scenario:
    """The scenario function named ``module:function``."""
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure knm-tui against kubectl, the stock client, Textual's DataTable and the floor.",
        epilog="Soak test: python -m benchmarks soak --minutes N",
    )
    parser.add_argument("--quick", action="store_true", help="scaled-down versions of every scenario (under a minute)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=SCENARIO_NAMES,
                        help=f"run only these scenarios ({', '.join(SCENARIO_NAMES)})")
    return parser


def run_soak(argv: Sequence[str]) -> int:
    """Hand ``argv`` to ``benchmarks.soak.main`` if that module exists."""
    if importlib.util.find_spec("benchmarks.soak") is None:
        print("error: the soak test is not available (benchmarks/soak.py is missing)", file=sys.stderr)
        return 2
    soak = importlib.import_module("benchmarks.soak")
    return soak.main(list(argv))


def machine_description() -> dict[str, object]:
    """The machine and software the figures were measured on."""
    import textual
    from kubernetes import __version__ as kubernetes_version

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    kubectl = "not installed"
    if shutil.which("kubectl"):
        try:
            output = subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True,
                                    text=True, timeout=30).stdout
            kubectl = json.loads(output)["clientVersion"]["gitVersion"]
        except (OSError, ValueError, KeyError, subprocess.SubprocessError):
            kubectl = "unknown version"
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "textual": textual.__version__, "kubernetes": kubernetes_version,
            "kubectl": kubectl}


def quiet_logging(path: Path) -> logging.Handler:
    """Send the product's log records to a file (as the app does): warnings on stderr would tear
    up the table. Returns the handler, for the caller to remove."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["soak"]:
        return run_soak(arguments[1:])
    args = build_parser().parse_args(arguments)
    selected = [(name, target) for name, target in SCENARIOS if not args.only or name in args.only]

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    bench = Bench(QUICK if args.quick else FULL, args.quick, log)
    log_handler = quiet_logging(bench.directory / "knm-tui.log")
    checks: list[Check] = []
    failures: list[str] = []
    timings: dict[str, float] = {}
    started = time.monotonic()
    load_before = os.getloadavg()
    try:
        for name, target in selected:
            log(f"{name} ...")
            scenario_started = time.monotonic()
            try:
                checks.extend(load_scenario(target)(bench))
            except Exception:
                failures.append(name)
                log(f"{name} failed:\n{traceback.format_exc()}")
            timings[name] = time.monotonic() - scenario_started
            log(f"{name} done in {timings[name]:.1f} s")
    finally:
        logging.getLogger().removeHandler(log_handler)
        log_handler.close()
        bench.close()
    total = time.monotonic() - started
    load_after = os.getloadavg()
    machine = machine_description()
    mode = "quick" if args.quick else "full"
    table = format_table(checks)
    print(f"knm-tui benchmarks ({mode} run, {total:.0f} s; {machine['cpus']} × {machine['cpu']}, "
          f"Python {machine['python']}, textual {machine['textual']}, kubernetes {machine['kubernetes']}, "
          f"kubectl {machine['kubectl']}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after)")
    print(table)
    notes = [f"- {check.scenario} / {check.metric}: {note}" for check in checks
             for note in (check.note, check.knm.note) if note]
    if notes:
        print("\nNotes:")
        print("\n".join(dict.fromkeys(notes)))
    if failures:
        print(f"\nFailed to run: {', '.join(failures)}")
    if args.json:
        document = {
            "mode": mode,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": total,
            "machine": machine,
            "load_average": {"before": load_before, "after": load_after},
            "scenario_seconds": timings,
            "scenarios": [name for name, _ in selected],
            "failed": failures,
            "results": [check.as_json() for check in checks],
            "table": table,
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, allow_nan=False, default=str)
            handle.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
