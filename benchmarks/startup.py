"""startup: ``knm-tui --demo`` from process start to the first frame with data; import time.

The command runs in a pseudo-terminal of 160×50 (as a user's terminal would be) with a private
log file. The first frame with data is the first time the output holds the name of the first
node of the current demo cluster (the table is sorted by name), computed from the demo's own
world spec; then ``q`` is sent and the process is waited for.

Import time: ``python -X importtime -c "import knm_tui.app"`` (the cumulative microseconds of
``knm_tui.app``) and the wall time of that interpreter with the import minus one without.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.harness import REPO_ROOT, Bench, Budget, Check, Figure

SCENARIO = "startup"
COLUMNS, ROWS = 160, 50
FIRST_FRAME_TIMEOUT = 60.0


def first_demo_node() -> str:
    """The name of the node the demo's table shows first (its current cluster, sorted by name)."""
    from knm_tui.demo import CURRENT_CONTEXT, cluster_specs
    from knm_tui.sim.world import build_world

    spec = next(spec for spec in cluster_specs() if spec.name == CURRENT_CONTEXT)
    world = build_world(spec.world, datetime.now(timezone.utc))
    return min(node["metadata"]["name"] for node in world.nodes)


def knm_tui_command() -> list[str]:
    """The ``knm-tui`` console script of this interpreter's environment, else ``python -m knm_tui.cli``."""
    script = Path(sys.executable).with_name("knm-tui")
    if script.exists():
        return [str(script)]
    found = shutil.which("knm-tui")
    return [found] if found else [sys.executable, "-m", "knm_tui.cli"]


def time_to_first_frame(marker: str, log_file: Path) -> float:
    """Seconds from starting ``knm-tui --demo`` in a pty until ``marker`` is on its screen."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    needle = marker.encode()
    started = time.perf_counter()
    process = subprocess.Popen(knm_tui_command() + ["--demo", "--log-file", str(log_file)],
                               stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO_ROOT,
                               start_new_session=True, close_fds=True)
    os.close(slave)
    output = b""
    elapsed: float | None = None
    try:
        deadline = started + FIRST_FRAME_TIMEOUT
        while elapsed is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            output = output[-len(needle):] + chunk
            if needle in output:
                elapsed = time.perf_counter() - started
        if elapsed is None:
            raise RuntimeError(f"knm-tui --demo showed no data within {FIRST_FRAME_TIMEOUT} s "
                               f"(exit code {process.poll()}): {_printable(output)[-500:]}")
        os.write(master, b"q")
        _drain_until_exit(master, process, 15.0)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # our own child's session, started above
            process.wait()
        os.close(master)
    return elapsed


def _drain_until_exit(master: int, process: subprocess.Popen, timeout: float) -> None:
    """Keep reading the pty (so the app never blocks writing) until the process ends."""
    deadline = time.perf_counter() + timeout
    while process.poll() is None and time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                if not os.read(master, 1 << 16):
                    break
            except OSError:
                break
    try:
        process.wait(max(0.1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        pass


def _printable(data: bytes) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", data.decode(errors="replace"))


def import_time_ms() -> float:
    """Cumulative import time of ``knm_tui.app`` reported by ``-X importtime``, in ms."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import knm_tui.app"],
                            capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    for line in result.stderr.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == "knm_tui.app":
            return int(parts[1]) / 1000
    raise RuntimeError("knm_tui.app not found in the -X importtime output")


def interpreter_seconds(code: str) -> float:
    """Wall seconds of ``python -c code``."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
    return time.perf_counter() - started


def run(bench: Bench) -> list[Check]:
    """The startup lines."""
    sizes = bench.sizes
    marker = first_demo_node()
    log_file = bench.directory / "startup.log"
    first_frame = [time_to_first_frame(marker, log_file) for _ in range(sizes.startup_runs)]
    cumulative, wall = [], []
    for _ in range(sizes.startup_runs):
        cumulative.append(import_time_ms())
        bare = interpreter_seconds("pass")
        wall.append((interpreter_seconds("import knm_tui.app") - bare) * 1000)
    return [
        Check(SCENARIO, "knm-tui --demo: process start → first frame with data", Figure("knm-tui", "s", first_frame),
              budget=Budget("max", 2.0, "≤ 2 s")),
        Check(SCENARIO, "import knm_tui.app (-X importtime, cumulative)", Figure("knm-tui", "ms", cumulative)),
        Check(SCENARIO, "import knm_tui.app (wall, minus bare interpreter)", Figure("knm-tui", "ms", wall)),
    ]
