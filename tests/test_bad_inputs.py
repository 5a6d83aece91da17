"""Every bad input and every API error, with what the user sees: a table each.

- The command line: each kubeconfig or usage problem exits 2 with one line on stderr (no
  traceback), in-process through ``cli.main`` and through the installed ``knm-tui`` command
  in a subprocess without a terminal.
- The sync engine: each API failure (401, 403, 404, 410, 429, 500, 503, a timeout, a refused
  connection, an untrusted certificate) with the ``ClusterStatus`` state, error kind and message
  a tab shows.
- Node operations: each failure of a write (401, 403, 404, 409, 410, 429, 500, 503, timeout,
  refused, TLS) with the ``OperationError`` kind and the one-line result the user reads.

Everything talks real HTTP(S) to 127.0.0.1: the simulator, or a tiny server that answers with a
given ``Status``, a port that never answers, a port nothing listens on.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import KIND_THREE_NODES, BlackHole

from knm_tui.cli import EXIT_USAGE, main
from knm_tui.kube.cache import SyncState
from knm_tui.kube.config import load_kubeconfig, make_api_client
from knm_tui.kube.ops import NodeOperations
from knm_tui.kube.sync import Fleet, SyncSettings
from knm_tui.sim import ClusterSpec, Simulator

TOKEN = "bad-inputs-token-0123456789ABCDEFGHIJ"
WRONG_TOKEN = "wrong-token-ZYXWVUTSRQPONMLK-9876543210"
NODE = "kind-worker"

FAST = SyncSettings(connect_timeout=1.0, read_timeout=1.0, watch_timeout_range=(1, 2), watch_read_margin=1.0,
                    min_watch_seconds=0.3, node_watch_coalesce_seconds=0.0, lease_watch_coalesce_seconds=0.0,
                    backoff_initial=0.05, backoff_max=0.3, auth_retry_seconds=1.0, lease_retry_seconds=1.0,
                    stale_after_failures=3, stale_after_seconds=1.0)


# =============================================================================================
# The command line


def _kubeconfig(contexts: list[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
            "clusters": [{"name": name, "cluster": {"server": "http://127.0.0.1:9"}} for name in contexts],
            "users": [{"name": "me", "user": {"token": TOKEN}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": "me"}} for name in contexts]}


@dataclass(frozen=True)
class CliCase:
    """One bad invocation: files to create, the arguments, and the stderr line expected."""

    name: str
    arguments: list[str]  # "{dir}" is replaced by the test's directory
    files: dict[str, str | None]  # relative path -> content (None: a directory)
    expected: str  # a regular expression the single stderr line must match
    environment: dict[str, str] | None = None


CLI_CASES = [
    CliCase("no kubeconfig", [], {},
            r"knm-tui: no kubeconfig found at {dir}/home/\.kube/config and KUBECONFIG is not set; "
            r"pass --kubeconfig PATH, or run `knm-tui --demo` to try knm-tui against a simulated cluster"),
    CliCase("--kubeconfig names a missing file", ["--kubeconfig", "{dir}/missing.yaml"], {},
            r"knm-tui: kubeconfig {dir}/missing\.yaml: no such file; check --kubeconfig, or run `knm-tui --demo` .*"),
    CliCase("KUBECONFIG names only missing files", [], {},
            r"knm-tui: no kubeconfig found: none of the files in KUBECONFIG exist \({dir}/a\.yaml, {dir}/b\.yaml\); "
            r"run `knm-tui --demo` .*",
            environment={"KUBECONFIG": "{dir}/a.yaml" + os.pathsep + "{dir}/b.yaml"}),
    CliCase("unreadable: a directory", ["--kubeconfig", "{dir}/folder"], {"folder": None},
            r"knm-tui: kubeconfig {dir}/folder: is a directory, not a file"),
    CliCase("invalid YAML (the token on the bad line is not quoted)", ["--kubeconfig", "{dir}/broken.yaml"],
            {"broken.yaml": f"apiVersion: v1\nusers: [\n  - name: a\n token: {TOKEN}\n"},
            r"knm-tui: kubeconfig {dir}/broken\.yaml: invalid YAML at line \d+, column \d+: .+"),
    CliCase("not a mapping", ["--kubeconfig", "{dir}/list.yaml"], {"list.yaml": "- a\n- b\n"},
            r"knm-tui: kubeconfig {dir}/list\.yaml: expected a mapping at the top level, found a list"),
    CliCase("no contexts", ["--kubeconfig", "{dir}/empty.yaml"], {"empty.yaml": "apiVersion: v1\nkind: Config\n"},
            r"knm-tui: kubeconfig {dir}/empty\.yaml: no contexts defined; add one with `kubectl config set-context`, "
            r"or run `knm-tui --demo` .*"),
    CliCase("a section of the wrong type", ["--kubeconfig", "{dir}/typed.yaml"],
            {"typed.yaml": "apiVersion: v1\nclusters: prod\ncontexts: []\n"},
            r"knm-tui: kubeconfig {dir}/typed\.yaml: clusters must be a list, found a string"),
    CliCase("unknown context (lists the available ones)",
            ["--kubeconfig", "{dir}/config.yaml", "--context", "prod-us"],
            {"config.yaml": yaml.safe_dump(_kubeconfig(["prod-eu", "staging"]))},
            r'knm-tui: unknown context "prod-us"; available: prod-eu, staging'),
    CliCase("two unknown contexts", ["--kubeconfig", "{dir}/config.yaml", "--context", "x", "--context", "y"],
            {"config.yaml": yaml.safe_dump(_kubeconfig(["prod-eu"]))},
            r'knm-tui: unknown contexts "x", "y"; available: prod-eu'),
    CliCase("--demo with --kubeconfig", ["--demo", "--kubeconfig", "{dir}/config.yaml"], {},
            r"knm-tui: --demo runs its own simulated clusters; leave out --kubeconfig"),
    CliCase("a log file that cannot be written", ["--log-file", "{dir}/file/sub/x.log"], {"file": ""},
            r"knm-tui: cannot write the log file {dir}/file/sub/x\.log: Not a directory; "
            r"choose another with --log-file PATH"),
]


def _prepare(case: CliCase, directory: Path) -> tuple[list[str], dict[str, str], str]:
    """Create the case's files; returns its arguments, environment and expected-line pattern."""
    (directory / "home").mkdir(exist_ok=True)
    for relative, content in case.files.items():
        target = directory / relative
        if content is None:
            target.mkdir()
        else:
            target.write_text(content)
    arguments = [argument.replace("{dir}", str(directory)) for argument in case.arguments]
    environment = {"HOME": str(directory / "home"), "XDG_STATE_HOME": str(directory / "state")}
    for key, value in (case.environment or {}).items():
        environment[key] = value.replace("{dir}", str(directory))
    return arguments, environment, case.expected.replace("{dir}", re.escape(str(directory)))


def _assert_one_clean_line(stderr: str, pattern: str) -> None:
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"not one line: {stderr!r}"
    assert re.fullmatch(pattern, stderr.rstrip("\n")), stderr
    assert "Traceback" not in stderr and TOKEN not in stderr


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.name for case in CLI_CASES])
def test_cli_error_in_process(case: CliCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    arguments, environment, pattern = _prepare(case, tmp_path)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert main(arguments) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_one_clean_line(captured.err, pattern)


def _installed_command() -> list[str]:
    script = Path(sys.executable).parent / "knm-tui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "knm_tui.cli"]


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.name for case in CLI_CASES])
def test_cli_error_from_the_installed_command_without_a_terminal(case: CliCase, tmp_path: Path) -> None:
    arguments, environment, pattern = _prepare(case, tmp_path)
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env.update(environment)
    result = subprocess.run([*_installed_command(), *arguments], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, env=env, timeout=60, check=False)
    assert result.returncode == EXIT_USAGE
    assert result.stdout == ""
    _assert_one_clean_line(result.stderr, pattern)


def test_usage_errors_print_usage_and_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-flag"]) == EXIT_USAGE
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("usage: knm-tui ")
    assert lines[-1] == "knm-tui: error: unrecognized arguments: --no-such-flag"
    assert main(["--context"]) == EXIT_USAGE
    assert capsys.readouterr().err.splitlines()[-1] == "knm-tui: error: argument --context: expected one argument"


# =============================================================================================
# Servers that misbehave on purpose


class StatusServer:
    """Answers node GETs with a node, and every request whose method is in ``failing`` with a Status."""

    def __init__(self, code: int, reason: str, message: str, failing: frozenset[str]) -> None:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}
        node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": NODE, "resourceVersion": "7"},
                "spec": {}, "status": {}}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                fail = self.command in failing
                body = json.dumps(status if fail else node).encode()
                self.send_response(code if fail else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if code == 429 and fail:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


STATUS_TEXTS = {
    404: ("NotFound", "the server could not find the requested resource"),
    409: ("Conflict", f'Operation cannot be fulfilled on nodes "{NODE}": the object has been modified; '
                      "please apply your changes to the latest version and try again"),
    410: ("Gone", "the resource is gone"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    500: ("InternalError", 'an error on the server ("etcd timeout") has prevented the request from succeeding'),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
}


class Endpoints:
    """Builds the misbehaving endpoint each case needs and a kubeconfig context pointing at it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.simulators: list[Simulator] = []
        self.closers: list[Callable[[], None]] = []

    def simulator(self, *, tls: bool = False) -> Simulator:
        simulator = Simulator([ClusterSpec("sim", nodes_from=str(KIND_THREE_NODES))], tls=tls, token=TOKEN).start()
        self.simulators.append(simulator)
        return simulator

    def status_server(self, code: int, failing: frozenset[str]) -> str:
        reason, message = STATUS_TEXTS[code]
        server = StatusServer(code, reason, message, failing)
        self.closers.append(server.close)
        return server.url

    def black_hole(self) -> str:
        hole = BlackHole()
        self.closers.append(hole.close)
        return hole.url

    def kubeconfig(self, cluster: dict[str, Any], user: dict[str, Any]) -> Any:
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "target",
                  "clusters": [{"name": "target", "cluster": cluster}],
                  "users": [{"name": "target-user", "user": user}],
                  "contexts": [{"name": "target", "context": {"cluster": "target", "user": "target-user"}}]}
        path = self.tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(config))
        return load_kubeconfig(str(path))

    def close(self) -> None:
        for closer in self.closers:
            closer()
        for simulator in self.simulators:
            simulator.stop()


@pytest.fixture
def endpoints(tmp_path: Path) -> Iterator[Endpoints]:
    built = Endpoints(tmp_path)
    yield built
    built.close()


def _target(endpoints: Endpoints, case: str, failing: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kubeconfig cluster and user entries for one failure."""
    token_user = {"token": TOKEN}
    if case == "401":
        return {"server": endpoints.simulator().url("sim")}, {"token": WRONG_TOKEN}
    if case == "403":
        simulator = endpoints.simulator()
        for verb in ("list", "patch"):
            simulator.cluster("sim").faults.forbid(verb, "nodes")
        return {"server": simulator.url("sim")}, token_user
    if case.isdigit():
        return {"server": endpoints.status_server(int(case), failing)}, token_user
    if case == "timeout":
        return {"server": endpoints.black_hole()}, token_user
    if case == "refused":
        return {"server": closed_port_url()}, token_user
    if case == "tls":
        return {"server": endpoints.simulator(tls=True).url("sim")}, token_user  # no CA: not trusted
    raise ValueError(case)


# =============================================================================================
# The sync engine: what a tab shows


SYNC_CASES = [
    # case, state, error_kind, message pattern (the status line under the tab)
    ("401", SyncState.ERROR, "auth", r"Unauthorized"),
    ("403", SyncState.ERROR, "forbidden",
     r'nodes is forbidden: User "knm-sim-admin" cannot list resource "nodes" in API group "" at the cluster scope'),
    ("404", SyncState.ERROR, "server",
     r"HTTP 404 NotFound: the server could not find the requested resource \(retrying in \d+ s\)"),
    ("429", SyncState.ERROR, "server",
     r"HTTP 429 TooManyRequests: the server has received too many requests and has asked us to try again later "
     r"\(retrying in \d+ s\)"),
    ("500", SyncState.ERROR, "server",
     r'HTTP 500 InternalError: an error on the server \("etcd timeout"\) has prevented the request from '
     r"succeeding \(retrying in \d+ s\)"),
    ("503", SyncState.ERROR, "server",
     r"HTTP 503 ServiceUnavailable: the server is currently unable to handle the request \(retrying in \d+ s\)"),
    ("timeout", SyncState.ERROR, "timeout", r"timed out waiting for the server \(retrying in \d+ s\)"),
    ("refused", SyncState.ERROR, "unreachable", r"connection refused \(retrying in \d+ s\)"),
    ("tls", SyncState.ERROR, "tls",
     r"TLS error: certificate verify failed: self[- ]signed certificate \(retrying in \d+ s\)"),
]


def _wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return result


@pytest.mark.parametrize(("case", "state", "error_kind", "message"), SYNC_CASES, ids=[row[0] for row in SYNC_CASES])
def test_sync_engine_failure_as_the_tab_shows_it(endpoints: Endpoints, case: str, state: SyncState,
                                                 error_kind: str, message: str) -> None:
    cluster, user = _target(endpoints, case, frozenset({"GET"}))
    fleet = Fleet(endpoints.kubeconfig(cluster, user), (), settings=FAST, watch_leases=False)
    fleet.start()
    try:
        status = _wait_for(lambda: (s := fleet.status("target")).error_kind == error_kind and s, 10.0, case)
        assert status.state is state
        assert re.fullmatch(message, status.message), status.message
        assert not status.synced and status.node_count == 0
        assert status.next_retry_at is not None
        assert TOKEN not in status.message and WRONG_TOKEN not in status.message
        assert "?" not in status.message and "/api" not in status.message  # no request URL
    finally:
        fleet.stop(timeout=5.0)


def test_gone_on_resume_is_no_error_the_cache_is_relisted(endpoints: Endpoints) -> None:
    simulator = endpoints.simulator()
    fleet = Fleet(endpoints.kubeconfig({"server": simulator.url("sim")}, {"token": TOKEN}), (), settings=FAST,
                  watch_leases=False)
    fleet.start()
    try:
        _wait_for(lambda: fleet.status("target").state is SyncState.LIVE, 10.0, "live")
        lists = lambda: sum(1 for r in simulator.cluster("sim").faults.requests() if r.verb == "list")  # noqa: E731
        before = lists()
        simulator.cluster("sim").faults.gone_on_next_watches(1)
        _wait_for(lambda: lists() > before and fleet.status("target").state is SyncState.LIVE, 10.0, "a relist")
        status = fleet.status("target")
        assert status.error_kind is None and status.synced and status.node_count == 3
        assert simulator.cluster("sim").faults.counts.watch_gone == 1
    finally:
        fleet.stop(timeout=5.0)


# =============================================================================================
# Node operations: what the user reads after a write


OPERATION_CASES = [
    # case, OperationError kind, HTTP status, message pattern (the node's line in the result)
    ("401", "unauthorized", 401, r"Unauthorized"),
    ("403", "forbidden", 403,
     rf'nodes "{NODE}" is forbidden: User "knm-sim-admin" cannot patch resource "nodes" in API group "" '
     r"at the cluster scope"),
    ("404", "not-found", 404, r"the server could not find the requested resource"),
    ("409", "conflict", 409, re.escape(STATUS_TEXTS[409][1])),
    ("410", "server", 410, r"the resource is gone"),
    ("429", "server", 429, re.escape(STATUS_TEXTS[429][1])),
    ("500", "server", 500, re.escape(STATUS_TEXTS[500][1])),
    ("503", "server", 503, re.escape(STATUS_TEXTS[503][1])),
    ("timeout", "timeout", None, r"timed out waiting for the server to answer"),
    ("refused", "unreachable", None, r"cannot connect to the server: .*refused"),
    ("tls", "unreachable", None, r".*certificate verify failed: self[- ]signed certificate.*"),
]


@pytest.mark.parametrize(("case", "kind", "status", "message"), OPERATION_CASES,
                         ids=[row[0] for row in OPERATION_CASES])
def test_node_operation_failure_as_the_user_reads_it(endpoints: Endpoints, case: str, kind: str,
                                                     status: int | None, message: str) -> None:
    cluster, user = _target(endpoints, case, frozenset({"PATCH"}))
    api = make_api_client(endpoints.kubeconfig(cluster, user), "target")
    operations = NodeOperations(api, "target", "target-user", request_timeout=(1.0, 1.0))
    try:
        result = operations.cordon(NODE, reason="disk failure")
    finally:
        api.close()
    assert not result.ok and len(result.failed) == 1
    outcome = result.failed[0]
    assert outcome.error is not None
    assert (outcome.error.kind, outcome.error.status) == (kind, status)
    assert re.fullmatch(message, outcome.summary), outcome.summary
    assert result.message == f"cordon: 0 of 1 node changed; 1 failed ({NODE}: {outcome.summary})"
    assert "\n" not in result.message and TOKEN not in result.message and WRONG_TOKEN not in result.message


def test_a_missing_node_is_not_found(endpoints: Endpoints) -> None:
    simulator = endpoints.simulator()
    api = make_api_client(endpoints.kubeconfig({"server": simulator.url("sim")}, {"token": TOKEN}), "target")
    try:
        result = NodeOperations(api, "target", "target-user").uncordon("no-such-node")
    finally:
        api.close()
    outcome = result.failed[0]
    assert outcome.error is not None and outcome.error.kind == "not-found"
    assert outcome.summary == 'nodes "no-such-node" not found'
