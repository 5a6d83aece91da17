"""Node operations in the dashboard: the bindings, the permission checks, the dialogs, the workers.

:class:`NodeOps` is an invisible widget the app mounts once. The app's actions hand it the
rows to act on (the marked rows of the current view, else the cursor row); it then

1. leaves out nodes of read-only contexts (with the whole product read-only the actions are
   hidden and never reach it);
2. asks each context, once, what the user may do (SelfSubjectAccessReview, in a thread worker)
   and refuses an action RBAC denies with the reason, before any dialog;
3. opens the confirmation dialog (or the drain preflight) and, once confirmed, runs the
   operation in a thread worker;
4. reports the outcome per node in a notification, and errors (403, 404, 409 after retries,
   timeouts) in one clear line each.

The table changes only through the watch: nothing here touches the caches. Every request goes
through :class:`~knm_tui.kube.ops.NodeOperations`, which refuses writes in read-only mode a
second time and writes the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from knm_tui.kube.audit import AuditLog
from knm_tui.kube.config import ANONYMOUS_USER
from knm_tui.kube.ops import (
    ACTION_CORDON,
    ACTION_DRAIN,
    ACTION_LABEL,
    ACTION_TAINT,
    ACTION_UNCORDON,
    AccessDecision,
    BatchResult,
    Drain,
    DrainOptions,
    DrainPlan,
    DrainResult,
    NodeOperations,
    OperationError,
    OperationInputError,
    PodProgress,
    ReadOnlyError,
    parse_label_changes,
    parse_taint_changes,
)
from knm_tui.ui.drain_screen import DrainPreflightScreen, DrainRequest, DrainScreen
from knm_tui.ui.fleet_model import FleetSource
from knm_tui.ui.format import RowData
from knm_tui.ui.ops_dialogs import ChangesDialog, ConfirmDialog, CordonDialog, count_nodes, node_list_text

log = logging.getLogger(__name__)

OUTCOME_LINES = 6
NOTIFY_SECONDS = 8.0
ERROR_NOTIFY_SECONDS = 15.0

NODE_OPS_BINDINGS: list[BindingType] = [
    Binding("space", "toggle_mark", "Mark", id="toggle-mark", show=False,
            tooltip="Mark or unmark the node for a batch operation"),
    Binding("c", "cordon", "Cordon", id="cordon", show=False,
            tooltip="Cordon the marked nodes (else the selected one), with an optional reason"),
    Binding("u", "uncordon", "Uncordon", id="uncordon", show=False,
            tooltip="Uncordon the marked nodes (else the selected one)"),
    Binding("r", "drain", "Drain", id="drain", show=False,
            tooltip="Drain the marked node (else the selected one): preflight, then live progress"),
    Binding("l", "labels", "Labels", id="labels", show=False,
            tooltip="Set or remove labels on the marked nodes (else the selected one)"),
    Binding("t", "taints", "Taints", id="taints", show=False,
            tooltip="Add or remove taints on the marked nodes (else the selected one)"),
]
"""The operations' key bindings (the app declares them; they are hidden in read-only mode)."""

OP_ACTIONS: dict[str, str] = {
    "cordon": ACTION_CORDON,
    "uncordon": ACTION_UNCORDON,
    "drain": ACTION_DRAIN,
    "labels": ACTION_LABEL,
    "taints": ACTION_TAINT,
}
"""Binding action name → the ``node_permissions`` action it needs."""

NODE_OPS_ACTIONS: frozenset[str] = frozenset({*OP_ACTIONS, "toggle_mark"})
"""Every action of :data:`NODE_OPS_BINDINGS` (all hidden in read-only mode)."""

ACTION_TITLES: dict[str, str] = {
    ACTION_CORDON: "Cordon",
    ACTION_UNCORDON: "Uncordon",
    ACTION_DRAIN: "Drain",
    ACTION_LABEL: "Labels",
    ACTION_TAINT: "Taints",
}

LABEL_SYNTAX = "key=value sets a label, key- removes it; several separated by spaces."
TAINT_SYNTAX = ("key=value:Effect or key:Effect adds a taint, key:Effect- or key- removes; "
                "Effect is NoSchedule, PreferNoSchedule or NoExecute.")


def label_preview(text: str) -> str:
    """What label changes will do, in one line; raises OperationInputError like kubectl."""
    changes = parse_label_changes(text)
    sets = [f"{key}={value}" for key, value in changes.items() if value is not None]
    removes = [key for key, value in changes.items() if value is None]
    parts = []
    if sets:
        parts.append("set " + ", ".join(sets))
    if removes:
        parts.append("remove " + ", ".join(removes))
    return "; ".join(parts)


def taint_preview(text: str) -> str:
    """What taint changes will do, in one line; raises OperationInputError like kubectl."""
    add, remove = parse_taint_changes(text)
    parts = []
    if add:
        parts.append("add " + ", ".join(str(taint) for taint in add))
    if remove:
        parts.append("remove " + ", ".join(f"{key}:{effect}" if effect else f"{key} (every effect)"
                                            for key, effect in remove))
    return "; ".join(parts)


def outcome_lines(result: BatchResult, shown: int = OUTCOME_LINES) -> str:
    """The batch summary, then one line per node (failures first)."""
    ordered = sorted(result.outcomes, key=lambda outcome: outcome.ok)
    lines = [result.message]
    for outcome in ordered[:shown]:
        mark = "✓" if outcome.ok else "✖"
        lines.append(f"{mark} {outcome.node}: {outcome.summary}")
    if len(ordered) > shown:
        lines.append(f"… and {len(ordered) - shown} more")
    if result.audit_error:
        lines.append(f"⚠ {result.audit_error}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One node to act on."""

    context: str
    name: str
    control_plane: bool = False
    taints: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The table key ``context/name``."""
        return f"{self.context}/{self.name}"


def targets_from_rows(rows: Iterable[RowData]) -> list[Target]:
    """The nodes behind table rows."""
    return [Target(row.context, row.view.name, row.view.is_control_plane, tuple(str(taint) for taint in row.view.taints))
            for row in rows]


class NodeOps(Widget):
    """Runs node operations for the app (see the module docstring); never displayed."""

    DEFAULT_CSS = "NodeOps { display: none; }"

    class Confirmed(Message):
        """The user confirmed an operation on ``keys`` (the app clears its marks)."""

        def __init__(self, action: str, keys: tuple[str, ...]) -> None:
            self.action = action
            self.keys = keys
            super().__init__()

    class PermissionsLoaded(Message):
        """What the user may do in ``context``."""

        def __init__(self, context: str, decisions: dict[str, AccessDecision]) -> None:
            self.context = context
            self.decisions = decisions
            super().__init__()

    class BatchDone(Message):
        """A batch operation ended in ``context``: ``result``, or ``error`` when it did not run."""

        def __init__(self, action: str, context: str, result: BatchResult | None, error: str = "") -> None:
            self.action = action
            self.context = context
            self.result = result
            self.error = error
            super().__init__()

    def __init__(self, source: FleetSource, *, read_only: bool = False, read_only_contexts: Iterable[str] = (),
                 users: Mapping[str, str] | None = None, audit: AuditLog | None = None,
                 drain_defaults: DrainOptions | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source
        self.read_only = read_only
        self.read_only_contexts = frozenset(read_only_contexts)
        self.users = dict(users or {})
        self.audit = audit
        self.drain_defaults = drain_defaults or DrainOptions()
        self.permissions: dict[str, dict[str, AccessDecision]] = {}
        self._operations: dict[str, tuple[Any, NodeOperations]] = {}
        self._checking: set[str] = set()
        self._waiting: list[tuple[set[str], Callable[[], None]]] = []

    # ---------------------------------------------------------------- state

    def is_read_only(self, context: str | None) -> bool:
        """Whether writes are off for ``context`` (``None``: the all-clusters view, only the global switch)."""
        return self.read_only or (context is not None and context in self.read_only_contexts)

    def unavailable_reason(self, context: str | None, action: str) -> str | None:
        """Why the binding action ``action`` is unavailable in ``context``, if RBAC said so already."""
        needed = OP_ACTIONS.get(action)
        if context is None or needed is None:
            return None
        if self.is_read_only(context):
            return f"{context} is read-only"
        decision = self.permissions.get(context, {}).get(needed)
        if decision is not None and not decision.allowed:
            return decision.reason
        return None

    def operations(self, context: str) -> NodeOperations | None:
        """The context's NodeOperations (made once its API client exists), or ``None``."""
        api_client = self.source.api_client(context)
        if api_client is None:
            return None
        known = self._operations.get(context)
        if known is not None and known[0] is api_client:
            return known[1]
        operations = NodeOperations(api_client, context, self.users.get(context, ANONYMOUS_USER), self.audit,
                                    read_only=self.is_read_only(context))
        self._operations[context] = (api_client, operations)
        return operations

    # ---------------------------------------------------------------- entry point

    def start(self, action: str, rows: Sequence[RowData]) -> None:
        """Begin ``action`` ("cordon", "uncordon", "drain", "labels", "taints") on the nodes of ``rows``."""
        needed = OP_ACTIONS[action]
        title = ACTION_TITLES[needed]
        if self.read_only:
            return
        targets = targets_from_rows(rows)
        if not targets:
            self.app.notify("No node selected.", title=title, severity="warning", markup=False)
            return
        read_only = sorted({target.context for target in targets if self.is_read_only(target.context)})
        if read_only:
            self.app.notify(f"Left out the nodes of read-only context{'s' if len(read_only) > 1 else ''} "
                            f"{', '.join(read_only)}.", title=title, severity="warning", markup=False)
            targets = [target for target in targets if target.context not in read_only]
            if not targets:
                return
        unreachable = sorted({target.context for target in targets if self.operations(target.context) is None})
        if unreachable:
            self.app.notify(f"{', '.join(unreachable)}: no connection to the cluster yet; try again once it is live.",
                            title=title, severity="error", markup=False)
            targets = [target for target in targets if target.context not in unreachable]
            if not targets:
                return
        contexts = {target.context for target in targets}
        self._when_permissions_known(contexts, lambda: self._permitted(action, targets))

    def _when_permissions_known(self, contexts: set[str], then: Callable[[], None]) -> None:
        missing = {context for context in contexts if context not in self.permissions}
        if not missing:
            then()
            return
        self._waiting.append((missing, then))
        for context in missing - self._checking:
            operations = self.operations(context)
            if operations is None:
                self.permissions[context] = {}
                continue
            self._checking.add(context)
            self._load_permissions(context, operations)
        self._run_ready_waiters()

    @work(thread=True, group="permissions", exit_on_error=False)
    def _load_permissions(self, context: str, operations: NodeOperations) -> None:
        """Ask the server (SelfSubjectAccessReview) what the user may do; post the answers."""
        self.post_message(self.PermissionsLoaded(context, operations.permissions()))

    def on_node_ops_permissions_loaded(self, message: PermissionsLoaded) -> None:
        """Remember a context's permissions and carry on with what waited for them."""
        self._checking.discard(message.context)
        self.permissions[message.context] = message.decisions
        self._run_ready_waiters()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A permission check that crashed counts as "unknown" (the server still decides); a batch reports it."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        log.error("node operation task %s failed", event.worker.name, exc_info=error)
        if event.worker.group == "permissions":
            for context in list(self._checking):
                self._checking.discard(context)
                self.permissions.setdefault(context, {})
            self._run_ready_waiters()
        elif event.worker.group == "node-ops":
            self.app.notify(f"The operation failed unexpectedly: {type(error).__name__}: {error}",
                            title="Node operation", severity="error", timeout=ERROR_NOTIFY_SECONDS, markup=False)

    def _run_ready_waiters(self) -> None:
        ready = [entry for entry in self._waiting if entry[0] <= self.permissions.keys()]
        self._waiting = [entry for entry in self._waiting if entry not in ready]
        for _, then in ready:
            then()

    def _permitted(self, action: str, targets: list[Target]) -> None:
        """Drop the contexts where RBAC denies ``action`` (saying why), then ask for confirmation."""
        needed = OP_ACTIONS[action]
        title = ACTION_TITLES[needed]
        denied: dict[str, str] = {}
        for context in sorted({target.context for target in targets}):
            decision = self.permissions.get(context, {}).get(needed)
            if decision is not None and not decision.allowed:
                denied[context] = decision.reason
        if denied:
            lines = [f"{title} is unavailable in {context}: {reason}" for context, reason in denied.items()]
            self.app.notify("\n".join(lines), title=f"{title} unavailable", severity="error",
                            timeout=ERROR_NOTIFY_SECONDS, markup=False)
            targets = [target for target in targets if target.context not in denied]
            if not targets:
                return
        if self.app.screen is not self.screen:  # something else opened meanwhile (help, palette)
            return
        getattr(self, f"_confirm_{action}")(targets)

    # ---------------------------------------------------------------- dialogs

    def _pairs(self, targets: Sequence[Target]) -> list[tuple[str, str]]:
        return [(target.context, target.name) for target in targets]

    def _confirm_cordon(self, targets: list[Target]) -> None:
        def answered(reason: str | None) -> None:
            if reason is not None:
                self._launch(ACTION_CORDON, targets, reason)

        self.app.push_screen(CordonDialog(self._pairs(targets)), answered)

    def _confirm_uncordon(self, targets: list[Target]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._launch(ACTION_UNCORDON, targets, None)

        body = (f"New pods may be scheduled on {'this node' if len(targets) == 1 else 'these nodes'} again.\n"
                + node_list_text(self._pairs(targets)))
        self.app.push_screen(ConfirmDialog(f"Uncordon {count_nodes(len(targets))}", body, confirm_label="Uncordon"),
                             answered)

    def _confirm_labels(self, targets: list[Target]) -> None:
        def answered(text: str | None) -> None:
            if text:
                self._launch(ACTION_LABEL, targets, text)

        self.app.push_screen(ChangesDialog("Labels", self._pairs(targets), syntax=LABEL_SYNTAX,
                                           placeholder="e.g. team=infra maintenance-", validate=label_preview),
                             answered)

    def _confirm_taints(self, targets: list[Target]) -> None:
        def answered(text: str | None) -> None:
            if text:
                self._launch(ACTION_TAINT, targets, text)

        current = ""
        if len(targets) == 1:
            current = f"Current taints: {', '.join(targets[0].taints) or 'none'}"
        self.app.push_screen(ChangesDialog("Taints", self._pairs(targets), syntax=TAINT_SYNTAX,
                                           placeholder="e.g. dedicated=gpu:NoSchedule maintenance:NoExecute-",
                                           validate=taint_preview, current=current),
                             answered)

    def _confirm_drain(self, targets: list[Target]) -> None:
        if len(targets) > 1:
            self.app.notify("A drain works on one node at a time: put the cursor on the node and clear the marks.",
                            title="Drain", severity="warning", markup=False)
            return
        target = targets[0]
        operations = self.operations(target.context)
        if operations is None:
            return

        def planner(options: DrainOptions) -> DrainPlan:
            return operations.plan_drain(target.name, options)

        def answered(request: DrainRequest | None) -> None:
            if request is not None:
                self._run_drain(target, operations, request)

        self.app.push_screen(DrainPreflightScreen(target.name, target.context, defaults=self.drain_defaults,
                                                  planner=planner, control_plane=target.control_plane), answered)

    def _run_drain(self, target: Target, operations: NodeOperations, request: DrainRequest) -> None:
        plan = request.plan
        self.post_message(self.Confirmed(ACTION_DRAIN, (target.key,)))

        def make_drain(on_progress: Callable[[PodProgress], None]) -> Drain:
            return operations.drain(target.name, plan, plan.options, on_progress, reason=request.reason or None)

        def ended(result: DrainResult | None) -> None:
            if result is not None:
                self.app.notify(result.message, title=f"Drain · {target.context}",
                                severity="information" if result.drained else "error",
                                timeout=NOTIFY_SECONDS if result.drained else ERROR_NOTIFY_SECONDS, markup=False)

        self.app.push_screen(DrainScreen(target.name, target.context, plan, make_drain=make_drain), ended)

    # ---------------------------------------------------------------- batch operations

    def _launch(self, action: str, targets: list[Target], argument: str | None) -> None:
        self.post_message(self.Confirmed(action, tuple(target.key for target in targets)))
        by_context: dict[str, list[str]] = {}
        for target in targets:
            by_context.setdefault(target.context, []).append(target.name)
        for context, names in by_context.items():
            operations = self.operations(context)
            if operations is None:
                self.post_message(self.BatchDone(action, context, None, "no connection to the cluster"))
                continue
            self._run_batch(action, context, operations, names, argument)

    @work(thread=True, group="node-ops", exit_on_error=False)
    def _run_batch(self, action: str, context: str, operations: NodeOperations, names: list[str],
                   argument: str | None) -> None:
        """Run one batch operation in a thread; post its result."""
        try:
            if action == ACTION_CORDON:
                result = operations.cordon(names, reason=argument or None)
            elif action == ACTION_UNCORDON:
                result = operations.uncordon(names)
            elif action == ACTION_LABEL:
                result = operations.label(names, argument or "")
            else:
                result = operations.taint(names, argument or "")
        except (ReadOnlyError, OperationInputError, OperationError) as error:
            self.post_message(self.BatchDone(action, context, None, error.message))
            return
        self.post_message(self.BatchDone(action, context, result))

    def on_node_ops_batch_done(self, message: BatchDone) -> None:
        """Report the outcome per node (or why nothing ran)."""
        title = f"{ACTION_TITLES[message.action]} · {message.context}"
        result = message.result
        if result is None:
            self.app.notify(message.error, title=title, severity="error", timeout=ERROR_NOTIFY_SECONDS, markup=False)
            return
        if result.ok and not result.audit_error:
            severity = "information"
        elif any(outcome.ok for outcome in result.outcomes):
            severity = "warning"
        else:
            severity = "error"
        self.app.notify(outcome_lines(result), title=title, severity=severity,
                        timeout=NOTIFY_SECONDS if result.ok else ERROR_NOTIFY_SECONDS, markup=False)
