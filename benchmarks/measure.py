"""``python -m benchmarks.measure REPORT -- COMMAND...``: run COMMAND, report its wall time and peak RSS.

Linux carries a process's RSS high-water mark across ``exec``, so a command started straight from
the (large) benchmark process would report at least the benchmark's own RSS as its peak. This
small launcher starts the command from its own small address space instead, waits for it with
``wait4`` and writes ``{"seconds", "peak_rss_kib", "returncode"}`` as JSON to REPORT. The command
inherits the launcher's standard streams; the launcher exits with the command's exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    """Entry point: ``REPORT -- COMMAND...``."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m benchmarks.measure REPORT -- COMMAND...", file=sys.stderr)
        return 2
    report, command = argv[0], argv[2:]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = returncode = os.waitstatus_to_exitcode(status)
    with open(report, "w", encoding="utf-8") as handle:
        json.dump({"seconds": seconds, "peak_rss_kib": usage.ru_maxrss, "returncode": returncode}, handle)
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
