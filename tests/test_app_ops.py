"""Node operations driven from the dashboard, against the simulator over HTTP through the real Fleet.

Each test starts a simulated cluster (the three kind nodes, a clock 50x faster so grace periods
pass in a fraction of a second), builds the real ``Fleet`` from its kubeconfig and presses keys in
the app. What changed is read back from the server (the simulator's store, or the real
``kubectl``); what was sent is read from the simulator's request log. The table is never patched
by the operations: the tests wait for the watch to bring the change.

The two snapshot tests push the drain screens with hand-built plans and results, so every frame
is the same on every run.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import KIND_THREE_NODES, Kubectl, daemonset_owner, new_daemonset, new_pdb, new_pod
from fake_fleet import FakeFleet, FrozenClock, make_node
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, Static

import knm_tui.app as knm_app_module
from knm_tui.app import KnmApp
from knm_tui.cli import EXIT_USAGE, build_parser, main, prepare
from knm_tui.kube.audit import AuditLog
from knm_tui.kube.config import describe_user, load_kubeconfig
from knm_tui.kube.ops import (
    BlockingPdb,
    Disposition,
    DrainOptions,
    DrainPlan,
    DrainResult,
    PlannedPod,
    PodProgress,
    PodState,
)
from knm_tui.kube.sync import Fleet, SyncSettings
from knm_tui.sim import ClusterSpec, SimClock, Simulator
from knm_tui.sim.cluster import SimCluster
from knm_tui.ui.drain_screen import DrainPreflightScreen, DrainScreen
from knm_tui.ui.help_screen import HelpScreen
from knm_tui.ui.ops_dialogs import ChangesDialog, ConfirmDialog, CordonDialog

CLUSTER = "ops"
WORKER = "kind-worker2"
SIZE = (160, 45)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
FAST_DRAIN = DrainOptions(poll_interval=0.05, retry_429_after=0.05)
SETTINGS = SyncSettings(connect_timeout=1.0, read_timeout=3.0, backoff_initial=0.2, backoff_max=1.0)
REPLICASET = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4f9", "uid": "5b1e0c9a-0000-4000-8000-00000000000a"}


class RecordingApp(KnmApp):
    """The app, remembering every notification it showed as (title, message, severity)."""

    CSS_PATH = str(Path(knm_app_module.__file__).parent / KnmApp.CSS_PATH)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str, str]] = []

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        self.notes.append((title, message, severity))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


# ---------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture
def sim(start_simulator: Callable[..., Simulator]) -> Simulator:
    """The three kind nodes, with a clock 50x faster than real time."""
    return start_simulator([ClusterSpec(CLUSTER, nodes_from=str(KIND_THREE_NODES))], clock=SimClock(speed=50))


@pytest.fixture
def cluster(sim: Simulator) -> SimCluster:
    return sim.cluster(CLUSTER)


@pytest.fixture
def kubeconfig_path(sim: Simulator, tmp_path: Path) -> Path:
    return sim.write_kubeconfig(tmp_path / "kubeconfig", current=CLUSTER)


@pytest.fixture
def make_app(kubeconfig_path: Path, tmp_path: Path) -> Iterator[Callable[..., RecordingApp]]:
    """Build the app on a real Fleet of the simulator's kubeconfig, auditing to ``tmp_path/audit.jsonl``."""
    fleets: list[Fleet] = []

    def make(**options: Any) -> RecordingApp:
        kubeconfig = load_kubeconfig(str(kubeconfig_path))
        fleet = Fleet(kubeconfig, kubeconfig.context_names, settings=SETTINGS)
        fleets.append(fleet)
        users = {context: describe_user(kubeconfig, context) for context in kubeconfig.context_names}
        return RecordingApp(fleet, tz=timezone.utc, users=users, audit_log=AuditLog(tmp_path / "audit.jsonl"),
                            drain_defaults=FAST_DRAIN, stop_timeout=2.0, **options)

    yield make
    for fleet in fleets:
        fleet.stop(timeout=2.0)


@pytest.fixture
def kctl(kubectl: Kubectl, kubeconfig_path: Path) -> Kubectl:
    kubectl.kubeconfig = kubeconfig_path
    return kubectl


def run_app(app: KnmApp, body: Callable[[Pilot], Awaitable[None]]) -> None:
    """Run ``body`` once the app shows the three nodes."""
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.table.row_count == 3)
            await body(pilot)

    asyncio.run(main())


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 8.0) -> None:
    """Let the app run until ``condition()`` holds (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def writes(cluster: SimCluster) -> list[tuple[str, str]]:
    """The write requests the simulator logged, as (method, path)."""
    return [(record.method, record.path) for record in cluster.faults.requests() if record.method in WRITE_METHODS]


def changes(cluster: SimCluster) -> list[tuple[str, str]]:
    """The writes that change something: every write but the access reviews (POSTs that only ask)."""
    return [write for write in writes(cluster) if not write[1].endswith("/selfsubjectaccessreviews")]


def node_writes(cluster: SimCluster) -> list[tuple[str, str]]:
    """The writes to nodes (access reviews are POSTs too, but change nothing)."""
    return [write for write in writes(cluster) if "/nodes/" in write[1]]


def node_object(cluster: SimCluster, name: str) -> dict[str, Any]:
    stored = cluster.store.get("nodes", "", name)
    assert stored is not None
    return stored.obj


def cordoned(cluster: SimCluster, name: str) -> bool:
    return node_object(cluster, name)["spec"].get("unschedulable") is True


def text_of(widget: Static) -> str:
    """The plain text a Static shows."""
    return str(widget.render())


def status_column(app: KnmApp, name: str) -> str:
    row = app.table.get_row(f"{CLUSTER}/{name}")
    assert row is not None
    return row.cells[[column.key for column in app.table.columns].index("status")]


def help_text(app: KnmApp) -> str:
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.help_renderable)
    return console.export_text()


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def add_worker_pods(cluster: SimCluster, *, grace: int = 30) -> None:
    """Two ReplicaSet pods and a DaemonSet pod on the worker."""
    proxy = cluster.store.create("daemonsets", new_daemonset("kube-proxy"))
    cluster.store.create("pods", new_pod("kube-proxy-x7k2p", WORKER, namespace="kube-system",
                                         owner=daemonset_owner(proxy)))
    for index in range(2):
        cluster.store.create("pods", new_pod(f"web-{index}", WORKER, labels={"app": "web"}, owner=REPLICASET,
                                             grace_seconds=grace))


def add_guarded_pod(cluster: SimCluster) -> None:
    """A pod whose PodDisruptionBudget allows no disruption."""
    cluster.store.create("pods", new_pod("db-0", WORKER, labels={"app": "db"}, owner=REPLICASET, grace_seconds=5))
    cluster.store.create("poddisruptionbudgets", new_pdb("db", {"app": "db"}, min_available=1))


async def open_preflight(pilot: Pilot, app: KnmApp) -> DrainPreflightScreen:
    """Put the cursor on the worker, press r and wait for the preflight's plan."""
    assert app.table.move_cursor(f"{CLUSTER}/{WORKER}")
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, DrainPreflightScreen) and app.screen.plan is not None)
    screen = app.screen
    assert isinstance(screen, DrainPreflightScreen)
    return screen


# ---------------------------------------------------------------------------- cordon and uncordon
def test_cordon_with_a_reason_then_uncordon(make_app: Callable[..., RecordingApp], cluster: SimCluster,
                                            kctl: Kubectl, tmp_path: Path) -> None:
    app = make_app()

    async def body(pilot: Pilot) -> None:
        assert app.table.move_cursor(f"{CLUSTER}/{WORKER}")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CordonDialog))
        dialog = app.screen
        assert f"{CLUSTER}: {WORKER}" in text_of(dialog.query_one(".dialog-body", Static))
        assert node_writes(cluster) == [], "nothing is sent before the confirmation"
        await pilot.press(*"kernel upgrade", "enter")
        await wait_until(pilot, lambda: status_column(app, WORKER) == "Ready,SchedulingDisabled")
        assert kctl("get", "node", WORKER).stdout.splitlines()[1].split()[1] == "Ready,SchedulingDisabled"
        assert app.panel.key == f"{CLUSTER}/{WORKER}"
        await wait_until(pilot, lambda: any("Reason  kernel upgrade" in line for line in app.panel.lines))
        await wait_until(pilot, lambda: any(title == f"Cordon · {CLUSTER}" for title, _, _ in app.notes))
        [(_, message, severity)] = [note for note in app.notes if note[0] == f"Cordon · {CLUSTER}"]
        assert severity == "information"
        assert f"{WORKER}: cordoned (kernel upgrade)" in message

        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: status_column(app, WORKER) == "Ready")

    run_app(app, body)
    result = kctl("get", "node", WORKER, "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["spec"].get("unschedulable") is None
    assert [(method, path) for method, path in node_writes(cluster)] == [("PATCH", f"/api/v1/nodes/{WORKER}")] * 2
    [cordon_line, uncordon_line] = audit_lines(tmp_path)
    assert (cordon_line["action"], cordon_line["nodes"], cordon_line["parameters"]) == (
        "cordon", [WORKER], {"reason": "kernel upgrade"})
    assert cordon_line["user"] == f"{CLUSTER}-admin" and cordon_line["context"] == CLUSTER
    assert uncordon_line["action"] == "uncordon" and uncordon_line["outcome"] == "ok"


def test_escape_cancels_the_cordon_and_sends_nothing(make_app: Callable[..., RecordingApp],
                                                     cluster: SimCluster) -> None:
    app = make_app()

    async def body(pilot: Pilot) -> None:
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CordonDialog))
        await pilot.press(*"oops", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CordonDialog))
        await pilot.pause(0.3)

    run_app(app, body)
    assert node_writes(cluster) == []
    assert not any(cordoned(cluster, name) for name in ("kind-control-plane", "kind-worker", WORKER))


def test_marked_nodes_are_cordoned_together(make_app: Callable[..., RecordingApp], cluster: SimCluster) -> None:
    app = make_app()

    async def body(pilot: Pilot) -> None:
        assert app.table.cursor_key == f"{CLUSTER}/kind-control-plane"
        await pilot.press("down", "space", "space")  # marks kind-worker, then kind-worker2
        assert app.table.marked_keys == {f"{CLUSTER}/kind-worker", f"{CLUSTER}/{WORKER}"}
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CordonDialog))
        body_text = text_of(app.screen.query_one(".dialog-body", Static))
        assert f"{CLUSTER}: kind-worker, {WORKER}" in body_text
        assert app.screen.query_one(".dialog-box").border_title == "Cordon 2 nodes"
        await pilot.press("enter")
        await wait_until(pilot, lambda: status_column(app, WORKER) == "Ready,SchedulingDisabled"
                         and status_column(app, "kind-worker") == "NotReady,SchedulingDisabled")
        assert app.table.marked_keys == frozenset(), "the marks have served"
        await wait_until(pilot, lambda: any("2 of 2 nodes changed" in message for _, message, _ in app.notes))

    run_app(app, body)
    assert cordoned(cluster, "kind-worker") and cordoned(cluster, WORKER)
    assert not cordoned(cluster, "kind-control-plane")


# ---------------------------------------------------------------------------- labels and taints
def test_invalid_labels_and_taints_are_refused_in_the_dialog_and_valid_ones_applied(
        make_app: Callable[..., RecordingApp], cluster: SimCluster, kctl: Kubectl) -> None:
    cluster.store.mutate("nodes", "", WORKER, lambda node: node["metadata"]["labels"].update({"tier": "web"}))
    app = make_app()

    async def body(pilot: Pilot) -> None:
        assert app.table.move_cursor(f"{CLUSTER}/{WORKER}")
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, ChangesDialog))
        dialog = app.screen
        await pilot.press(*"a=b c=d!", "enter")
        assert app.screen is dialog, "invalid input keeps the dialog open"
        preview = text_of(dialog.query_one("#preview", Static))
        assert preview.startswith('✖ invalid label value: "c=d!": a valid label must be an empty string')
        await pilot.press("ctrl+u", *"team=a tier-")
        assert text_of(dialog.query_one("#preview", Static)) == "✓ set team=a; remove tier"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ChangesDialog))
        await wait_until(pilot, lambda: node_object(cluster, WORKER)["metadata"]["labels"].get("team") == "a")
        assert "tier" not in node_object(cluster, WORKER)["metadata"]["labels"]

        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, ChangesDialog))
        dialog = app.screen
        assert "Current taints: none" in text_of(dialog.query_one(".dialog-body", Static))
        await pilot.press(*"gpu:NoSchedul")
        assert text_of(dialog.query_one("#preview", Static)) == "✖ invalid taint effect: NoSchedul, unsupported taint effect"
        await pilot.press("enter")
        assert app.screen is dialog
        patches_before = len(node_writes(cluster))
        await pilot.press("e")
        assert text_of(dialog.query_one("#preview", Static)) == "✓ add gpu:NoSchedule"
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(node_object(cluster, WORKER)["spec"].get("taints")))
        assert len(node_writes(cluster)) == patches_before + 1
        await wait_until(pilot, lambda: any(title == f"Taints · {CLUSTER}" for title, _, _ in app.notes))

    run_app(app, body)
    assert len(node_writes(cluster)) == 2, "one PATCH for the labels, one for the taint; nothing for invalid input"
    described = kctl("describe", "node", WORKER).stdout
    assert "Taints:             gpu:NoSchedule" in described


# ---------------------------------------------------------------------------- drain
def test_drain_end_to_end_preflight_progress_and_verdict(make_app: Callable[..., RecordingApp], cluster: SimCluster,
                                                          tmp_path: Path) -> None:
    add_worker_pods(cluster)
    app = make_app()
    seen_states: set[PodState] = set()

    async def body(pilot: Pilot) -> None:
        preflight = await open_preflight(pilot, app)
        plan_text = text_of(preflight.query_one("#plan", Static))
        assert "Will evict (2)" in plan_text
        assert "default/web-0" in plan_text and "ReplicaSet/web-7d4f9" in plan_text
        assert "Skipped, left in place (1)" in plan_text
        assert "kube-system/kube-proxy-x7k2p" in plan_text and "managed by DaemonSet kube-proxy" in plan_text
        assert text_of(preflight.query_one("#plan-verdict", Static)).startswith(f"Ready: cordon {WORKER}, then evict 2 pods")
        assert changes(cluster) == [], "the preflight only reads"
        assert app.focused is not None and app.focused.id == "confirm"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DrainScreen))
        drain_screen = app.screen
        assert isinstance(drain_screen, DrainScreen)

        def finished() -> bool:
            seen_states.update(pod.state for pod in drain_screen.pods.values())
            return drain_screen.result is not None

        await wait_until(pilot, finished, timeout=10)
        result = drain_screen.result
        assert result is not None and result.drained, result.message
        assert {pod.state for pod in drain_screen.pods.values()} == {PodState.GONE}
        assert text_of(drain_screen.query_one("#drain-counts", Static)) == "2 of 2 pods gone"
        verdict = text_of(drain_screen.query_one("#drain-verdict", Static))
        assert verdict.startswith("✓ DRAINED: 2 pods gone, 1 left in place.")
        assert f"{WORKER} stays cordoned" in verdict
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, DrainScreen))
        assert (f"Drain · {CLUSTER}", result.message, "information") in app.notes
        await wait_until(pilot, lambda: status_column(app, WORKER) == "Ready,SchedulingDisabled")

    run_app(app, body)
    assert PodState.TERMINATING in seen_states, "the screen shows pods terminating while the drain runs"
    assert cluster.store.get("pods", "default", "web-0") is None and cluster.store.get("pods", "default", "web-1") is None
    assert cluster.store.get("pods", "kube-system", "kube-proxy-x7k2p") is not None
    assert cordoned(cluster, WORKER)
    assert not [write for write in writes(cluster) if write[0] == "DELETE"]
    [line] = [entry for entry in audit_lines(tmp_path) if entry["action"] == "drain"]
    assert line["outcome"].startswith("drained") and {pod["name"] for pod in line["pods"]} == {"web-0", "web-1"}


def test_a_drain_blocked_by_a_pdb_times_out_not_drained_and_the_node_stays_cordoned(
        make_app: Callable[..., RecordingApp], cluster: SimCluster) -> None:
    add_guarded_pod(cluster)
    app = make_app()

    async def body(pilot: Pilot) -> None:
        preflight = await open_preflight(pilot, app)
        plan_text = text_of(preflight.query_one("#plan", Static))
        assert "PodDisruptionBudgets blocking now (1)" in plan_text
        assert "default/db: PodDisruptionBudget db needs 1 healthy pods and has 1 currently" in plan_text
        assert "blocked now by PDB db" in plan_text
        preflight.query_one("#timeout", Input).focus()
        await pilot.press(*"1s")
        await wait_until(pilot, lambda: preflight.can_confirm and preflight.plan is not None
                         and preflight.plan.options.timeout_seconds == 1.0)
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: isinstance(app.screen, DrainScreen))
        drain_screen = app.screen
        assert isinstance(drain_screen, DrainScreen)
        await wait_until(pilot, lambda: drain_screen.result is not None, timeout=10)
        result = drain_screen.result
        assert result is not None and not result.drained and result.timed_out and result.node_cordoned
        row = drain_screen.pods["default/db-0"]
        assert row.state == PodState.BLOCKED_BY_PDB and row.retries >= 2 and row.pdb == "db"
        verdict = text_of(drain_screen.query_one("#drain-verdict", Static)).replace("\n", " ")
        assert verdict.startswith("✖ NOT DRAINED: timed out after 1 s; 1 pod not gone.")
        assert ("default/db-0: blocked by PDB after" in verdict
                and "(PDB db): The disruption budget db needs 1 healthy pods and has 1 currently" in verdict)
        assert verdict.endswith(f"The node {WORKER} stays cordoned.")
        await pilot.press("escape")
        await wait_until(pilot, lambda: any(severity == "error" and title == f"Drain · {CLUSTER}"
                                            for title, _, severity in app.notes))

    run_app(app, body)
    assert cordoned(cluster, WORKER)
    assert cluster.store.get("pods", "default", "db-0") is not None
    assert not [write for write in writes(cluster) if write[0] == "DELETE"]


def test_cancel_stops_the_drain_and_says_the_node_stays_cordoned(make_app: Callable[..., RecordingApp],
                                                                 cluster: SimCluster) -> None:
    add_guarded_pod(cluster)
    app = make_app()

    async def body(pilot: Pilot) -> None:
        await open_preflight(pilot, app)
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: isinstance(app.screen, DrainScreen))
        drain_screen = app.screen
        assert isinstance(drain_screen, DrainScreen)
        await wait_until(pilot, lambda: drain_screen.pods["default/db-0"].state == PodState.BLOCKED_BY_PDB)
        assert "blocked by PDB" in text_of(drain_screen.query_one("#drain-counts", Static))
        await pilot.press("escape")
        await wait_until(pilot, lambda: drain_screen.result is not None, timeout=5)
        evictions = len([write for write in writes(cluster) if write[1].endswith("/eviction")])
        result = drain_screen.result
        assert result is not None and result.cancelled and not result.drained
        verdict = text_of(drain_screen.query_one("#drain-verdict", Static))
        assert verdict.startswith("✖ NOT DRAINED: cancelled; 1 pod not gone.")
        assert f"The node {WORKER} stays cordoned." in verdict
        await pilot.pause(0.3)
        assert len([write for write in writes(cluster) if write[1].endswith("/eviction")]) == evictions

    run_app(app, body)
    assert cordoned(cluster, WORKER)
    assert cluster.store.get("pods", "default", "db-0") is not None


def test_a_control_plane_node_asks_twice(make_app: Callable[..., RecordingApp], cluster: SimCluster) -> None:
    app = make_app()

    async def body(pilot: Pilot) -> None:
        assert app.table.move_cursor(f"{CLUSTER}/kind-control-plane")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, DrainPreflightScreen) and app.screen.can_confirm)
        preflight = app.screen
        assert "is a control-plane node" in text_of(preflight.query_one(".drain-warning", Static))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.focused is not None and app.focused.id == "cancel", "the second question starts on Cancel"
        await pilot.press("enter")  # Cancel: back to the preflight, nothing sent
        await wait_until(pilot, lambda: app.screen is preflight)
        assert node_writes(cluster) == []
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, DrainScreen) and app.screen.result is not None)
        assert app.screen.result.drained

    run_app(app, body)
    assert cordoned(cluster, "kind-control-plane")


# ---------------------------------------------------------------------------- safety
@pytest.mark.parametrize("options", [{"read_only": True}, {"read_only_contexts": [CLUSTER]}],
                         ids=["read-only", "read-only-context"])
def test_read_only_hides_every_operation_and_sends_no_write(make_app: Callable[..., RecordingApp],
                                                            cluster: SimCluster, options: dict[str, Any]) -> None:
    add_worker_pods(cluster)
    app = make_app(**options)

    async def body(pilot: Pilot) -> None:
        main_screen = app.screen
        for key in ("space", "c", "u", "r", "l", "t", "down", "space", "c", "enter", "y", "r", "enter"):
            await pilot.press(key)
            await pilot.pause(0.05)
            assert app.screen is main_screen, key
        assert app.table.marked_keys == frozenset()
        await pilot.press("question_mark")
        text = help_text(app)
        assert "Dashboard" in text and "Node operations" not in text
        for word in ("Cordon", "Uncordon", "Drain", "taints", "labels", "Mark or unmark"):
            assert word not in text, word
        await pilot.press("escape")
        active = {binding.binding.action for binding in app.screen.active_bindings.values()}
        assert not active & {"cordon", "uncordon", "drain", "labels", "taints", "toggle_mark"}
        await pilot.pause(0.3)

    run_app(app, body)
    assert writes(cluster) == [], "read-only: not one write request"


def test_where_rbac_denies_patch_cordon_is_unavailable_with_the_reason(make_app: Callable[..., RecordingApp],
                                                                       cluster: SimCluster) -> None:
    cluster.faults.forbid("patch", "nodes")
    app = make_app()

    async def body(pilot: Pilot) -> None:
        main_screen = app.screen
        await pilot.press("c")
        await wait_until(pilot, lambda: any(title == "Cordon unavailable" for title, _, _ in app.notes))
        [(_, message, severity)] = [note for note in app.notes if note[0] == "Cordon unavailable"]
        assert severity == "error"
        assert message == f"Cordon is unavailable in {CLUSTER}: not allowed to patch nodes"
        await pilot.pause(0.2)
        assert app.screen is main_screen, "no dialog for an action RBAC denies"
        await pilot.press("question_mark")
        text = help_text(app)
        assert "Cordon the marked nodes (else the selected one), with an optional reason (unavailable here: " \
               "not allowed to patch nodes)" in text
        await pilot.press("escape")
        await pilot.press("t")
        await wait_until(pilot, lambda: any(title == "Taints unavailable" for title, _, _ in app.notes))
        assert app.screen is main_screen

    run_app(app, body)
    assert node_writes(cluster) == []
    reviews = [record for record in cluster.faults.requests() if record.path.endswith("/selfsubjectaccessreviews")]
    assert len(reviews) == 3, "the permissions of a context are asked once"


# ---------------------------------------------------------------------------- the command line
def test_audit_log_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubeconfig_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    chosen = tmp_path / "audit" / "ops.jsonl"
    session = prepare(build_parser().parse_args(["--kubeconfig", str(kubeconfig_path), "--audit-log", str(chosen),
                                                 "--read-only-context", CLUSTER]))
    try:
        assert session.app.node_ops.audit is not None and session.app.node_ops.audit.path == chosen
        assert chosen.exists() and oct(chosen.stat().st_mode & 0o777) == "0o600"
        assert session.app.node_ops.is_read_only(CLUSTER) and not session.app.read_only
        assert session.app.node_ops.users == {CLUSTER: f"{CLUSTER}-admin"}
    finally:
        session.close()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["--kubeconfig", str(kubeconfig_path), "--audit-log", str(blocker / "audit.jsonl")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"knm-tui: cannot open the audit log {blocker / 'audit.jsonl'}: ") and "--audit-log" in err
    assert main(["--kubeconfig", str(kubeconfig_path), "--read-only-context", "nope"]) == EXIT_USAGE
    assert "--read-only-context: no context named nope" in capsys.readouterr().err


# ---------------------------------------------------------------------------- snapshots
SNAPSHOT_SIZE = (150, 42)
SNAPSHOT_NODE = "ip-10-0-7-91.eu-west-1.compute.internal"
RS = "ReplicaSet/checkout-6d9f7c5b8"


def snapshot_app() -> KnmApp:
    fleet = FakeFleet()
    fleet.add_cluster("cloud-prod", [make_node(SNAPSHOT_NODE)])
    return KnmApp(fleet, clock=FrozenClock(), tz=timezone.utc)


def snapshot_plan() -> DrainPlan:
    """A preflight with every kind of pod: to evict, blocked by a PDB, needing force, skipped, terminating."""
    options = DrainOptions(delete_emptydir_data=True, timeout_seconds=600)

    def pod(namespace: str, name: str, disposition: Disposition, **fields: Any) -> PlannedPod:
        return PlannedPod(namespace, name, f"uid-{name}", "Running", disposition, **fields)

    budget = BlockingPdb("shop", "payments", 0, 2, 2, ("shop/payments-0",))
    return DrainPlan(
        node=SNAPSHOT_NODE, options=options,
        to_evict=(pod("shop", "checkout-6d9f7c5b8-x2x9q", Disposition.EVICT, owner=RS, pdbs=("checkout",)),
                  pod("shop", "payments-0", Disposition.EVICT, owner="StatefulSet/payments", pdbs=("payments",)),
                  pod("shop", "cache-0", Disposition.EVICT, owner="StatefulSet/cache",
                      warning="its emptyDir data will be deleted")),
        skipped=(pod("kube-system", "kube-proxy-8xk2d", Disposition.SKIP, owner="DaemonSet/kube-proxy",
                     reason="managed by DaemonSet kube-proxy"),
                 pod("monitoring", "node-exporter-q7r4t", Disposition.SKIP, owner="DaemonSet/node-exporter",
                     reason="managed by DaemonSet node-exporter"),
                 pod("batch", "report-28712-abcde", Disposition.SKIP, owner="Job/report-28712",
                     reason="already terminating", terminating=True)),
        needs_choice=(pod("default", "debug-shell", Disposition.NEEDS_CHOICE, needs=("force",),
                          reason="no controller will recreate it: needs force"),),
        blocking_pdbs=(budget,),
        warnings=(f"{budget.message}: the drain will wait for it (shop/payments-0)",),
        eviction_version="policy/v1", node_cordoned=False,
    )


def snapshot_result(plan: DrainPlan) -> DrainResult:
    """A drain that timed out with one pod held by its PodDisruptionBudget."""
    message = "The disruption budget payments needs 2 healthy pods and has 2 currently"
    pods = (
        PodProgress("shop", "checkout-6d9f7c5b8-x2x9q", "uid-1", PodState.GONE, message="gone"),
        PodProgress("shop", "payments-0", "uid-2", PodState.BLOCKED_BY_PDB, retries=118, message=message, pdb="payments"),
        PodProgress("shop", "cache-0", "uid-3", PodState.GONE, message="gone"),
        PodProgress("batch", "report-28712-abcde", "uid-4", PodState.GONE, message="gone"),
    )
    return DrainResult(
        drained=False, node_cordoned=True, pods=pods, timed_out=True, skipped=plan.skipped[:2], elapsed_seconds=600.0,
        message=(f"node {SNAPSHOT_NODE} not drained: timed out after 600 s; 1 pod not gone (shop/payments-0 "
                 f"blocked-by-pdb after 118 refusals: {message}); the node stays cordoned"),
    )


def test_snapshot_drain_preflight(snap_compare: Any) -> None:
    async def push(pilot: Pilot) -> None:
        await pilot.app.push_screen(DrainPreflightScreen(SNAPSHOT_NODE, "cloud-prod", plan=snapshot_plan()))
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAPSHOT_SIZE, run_before=push)


def test_snapshot_drain_verdict(snap_compare: Any) -> None:
    plan = snapshot_plan()

    async def push(pilot: Pilot) -> None:
        await pilot.app.push_screen(DrainScreen(SNAPSHOT_NODE, "cloud-prod", plan, result=snapshot_result(plan)))
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SNAPSHOT_SIZE, run_before=push)
