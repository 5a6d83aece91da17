"""The drain: a preflight screen where nothing has changed yet, then live progress and a verdict.

:class:`DrainPreflightScreen` shows what a drain of one node would do with the options chosen on
it: the pods to evict, those skipped and why, those that need an explicit choice, and the
PodDisruptionBudgets that block right now. Every change of an option reads the plan again (in a
thread worker, never on the event loop). Deleting pods instead of evicting them is a separate,
loudly-labelled choice that asks again before it runs; so does draining a control-plane node.
It dismisses with a :class:`DrainRequest` (the plan to run and the cordon reason) or ``None``.

:class:`DrainScreen` runs a :class:`~knm_tui.kube.ops.Drain` in a thread worker and shows each
pod's state (pending, evicting, blocked by a PDB with its retry count and message, terminating,
gone, failed) and an overall progress bar. The drain's progress callback runs on the drain's
thread and only writes the latest state per pod into a lock-guarded dict; the screen folds that
dict into its widgets every 0.2 s. Escape or ctrl+c cancels at any time. At the end the screen
gives a verdict: drained, or not drained with every remaining pod and why, and whether the node
stays cordoned.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from typing import Callable, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Checkbox, DataTable, Input, ProgressBar, Static
from textual.worker import Worker, WorkerState

from knm_tui.kube.ops import (
    CHOICE_DELETE_EMPTYDIR_DATA,
    CHOICE_FORCE,
    CHOICE_IGNORE_DAEMONSETS,
    Drain,
    DrainOptions,
    DrainPlan,
    DrainResult,
    OperationError,
    OperationInputError,
    PlannedPod,
    PodProgress,
    PodState,
    ReadOnlyError,
)
from knm_tui.ui.ops_dialogs import ConfirmDialog

PROGRESS_FLUSH_SECONDS = 0.2
REPLAN_DELAY_SECONDS = 0.3
POD_KEY_WIDTH = 44
RETRIES_WIDTH = 7
DETAILS_MIN_WIDTH = 40

Planner = Callable[[DrainOptions], DrainPlan]
DrainFactory = Callable[[Callable[[PodProgress], None]], Drain]

CHOICE_WIDGETS: tuple[tuple[str, str], ...] = (
    (CHOICE_IGNORE_DAEMONSETS, "ignore-daemonsets"),
    (CHOICE_DELETE_EMPTYDIR_DATA, "delete-emptydir-data"),
    (CHOICE_FORCE, "force"),
)
STATE_WORDS: dict[PodState, str] = {
    PodState.PENDING: "pending",
    PodState.EVICTING: "evicting",
    PodState.BLOCKED_BY_PDB: "blocked by PDB",
    PodState.TERMINATING: "terminating",
    PodState.GONE: "gone",
    PodState.FAILED: "failed",
}
STATE_TEXT: dict[PodState, tuple[str, str]] = {
    PodState.PENDING: ("· pending", "$text-muted"),
    PodState.EVICTING: ("→ evicting", "$text-primary"),
    PodState.BLOCKED_BY_PDB: ("‖ blocked by PDB", "bold $text-warning"),
    PodState.TERMINATING: ("… terminating", "$text-primary"),
    PodState.GONE: ("✓ gone", "$text-success"),
    PodState.FAILED: ("✖ failed", "bold $text-error"),
}


class OptionBox(Checkbox, inherit_bindings=False):
    """A checkbox whose mark is text as well as colour: ✓ when on, blank when off.

    Only space toggles it: Enter, pressed out of habit to confirm, must never flip a drain option.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "toggle_button", "Toggle", show=False)]

    def __init__(self, label: str, value: bool = False, *, id: str | None = None) -> None:
        super().__init__(label, value, id=id, compact=True)
        self._show_mark()

    def watch_value(self) -> None:
        """Update the mark, then let the checkbox announce the change."""
        self._show_mark()
        super().watch_value()

    def _show_mark(self) -> None:
        self.BUTTON_INNER = "✓" if self.value else " "


@dataclass(frozen=True)
class DrainRequest:
    """What the preflight decided: the plan to run (made with the chosen options) and the cordon reason."""

    plan: DrainPlan
    reason: str = ""


def parse_seconds(text: str, what: str, *, allow_zero: bool) -> float | None:
    """``""`` → ``None``; ``30``, ``30s``, ``5m``, ``1h`` → seconds. Raises OperationInputError."""
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m|h)?", cleaned)
    if match is None:
        raise OperationInputError(f"the {what} must be a number of seconds (or like 90s, 5m, 1h), not {text.strip()!r}")
    seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise OperationInputError(f"the {what} must be more than 0 seconds")
    return seconds


def _format_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _pod_line(pod: PlannedPod, detail: str, style: str = "") -> Content:
    key = pod.key if len(pod.key) <= POD_KEY_WIDTH else pod.key[: POD_KEY_WIDTH - 1] + "…"
    return Content.assemble(("  " + key.ljust(POD_KEY_WIDTH + 2), style), (detail, style))


def plan_content(plan: DrainPlan) -> Content:
    """The preflight as text: pods to evict, needing a choice, skipped, waiting for; blocking PDBs; warnings."""
    blocking_pods = {pod for budget in plan.blocking_pdbs for pod in budget.pods}
    lines: list[Content] = []
    verb = "delete" if plan.options.disable_eviction else "evict"
    lines.append(Content.styled(f"Will {verb} ({len(plan.to_evict)})", "bold $text-primary"))
    if not plan.to_evict:
        lines.append(Content.styled("  none", "$text-muted"))
    for pod in plan.to_evict:
        parts = [pod.owner or "no controller"]
        if pod.key in blocking_pods:
            parts.append(f"blocked now by PDB {', '.join(pod.pdbs)}")
        elif pod.pdbs:
            parts.append(f"PDB {', '.join(pod.pdbs)}")
        if pod.warning:
            parts.append(pod.warning)
        style = "$text-warning" if pod.key in blocking_pods or pod.warning else ""
        lines.append(_pod_line(pod, " · ".join(parts), style))
    if plan.needs_choice:
        lines.append(Content(""))
        lines.append(Content.styled(f"Need a choice ({len(plan.needs_choice)})", "bold $text-warning"))
        for pod in plan.needs_choice:
            lines.append(_pod_line(pod, pod.reason, "$text-warning"))
    waiting = plan.waiting_for
    left = [pod for pod in plan.skipped if not pod.terminating]
    lines.append(Content(""))
    lines.append(Content.styled(f"Skipped, left in place ({len(left)})", "bold $text-primary"))
    if not left:
        lines.append(Content.styled("  none", "$text-muted"))
    for pod in left:
        lines.append(_pod_line(pod, pod.reason, "$text-muted"))
    if waiting:
        lines.append(Content(""))
        lines.append(Content.styled(f"Already terminating, the drain waits for them ({len(waiting)})", "bold $text-primary"))
        for pod in waiting:
            lines.append(_pod_line(pod, pod.owner or "no controller", "$text-muted"))
    if plan.blocking_pdbs:
        lines.append(Content(""))
        lines.append(Content.styled(f"PodDisruptionBudgets blocking now ({len(plan.blocking_pdbs)})", "bold $text-error"))
        for budget in plan.blocking_pdbs:
            lines.append(Content.styled(f"  {budget.namespace}/{budget.name}: {budget.message}", "$text-error"))
            lines.append(Content.styled(f"    covers {', '.join(budget.pods)}; the drain retries until it allows "
                                        "a disruption (or the timeout ends it)", "$text-muted"))
    notes = [warning for warning in plan.warnings
             if not any(warning.startswith(budget.message) for budget in plan.blocking_pdbs)]
    if notes:
        lines.append(Content(""))
        lines.append(Content.styled("Warnings", "bold $text-warning"))
        for warning in notes:
            lines.append(Content.styled(f"  {warning}", "$text-warning"))
    return Content("\n").join(lines)


def plan_verdict(plan: DrainPlan) -> tuple[Content, bool]:
    """One or more lines saying whether the drain can start, and whether it can."""
    reasons = plan.blocked_reasons
    if reasons:
        lines = [Content.styled("Cannot start yet:", "bold $text-error")]
        lines.extend(Content.styled(f"  {reason}", "$text-error") for reason in reasons)
        return Content("\n").join(lines), False
    count = len(plan.to_evict)
    pods = f"{count} pod{'s' if count != 1 else ''}"
    cordon = f"{plan.node} is already cordoned; then" if plan.node_cordoned else f"cordon {plan.node}, then"
    if plan.options.disable_eviction:
        text = f"Ready: {cordon} DELETE {pods} (PodDisruptionBudgets ignored)."
        return Content.styled(text, "bold $text-error"), True
    text = f"Ready: {cordon} evict {pods} through the Eviction API{', respecting PodDisruptionBudgets' if count else ''}."
    return Content.styled(text, "bold $text-success"), True


class DrainPreflightScreen(ModalScreen[DrainRequest | None]):
    """What a drain of ``node`` would do, with its options; nothing changes until Drain is pressed.

    ``planner`` makes a plan for given options (it only reads; it runs in a thread worker).
    ``plan`` is shown at once when given; with ``planner=None`` the screen only shows ``plan``.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel the drain")]

    class PlanReady(Message):
        """A preflight finished."""

        def __init__(self, generation: int, plan: DrainPlan) -> None:
            self.generation = generation
            self.plan = plan
            super().__init__()

    class PlanFailed(Message):
        """A preflight could not be made; ``message`` is one line."""

        def __init__(self, generation: int, message: str) -> None:
            self.generation = generation
            self.message = message
            super().__init__()

    def __init__(self, node: str, context: str, *, defaults: DrainOptions | None = None,
                 planner: Planner | None = None, plan: DrainPlan | None = None,
                 control_plane: bool = False) -> None:
        super().__init__(classes="drain-screen")
        self.node = node
        self.context = context
        self.defaults = plan.options if plan is not None and defaults is None else (defaults or DrainOptions())
        self.planner = planner
        self.plan = plan
        self.control_plane = control_plane
        self.options: DrainOptions | None = self.defaults
        self._generation = 0
        self._planning = False
        self._replan_timer: Timer | None = None
        self._focused_once = False

    def compose(self) -> ComposeResult:
        """Options, the plan, the verdict line and the buttons."""
        options = self.defaults
        with Vertical(classes="drain-box") as box:
            box.border_title = f"Drain {self.node} · {self.context} · preflight (nothing has changed yet)"
            box.border_subtitle = "Tab moves · Space toggles · Escape cancels"
            if self.control_plane:
                yield Static(f"⚠ {self.node} is a control-plane node: draining it may disturb the cluster itself.",
                             classes="drain-warning")
            with Horizontal(classes="drain-options"):
                yield OptionBox("Ignore DaemonSets", options.ignore_daemonsets, id="ignore-daemonsets")
                yield OptionBox("Delete emptyDir data", options.delete_emptydir_data, id="delete-emptydir-data")
                yield OptionBox("Force (pods without a controller)", options.force, id="force")
            with Horizontal(classes="drain-options"):
                yield Static("Grace period (s):", classes="drain-label")
                yield Input(_format_seconds(options.grace_period_seconds), placeholder="each pod's own", id="grace",
                            compact=True, classes="drain-number")
                yield Static("Timeout:", classes="drain-label")
                yield Input(_format_seconds(options.timeout_seconds), placeholder="none", id="timeout",
                            compact=True, classes="drain-number")
                yield Static("Reason:", classes="drain-label")
                yield Input(placeholder="optional, recorded with the cordon", id="reason", compact=True)
            yield OptionBox("DELETE pods instead of evicting them: bypasses PodDisruptionBudgets",
                            options.disable_eviction, id="disable-eviction")
            yield Static("", id="options-error", classes="drain-error")
            with VerticalScroll(id="plan-scroll"):
                yield Static(Content.styled("Reading the node's pods…", "$text-muted"), id="plan")
            yield Static("", id="plan-verdict")
            with Horizontal(classes="drain-buttons"):
                yield Button(self._confirm_label(), variant="warning", id="confirm", compact=True, disabled=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Show the given plan, or read one."""
        self.query_one("#cancel", Button).focus()
        self.query_one("#options-error", Static).display = False
        self._sync_danger()
        if self.plan is not None:
            self._show_plan(self.plan)
        elif self.planner is not None:
            self._replan()

    # ---------------------------------------------------------------- options

    def _confirm_label(self) -> str:
        options = self.options or self.defaults
        return "Drain: DELETE pods" if options.disable_eviction else "Drain"

    def _read_options(self) -> DrainOptions:
        """The options the widgets say; raises OperationInputError."""
        grace = parse_seconds(self.query_one("#grace", Input).value, "grace period", allow_zero=True)
        if grace is not None and grace != int(grace):
            raise OperationInputError("the grace period must be a whole number of seconds")
        timeout = parse_seconds(self.query_one("#timeout", Input).value, "timeout", allow_zero=False)
        return replace(
            self.defaults,
            ignore_daemonsets=self.query_one("#ignore-daemonsets", Checkbox).value,
            delete_emptydir_data=self.query_one("#delete-emptydir-data", Checkbox).value,
            force=self.query_one("#force", Checkbox).value,
            disable_eviction=self.query_one("#disable-eviction", Checkbox).value,
            grace_period_seconds=None if grace is None else int(grace),
            timeout_seconds=timeout,
        )

    @on(Checkbox.Changed)
    @on(Input.Changed, "#grace, #timeout")
    def _options_changed(self) -> None:
        error = self.query_one("#options-error", Static)
        try:
            self.options = self._read_options()
        except OperationInputError as problem:
            self.options = None
            error.update(Content.styled(f"✖ {problem.message}", "bold"))
            error.display = True
            self._refresh_confirm()
            return
        error.display = False
        self._sync_danger()
        self._refresh_confirm()
        if self.planner is not None and (self.plan is None or self.plan.options != self.options):
            if self._replan_timer is not None:
                self._replan_timer.stop()
            self._replan_timer = self.set_timer(REPLAN_DELAY_SECONDS, self._replan)

    def _sync_danger(self) -> None:
        options = self.options or self.defaults
        self.set_class(options.disable_eviction, "-delete")
        confirm = self.query_one("#confirm", Button)
        confirm.label = self._confirm_label()
        confirm.variant = "error" if options.disable_eviction else "warning"

    # ---------------------------------------------------------------- the plan

    def _replan(self) -> None:
        self._replan_timer = None
        options = self.options
        if options is None or self.planner is None:
            return
        self._generation += 1
        self._planning = True
        self._refresh_confirm()
        self.query_one("#plan-verdict", Static).update(Content.styled("Reading the node's pods…", "$text-muted"))
        self._make_plan(self._generation, options)

    @work(thread=True, exclusive=True, group="preflight", exit_on_error=False)
    def _make_plan(self, generation: int, options: DrainOptions) -> None:
        """Run the planner in a thread; post the plan or the failure."""
        planner = self.planner
        if planner is None:
            return
        try:
            plan = planner(options)
        except (OperationError, OperationInputError) as error:
            self.post_message(self.PlanFailed(generation, error.message))
            return
        self.post_message(self.PlanReady(generation, plan))

    def on_drain_preflight_screen_plan_ready(self, message: PlanReady) -> None:
        """Show the newest plan."""
        if message.generation == self._generation:
            self._planning = False
            self._show_plan(message.plan)

    def on_drain_preflight_screen_plan_failed(self, message: PlanFailed) -> None:
        """Say why the preflight could not be made."""
        if message.generation != self._generation:
            return
        self._planning = False
        self.plan = None
        self.query_one("#plan", Static).update(Content.styled(f"✖ The preflight failed: {message.message}", "bold $text-error"))
        self.query_one("#plan-verdict", Static).update(Content.styled("Cannot drain without a preflight.", "$text-error"))
        self._refresh_confirm()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A preflight that crashed is a failed preflight, not a screen stuck on "reading"."""
        if event.worker.group == "preflight" and event.state == WorkerState.ERROR:
            error = event.worker.error
            self.post_message(self.PlanFailed(self._generation, f"{type(error).__name__}: {error}"))

    def _show_plan(self, plan: DrainPlan) -> None:
        self.plan = plan
        self.query_one("#plan", Static).update(plan_content(plan))
        verdict, can_start = plan_verdict(plan)
        self.query_one("#plan-verdict", Static).update(verdict)
        self._refresh_confirm()
        if not self._focused_once:
            self._focused_once = True
            self._focus_next_step(plan, can_start)

    def _focus_next_step(self, plan: DrainPlan, can_start: bool) -> None:
        """Focus Drain when the plan can start, else the first option a pod needs chosen."""
        if can_start and self.plan_is_current:
            self.query_one("#confirm", Button).focus()
            return
        needed = [choice for pod in plan.needs_choice for choice in pod.needs]
        for choice, widget_id in CHOICE_WIDGETS:
            if choice in needed:
                self.query_one(f"#{widget_id}", OptionBox).focus()
                return

    @property
    def plan_is_current(self) -> bool:
        """Whether the plan shown was made with the options shown."""
        return self.plan is not None and self.options is not None and self.plan.options == self.options

    @property
    def can_confirm(self) -> bool:
        """Whether Drain may be pressed now."""
        return not self._planning and self.plan_is_current and self.plan is not None and self.plan.can_start

    def _refresh_confirm(self) -> None:
        self.query_one("#confirm", Button).disabled = not self.can_confirm

    # ---------------------------------------------------------------- answers

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        plan = self.plan
        if not self.can_confirm or plan is None:
            return
        request = DrainRequest(plan, " ".join(self.query_one("#reason", Input).value.split()))
        questions = []
        if plan.options.disable_eviction:
            questions.append((
                "Delete pods instead of evicting them?",
                f"{len(plan.to_evict)} pod(s) on {self.node} will be DELETED directly. PodDisruptionBudgets are "
                "NOT respected: this can take down every replica of an application at once.",
                "Delete pods",
            ))
        if self.control_plane:
            questions.append((
                f"Drain control-plane node {self.node}?",
                f"{self.node} runs the control plane of {self.context}. Draining it can disturb the cluster "
                "itself (API server, etcd, scheduler). Drain it anyway?",
                "Drain control-plane node",
            ))
        self._ask(questions, request)

    def _ask(self, questions: list[tuple[str, str, str]], request: DrainRequest) -> None:
        if not questions:
            self.dismiss(request)
            return
        title, body, label = questions[0]

        def answered(yes: bool | None) -> None:
            if yes:
                self._ask(questions[1:], request)

        self.app.push_screen(ConfirmDialog(title, body, confirm_label=label, danger=True), answered)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without draining."""
        self.dismiss(None)


class DrainScreen(ModalScreen[DrainResult | None]):
    """Live progress of one drain and its verdict.

    ``make_drain`` builds the :class:`Drain` given the progress callback (it may raise
    ReadOnlyError or OperationInputError); the screen runs it in a thread worker at once. With
    ``result`` given instead, the screen shows that finished drain's verdict (nothing runs).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop_or_close", "Cancel the drain (the node stays cordoned); close when it has ended"),
        Binding("ctrl+c", "stop_or_close", "Cancel the drain", show=False, priority=True),
        Binding("enter", "close", "Close when the drain has ended", show=False, priority=True),
    ]

    class Finished(Message):
        """The drain ended."""

        def __init__(self, result: DrainResult) -> None:
            self.result = result
            super().__init__()

    class Failed(Message):
        """The drain could not run at all; ``message`` is one line."""

        def __init__(self, message: str) -> None:
            self.message = message
            super().__init__()

    def __init__(self, node: str, context: str, plan: DrainPlan, *, make_drain: DrainFactory | None = None,
                 result: DrainResult | None = None, flush_interval: float = PROGRESS_FLUSH_SECONDS) -> None:
        super().__init__(classes="drain-screen -delete" if plan.options.disable_eviction else "drain-screen")
        self.node = node
        self.context = context
        self.plan = plan
        self.make_drain = make_drain
        self.result = result
        self.failure: str | None = None
        self.flush_interval = flush_interval
        self.pods: dict[str, PodProgress] = {}
        self._latest: dict[str, PodProgress] = {}
        self._lock = threading.Lock()
        self._drain: Drain | None = None
        self._cancel_requested = False
        self._flush_timer: Timer | None = None

    @property
    def running(self) -> bool:
        """Whether the drain has not ended yet."""
        return self.result is None and self.failure is None

    def compose(self) -> ComposeResult:
        """Title, progress bar and counts, the pods, the verdict, the key hint."""
        with Vertical(classes="drain-box") as box:
            box.border_title = f"Drain {self.node} · {self.context}"
            mode = ("DELETES its pods (PodDisruptionBudgets ignored)" if self.plan.options.disable_eviction
                    else "evicts its pods through the Eviction API")
            yield Static(f"The drain cordons {self.node}, then {mode}. Pods left in place: "
                         f"{len(self._left_in_place())}.", id="drain-mode", markup=False)
            with Horizontal(id="drain-progress-row"):
                yield ProgressBar(total=max(1, len(self._followed())), show_eta=False, id="drain-progress")
                yield Static("", id="drain-counts")
            table: DataTable[Content | str] = DataTable(id="drain-pods", cursor_type="row", zebra_stripes=False)
            yield table
            yield Static("", id="drain-verdict")
            yield Static("", id="drain-hint")

    def _followed(self) -> list[PlannedPod]:
        return [*self.plan.to_evict, *self.plan.waiting_for]

    def _left_in_place(self) -> list[PlannedPod]:
        return [pod for pod in self.plan.skipped if not pod.terminating]

    def on_mount(self) -> None:
        """Fill the pod list from the plan; start the drain (or show the given result)."""
        table = self.query_one("#drain-pods", DataTable)
        followed = self._followed()
        pod_width = max([len("POD"), *(len(pod.key) for pod in followed)])
        state_width = max(len(label) for label, _ in STATE_TEXT.values())
        details_width = max(DETAILS_MIN_WIDTH, self.app.size.width - pod_width - state_width - RETRIES_WIDTH - 12)
        table.add_column("POD", key="pod", width=pod_width)
        table.add_column("STATE", key="state", width=state_width)
        table.add_column("RETRIES", key="retries", width=RETRIES_WIDTH)
        table.add_column("DETAILS", key="details", width=details_width)
        for pod in followed:
            state = PodState.TERMINATING if pod.terminating else PodState.PENDING
            progress = PodProgress(pod.namespace, pod.name, pod.uid, state,
                                   message="already terminating" if pod.terminating else "")
            self._put_row(progress)
        table.focus()
        if self.result is not None:
            self._finish(self.result)
            return
        self._refresh_counts()
        self._set_hint()
        self._flush_timer = self.set_interval(self.flush_interval, self.flush_progress)
        self._run_drain()

    def on_unmount(self) -> None:
        """Leaving (or quitting) while the drain runs cancels it."""
        if self.running:
            self._request_cancel()

    # ---------------------------------------------------------------- the drain's thread

    def record_progress(self, progress: PodProgress) -> None:
        """The drain's progress callback (any thread): keep only the latest state per pod."""
        with self._lock:
            self._latest[progress.key] = progress

    @work(thread=True, group="drain", exit_on_error=False)
    def _run_drain(self) -> None:
        """Build and run the drain in a thread; post its verdict."""
        factory = self.make_drain
        if factory is None:
            self.post_message(self.Failed("nothing to run"))
            return
        try:
            drain = factory(self.record_progress)
        except (ReadOnlyError, OperationInputError) as error:
            self.post_message(self.Failed(error.message))
            return
        with self._lock:
            self._drain = drain
            cancel_now = self._cancel_requested
        if cancel_now:
            drain.cancel()
        self.post_message(self.Finished(drain.run()))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A drain worker that crashed ends the screen with a clear failure."""
        if event.worker.group == "drain" and event.state == WorkerState.ERROR:
            error = event.worker.error
            self.post_message(self.Failed(f"{type(error).__name__}: {error}"))

    # ---------------------------------------------------------------- the UI side

    def flush_progress(self) -> None:
        """Fold the latest pod states into the table, the bar and the counts."""
        with self._lock:
            latest, self._latest = self._latest, {}
        if not latest:
            return
        with self.app.batch_update():
            for progress in latest.values():
                self._put_row(progress)
            self._refresh_counts()

    def _put_row(self, progress: PodProgress) -> None:
        table = self.query_one("#drain-pods", DataTable)
        label, style = STATE_TEXT[progress.state]
        details = progress.message
        if progress.state == PodState.BLOCKED_BY_PDB and progress.pdb:
            details = f"PDB {progress.pdb}: {progress.message}"
        cells = (progress.key, Content.styled(label, style), str(progress.retries) if progress.retries else "",
                 details)
        if progress.key in self.pods:
            for column, value in zip(("pod", "state", "retries", "details"), cells):
                table.update_cell(progress.key, column, value)
        else:
            table.add_row(*cells, key=progress.key)
        self.pods[progress.key] = progress

    def _refresh_counts(self) -> None:
        pods = list(self.pods.values())
        gone = sum(1 for pod in pods if pod.state == PodState.GONE)
        blocked = sum(1 for pod in pods if pod.state == PodState.BLOCKED_BY_PDB)
        failed = sum(1 for pod in pods if pod.state == PodState.FAILED)
        bar = self.query_one("#drain-progress", ProgressBar)
        finished = self.result is not None and self.result.drained
        bar.update(total=max(1, len(pods)), progress=gone if pods else (1 if finished else 0))
        parts = [f"{gone} of {len(pods)} pods gone"]
        if blocked:
            parts.append(f"{blocked} blocked by PDB")
        if failed:
            parts.append(f"{failed} failed")
        self.query_one("#drain-counts", Static).update(" · ".join(parts))

    def _set_hint(self) -> None:
        hint = self.query_one("#drain-hint", Static)
        if self.running and self._cancel_requested:
            hint.update(Content.styled("Cancelling… the node stays cordoned.", "bold $text-warning"))
        elif self.running:
            hint.update("Escape cancels the drain; the node stays cordoned.")
        else:
            hint.update("Escape or Enter closes.")

    def on_drain_screen_finished(self, message: Finished) -> None:
        """Show the verdict."""
        self._finish(message.result)

    def on_drain_screen_failed(self, message: Failed) -> None:
        """Show why the drain could not run."""
        if not self.running:
            return
        self.failure = message.message
        self._stop_flushing()
        verdict = self.query_one("#drain-verdict", Static)
        verdict.update(Content.assemble(("✖ NOT DRAINED", "bold"), f": the drain could not run: {message.message}"))
        verdict.set_classes("-failed")
        self._set_hint()

    def _stop_flushing(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None

    def _finish(self, result: DrainResult) -> None:
        self.result = result
        self._stop_flushing()
        with self._lock:
            self._latest.clear()
        with self.app.batch_update():
            for progress in result.pods:
                self._put_row(progress)
            self._refresh_counts()
            verdict = self.query_one("#drain-verdict", Static)
            verdict.update(verdict_content(self.node, result))
            verdict.set_classes("-drained" if result.drained else "-failed")
            self._set_hint()

    # ---------------------------------------------------------------- keys

    def _request_cancel(self) -> None:
        with self._lock:
            self._cancel_requested = True
            drain = self._drain
        if drain is not None:
            drain.cancel()

    def action_stop_or_close(self) -> None:
        """Cancel a running drain; close the screen once it has ended."""
        if self.running:
            self._request_cancel()
            self._set_hint()
        else:
            self.dismiss(self.result)

    def action_close(self) -> None:
        """Close the screen once the drain has ended."""
        if not self.running:
            self.dismiss(self.result)


def verdict_content(node: str, result: DrainResult) -> Content:
    """The verdict: drained, or not drained with each remaining pod and why, and the node's cordon state."""
    lines: list[Content] = []
    if result.drained:
        summary = result.message.removeprefix(f"node {node} drained: ")
        lines.append(Content.assemble(("✓ DRAINED", "bold"), f": {summary}."))
        lines.append(Content(f"{node} stays cordoned: uncordon it (u) when it may take pods again."))
    else:
        message = result.message.removeprefix(f"node {node} not drained: ").removesuffix("; the node stays cordoned")
        remaining = result.remaining
        started = any(pod.state != PodState.PENDING or pod.retries for pod in result.pods)
        if started and remaining:
            message = message.split(" (", 1)[0]  # the pods are listed one per line below
        lines.append(Content.assemble(("✖ NOT DRAINED", "bold"), f": {message}."))
        if started and remaining:
            lines.append(Content(f"Pods not gone ({len(remaining)}):"))
            for pod in remaining:
                detail = STATE_WORDS[pod.state]
                if pod.retries:
                    detail += f" after {pod.retries} refusal{'s' if pod.retries != 1 else ''}"
                if pod.pdb:
                    detail += f" (PDB {pod.pdb})"
                if pod.message:
                    detail += f": {pod.message}"
                lines.append(Content(f"  {pod.key}: {detail}"))
        lines.append(Content.styled(f"The node {node} stays cordoned." if result.node_cordoned
                                    else f"The node {node} was not cordoned.", "bold"))
    if result.audit_error:
        lines.append(Content.styled(f"⚠ {result.audit_error}", "$text-warning"))
    return Content("\n").join(lines)
