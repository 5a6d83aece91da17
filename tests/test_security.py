"""Security: credentials never shown, TLS verified unless the kubeconfig says not, read-only sends no write,
files the product writes are private.

A whole session runs against a TLS simulator that requires a known bearer token, with a
client-certificate context, a context with a wrong token, one without the CA and one with
``insecure-skip-tls-verify``: the fleet, the headless dashboard, node operations with their audit
lines, a screenshot, logging to the product's log file at DEBUG. Afterwards neither the token,
the wrong token nor the client key appears in any log record, the log file, the audit log, the
screenshot, a status message or an operation's message.
"""

from __future__ import annotations

import asyncio
import base64
import html
import logging
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import KIND_THREE_NODES
from textual.pilot import Pilot

from knm_tui.app import KnmApp
from knm_tui.cli import setup_logging
from knm_tui.demo import DemoCluster, start_demo
from knm_tui.kube.audit import AuditLog
from knm_tui.kube.cache import SyncState
from knm_tui.kube.config import describe_user, load_kubeconfig, make_api_client
from knm_tui.kube.ops import NodeOperations, ReadOnlyError
from knm_tui.kube.sync import Fleet, SyncSettings
from knm_tui.sim import ClusterSpec, Simulator
from knm_tui.ui.health import TLS_VERIFY_OFF

TOKEN = "session-token-4f1c2a9b8e7d6c5b4a39281706f5e4d3"
WRONG_TOKEN = "expired-token-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
NODE = "kind-worker"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

FAST = SyncSettings(connect_timeout=1.0, read_timeout=2.0, watch_timeout_range=(2, 4), watch_read_margin=1.0,
                    backoff_initial=0.1, backoff_max=0.5, auth_retry_seconds=1.0, lease_retry_seconds=1.0,
                    stale_after_seconds=2.0)


@pytest.fixture(scope="module")
def client_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A throwaway client certificate and its private key (PEM), made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; it makes the test certificates")
    directory = tmp_path_factory.mktemp("client-cert")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=knm-security-test",
                    "-keyout", str(directory / "client.key"), "-out", str(directory / "client.crt")],
                   check=True, capture_output=True)
    return (directory / "client.crt").read_text(), (directory / "client.key").read_text()


def key_fragments(key_pem: str) -> list[str]:
    """Pieces of the private key that must never be shown: its base64 lines and its kubeconfig form."""
    lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    return [*lines, base64.b64encode(key_pem.encode()).decode()[:40]]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def add_context(config: dict[str, Any], name: str, cluster: dict[str, Any], user: dict[str, Any]) -> None:
    config["clusters"].append({"name": name, "cluster": cluster})
    config["users"].append({"name": f"{name}-user", "user": user})
    config["contexts"].append({"name": name, "context": {"cluster": name, "user": f"{name}-user"}})


class RecordKeeper(logging.Handler):
    """Keeps every log record, formatted with its exception, so nothing escapes the check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def wait_for(pilot: Pilot, condition: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def writes_sent(simulator: Simulator, cluster: str) -> list[str]:
    """The write requests (any method but GET) the simulator received."""
    return [f"{record.method} {record.path}" for record in simulator.cluster(cluster).faults.requests()
            if record.method in WRITE_METHODS]


# =============================================================================================
# A whole session


@pytest.fixture
def secure_simulator(client_certificate: tuple[str, str]) -> Iterator[Simulator]:
    """TLS clusters: "secure" requires TOKEN; "certs" is reached with a client certificate."""
    simulator = Simulator([ClusterSpec("secure", nodes_from=str(KIND_THREE_NODES), token=TOKEN),
                           ClusterSpec("certs", nodes_from=str(KIND_THREE_NODES))], tls=True).start()
    yield simulator
    simulator.stop()


def session_kubeconfig(simulator: Simulator, client_certificate: tuple[str, str], path: Path) -> Path:
    config = simulator.kubeconfig(current="secure")
    certificate, key = client_certificate
    ca = next(entry["cluster"]["certificate-authority-data"] for entry in config["clusters"])
    for user in config["users"]:
        if user["name"] == "certs-admin":
            user["user"] = {"client-certificate-data": b64(certificate), "client-key-data": b64(key)}
    server = simulator.url("secure")
    add_context(config, "wrong", {"server": server, "certificate-authority-data": ca}, {"token": WRONG_TOKEN})
    add_context(config, "untrusted", {"server": server}, {"token": TOKEN})
    add_context(config, "insecure", {"server": server, "insecure-skip-tls-verify": True}, {"token": TOKEN})
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def test_a_session_shows_no_token_no_key_and_says_when_tls_is_off(
    secure_simulator: Simulator, client_certificate: tuple[str, str], tmp_path: Path
) -> None:
    kubeconfig = load_kubeconfig(str(session_kubeconfig(secure_simulator, client_certificate, tmp_path / "config")))
    keeper = RecordKeeper()
    root = logging.getLogger()
    file_handler = setup_logging(tmp_path / "state" / "knm-tui.log")
    root.addHandler(keeper)
    root.setLevel(logging.DEBUG)
    audit = AuditLog(tmp_path / "state" / "audit.jsonl")
    fleet = Fleet(kubeconfig, (), settings=FAST)
    app = KnmApp(fleet, tz=timezone.utc, initial_context="secure", audit_log=audit, stop_timeout=5.0)
    shown: list[str] = []  # every text the user could see

    def operate() -> None:
        user = describe_user(kubeconfig, "secure")
        operations = NodeOperations(fleet.api_client("secure"), "secure", user, audit)
        for result in (operations.cordon(NODE, reason="disk replacement"), operations.label(NODE, "team=storage"),
                       operations.uncordon(NODE)):
            assert result.ok, result.message
            shown.append(result.message)
        wrong = NodeOperations(fleet.api_client("wrong"), "wrong", describe_user(kubeconfig, "wrong"), audit)
        failed = wrong.cordon(NODE, reason="should fail")
        assert not failed.ok and failed.failed[0].error is not None
        assert failed.failed[0].error.kind == "unauthorized"
        shown.append(failed.message)

    async def session() -> None:
        async with app.run_test(size=(180, 45)) as pilot:
            await wait_for(pilot, lambda: all(fleet.status(c).state is SyncState.LIVE
                                              for c in ("secure", "certs", "insecure")), "the reachable contexts")
            await wait_for(pilot, lambda: fleet.status("wrong").error_kind == "auth"
                           and fleet.status("untrusted").error_kind == "tls", "the failing contexts")
            await asyncio.to_thread(operate)
            await wait_for(pilot, lambda: app.tabs.tab("insecure").label.endswith("TLS off"), "the insecure tab")
            shown.append(app.export_screenshot())
            await pilot.press(str(fleet.contexts.index("insecure") + 1))
            await wait_for(pilot, lambda: TLS_VERIFY_OFF in app.status_bar.text, "the status bar to say so")
            shown.append(app.export_screenshot())
            screen_text = html.unescape(shown[-1]).replace("\xa0", " ")
            assert NODE in screen_text and TLS_VERIFY_OFF in screen_text  # the screenshot is of the dashboard
            for context in fleet.contexts:
                shown.append(app.tabs.tab(context).label)
                shown.append(app.tabs.tab(context).tooltip or "")
            await pilot.press("q")

    try:
        asyncio.run(session())
    finally:
        fleet.stop(timeout=5.0)
        root.removeHandler(keeper)
        root.removeHandler(file_handler)
        file_handler.close()

    statuses = {context: fleet.status(context) for context in fleet.contexts}
    assert statuses["insecure"].insecure_tls and not statuses["secure"].insecure_tls
    assert statuses["untrusted"].state is SyncState.ERROR
    assert statuses["untrusted"].message.startswith("TLS error: certificate verify failed")
    assert statuses["wrong"].message == "Unauthorized"
    shown += [status.message for status in statuses.values()]
    audit_text = audit.path.read_text()
    assert audit_text.count("\n") == 4 and '"outcome":"failed"' in audit_text
    log_text = (tmp_path / "state" / "knm-tui.log").read_text()
    assert 'cluster "wrong": connecting -> error (auth)' in log_text
    assert "Initialized node cache" in log_text and len(keeper.lines) > 20

    secrets = [TOKEN, WRONG_TOKEN, *key_fragments(client_certificate[1])]
    for where, text in [("log file", log_text), ("log records", "\n".join(keeper.lines)),
                        ("audit log", audit_text), ("screen and messages", "\n".join(shown))]:
        leaked = [secret[:12] + "…" for secret in secrets if secret in text]
        assert not leaked, f"{where} shows {leaked}"


# =============================================================================================
# TLS


def test_tls_is_verified_unless_the_kubeconfig_turns_it_off(secure_simulator: Simulator, tmp_path: Path) -> None:
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    add_context(config, "no-ca", {"server": secure_simulator.url("secure")}, {"token": TOKEN})
    add_context(config, "skip-verify", {"server": secure_simulator.url("secure"), "insecure-skip-tls-verify": True},
                {"token": TOKEN})
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    fleet = Fleet(load_kubeconfig(str(path)), (), settings=FAST, watch_leases=False)
    fleet.start()
    try:
        deadline = time.monotonic() + 10
        while not (fleet.status("no-ca").error_kind == "tls" and fleet.status("skip-verify").state is SyncState.LIVE):
            assert time.monotonic() < deadline, "the two contexts did not settle"
            time.sleep(0.05)
    finally:
        fleet.stop(timeout=5.0)
    assert fleet.status("no-ca").state is SyncState.ERROR and not fleet.status("no-ca").insecure_tls
    assert fleet.status("skip-verify").insecure_tls and len(fleet.cache("skip-verify")) == 3


# =============================================================================================
# Read-only


@pytest.fixture
def plain_simulator() -> Iterator[Simulator]:
    simulator = Simulator([ClusterSpec("sim", nodes_from=str(KIND_THREE_NODES))]).start()
    yield simulator
    simulator.stop()


def test_read_only_operations_refuse_every_write_before_sending_anything(plain_simulator: Simulator,
                                                                         tmp_path: Path) -> None:
    path = plain_simulator.write_kubeconfig(tmp_path / "config")
    kubeconfig = load_kubeconfig(str(path))
    api = make_api_client(kubeconfig, "sim")
    audit = AuditLog(tmp_path / "audit.jsonl")
    operations = NodeOperations(api, "sim", "sim-admin", audit, read_only=True)
    attempts: list[Callable[[], Any]] = [
        lambda: operations.cordon(NODE, reason="x"), lambda: operations.uncordon(NODE),
        lambda: operations.label(NODE, "a=b"), lambda: operations.taint(NODE, "k=v:NoSchedule"),
        lambda: operations.drain(NODE, operations.plan_drain(NODE)),
    ]
    try:
        for attempt in attempts:
            with pytest.raises(ReadOnlyError):
                attempt()
        assert not any(decision.allowed for decision in operations.permissions().values())
    finally:
        api.close()
    assert writes_sent(plain_simulator, "sim") == []  # not even an access review (a POST)
    assert any(record.method == "GET" for record in plain_simulator.cluster("sim").faults.requests())  # the plan
    assert not audit.path.exists()


OP_KEYS = ("space", "c", "u", "r", "l", "t")


def run_dashboard(simulator: Simulator, tmp_path: Path, read_only: bool,
                  keys: Callable[[Pilot], Any]) -> None:
    kubeconfig = load_kubeconfig(str(simulator.write_kubeconfig(tmp_path / f"config-{read_only}")))
    fleet = Fleet(kubeconfig, (), settings=FAST)
    app = KnmApp(fleet, tz=timezone.utc, read_only=read_only, audit_log=AuditLog(tmp_path / "audit.jsonl"),
                 stop_timeout=5.0)

    async def session() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.table.row_count == 3, "the nodes")
            await keys(pilot)
            await pilot.press("q")

    try:
        asyncio.run(session())
    finally:
        fleet.stop(timeout=5.0)


def test_read_only_dashboard_sends_no_write_whatever_keys_are_pressed(plain_simulator: Simulator,
                                                                      tmp_path: Path) -> None:
    async def press_every_operation_key(pilot: Pilot) -> None:
        for key in OP_KEYS:
            await pilot.press(key)
            await pilot.pause(0.1)
            await pilot.press("x", "enter", "escape")  # whatever a dialog would take, if one opened
        await pilot.pause(0.5)

    run_dashboard(plain_simulator, tmp_path, True, press_every_operation_key)
    assert writes_sent(plain_simulator, "sim") == []


def test_the_same_keys_do_write_when_not_read_only(plain_simulator: Simulator, tmp_path: Path) -> None:
    async def cordon_the_selected_node(pilot: Pilot) -> None:
        await pilot.press("c")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "CordonDialog", "the cordon dialog")
        await pilot.press("x", "enter")
        await wait_for(pilot, lambda: any(w.startswith("PATCH") for w in writes_sent(plain_simulator, "sim")),
                       "the cordon to be sent")

    run_dashboard(plain_simulator, tmp_path, False, cordon_the_selected_node)
    assert any(write.startswith("PATCH /api/v1/nodes/") for write in writes_sent(plain_simulator, "sim"))


# =============================================================================================
# Files the product writes


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask of 0, so a file is private only if the product asked for it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_file_and_audit_log_are_private(tmp_path: Path, open_umask: None) -> None:
    handler = setup_logging(tmp_path / "state" / "knm-tui" / "knm-tui.log")
    try:
        logging.getLogger("knm_tui").info("a line")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    audit = AuditLog(tmp_path / "audit-home" / "knm-tui" / "audit.jsonl")
    audit.record(context="c", user="u", action="cordon", nodes=["n"], parameters={}, outcome="ok")
    assert mode(tmp_path / "state" / "knm-tui" / "knm-tui.log") == 0o600
    assert mode(tmp_path / "state" / "knm-tui") == 0o700
    assert mode(audit.path) == 0o600 and mode(audit.path.parent) == 0o700


def test_demo_kubeconfig_is_private(open_umask: None) -> None:
    tiny = DemoCluster("tiny", "cloud", nodes=2, pods_per_node=1, churn_events_per_second=0.0, unhealthy_share=0.0,
                       cordoned_share=0.0, pressure_share=0.0, npd_share=0.0, seed=1)
    demo = start_demo((tiny,))
    try:
        assert mode(demo.kubeconfig_path) == 0o600
        assert mode(demo.kubeconfig_path.parent) == 0o700
    finally:
        demo.stop()


def test_credential_files_the_client_writes_are_private(client_certificate: tuple[str, str], tmp_path: Path,
                                                        open_umask: None) -> None:
    certificate, key = client_certificate
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    add_context(config, "certs", {"server": "https://127.0.0.1:1"},
                {"client-certificate-data": b64(certificate), "client-key-data": b64(key)})
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    api = make_api_client(load_kubeconfig(str(path)), "certs")
    try:
        key_file = Path(api.configuration.key_file)
        assert key_file.read_text() == key
        assert mode(key_file) == 0o600 and mode(Path(api.configuration.cert_file)) == 0o600
        assert mode(key_file.parent) == 0o700
    finally:
        api.close()
