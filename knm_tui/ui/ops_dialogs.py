"""Dialogs that confirm a node operation before anything is sent to a cluster.

- :class:`ConfirmDialog` asks yes or no (uncordon, the second question of a control-plane
  drain, deleting pods instead of evicting them);
- :class:`CordonDialog` lists the nodes and takes an optional reason;
- :class:`ChangesDialog` takes label or taint changes as kubectl writes them, validates them on
  every keystroke with the parser it is given and shows the error in the dialog; it only closes
  on valid input.

Each is a ``ModalScreen[T]`` that dismisses with the answer (``None`` or ``False`` when cancelled).
Nothing here talks to a cluster.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from knm_tui.kube.ops import MAX_REASON_LENGTH, OperationInputError

NODES_LISTED = 8

ChangeValidator = Callable[[str], str]
"""Parses a change text and returns a one-line preview, or raises OperationInputError."""


def node_list_text(targets: Sequence[tuple[str, str]], shown: int = NODES_LISTED) -> str:
    """The nodes an operation applies to, grouped by context: ``kind: node-a, node-b and 3 more``."""
    by_context: dict[str, list[str]] = {}
    for context, name in targets:
        by_context.setdefault(context, []).append(name)
    lines = []
    for context, names in by_context.items():
        listed = ", ".join(names[:shown])
        if len(names) > shown:
            listed += f" and {len(names) - shown} more"
        lines.append(f"{context}: {listed}")
    return "\n".join(lines)


def count_nodes(count: int) -> str:
    """``1 node`` / ``3 nodes``."""
    return f"{count} node{'' if count == 1 else 's'}"


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; ``y`` confirms, ``n`` or Escape cancels.

    A ``danger`` dialog is drawn in the error colour and starts with the focus on Cancel.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer(False)", "Cancel"),
        Binding("n", "answer(False)", "Cancel", show=False),
        Binding("y", "answer(True)", "Confirm", show=False),
    ]

    def __init__(self, title: str, body: str, *, confirm_label: str = "Confirm", danger: bool = False) -> None:
        super().__init__(classes="ops-dialog")
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        """The question and two buttons."""
        with Vertical(classes="dialog-box" + (" -danger" if self.danger else "")) as box:
            box.border_title = self.title_text
            box.border_subtitle = "y confirms · n or Escape cancels"
            yield Static(self.body, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, variant="error" if self.danger else "primary", id="confirm", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Focus Cancel on a dangerous question, Confirm otherwise."""
        self.query_one("#cancel" if self.danger else "#confirm", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        """Close with ``answer``."""
        self.dismiss(answer)


class CordonDialog(ModalScreen[str | None]):
    """Cordon confirmation: the nodes, and an optional reason recorded on each node.

    Dismisses with the reason (``""`` for none) or ``None`` when cancelled.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, targets: Sequence[tuple[str, str]]) -> None:
        super().__init__(classes="ops-dialog")
        self.targets = list(targets)

    def compose(self) -> ComposeResult:
        """Node list, reason input, error line, buttons."""
        count = len(self.targets)
        with Vertical(classes="dialog-box") as box:
            box.border_title = f"Cordon {count_nodes(count)}"
            box.border_subtitle = "Enter cordons · Escape cancels"
            yield Static(
                f"No new pods will be scheduled on {'this node' if count == 1 else 'these nodes'}; "
                "running pods stay.\n" + node_list_text(self.targets),
                classes="dialog-body", markup=False,
            )
            yield Input(placeholder="reason (optional), e.g. kernel upgrade INC-1234", id="reason",
                        max_length=MAX_REASON_LENGTH, compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cordon", variant="primary", id="confirm", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Start in the reason input."""
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _submitted(self) -> None:
        self._confirm()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(" ".join(self.query_one("#reason", Input).value.split()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without cordoning."""
        self.dismiss(None)


class ChangesDialog(ModalScreen[str | None]):
    """Label or taint changes for one or more nodes, validated as they are typed.

    ``validate`` parses the text (as kubectl would) and returns a preview line, or raises
    :class:`OperationInputError` whose message is shown in the dialog. Enter (or Apply) closes
    the dialog with the text only when it is valid; ``None`` when cancelled.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, targets: Sequence[tuple[str, str]], *, syntax: str, placeholder: str,
                 validate: ChangeValidator, current: str = "", apply_label: str = "Apply") -> None:
        super().__init__(classes="ops-dialog")
        self.title_text = title
        self.targets = list(targets)
        self.syntax = syntax
        self.placeholder = placeholder
        self.validate = validate
        self.current = current
        self.apply_label = apply_label
        self.error = ""

    def compose(self) -> ComposeResult:
        """Syntax help, node list, current values, input, preview or error, buttons."""
        with Vertical(classes="dialog-box") as box:
            box.border_title = f"{self.title_text} · {count_nodes(len(self.targets))}"
            box.border_subtitle = "Enter applies · Escape cancels"
            body = f"{self.syntax}\n{node_list_text(self.targets)}"
            if self.current:
                body += f"\n{self.current}"
            yield Static(body, classes="dialog-body", markup=False)
            yield Input(placeholder=self.placeholder, id="changes", compact=True)
            yield Static("", classes="dialog-preview", id="preview")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.apply_label, variant="primary", id="confirm", compact=True, disabled=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Start in the input."""
        self.query_one("#changes", Input).focus()

    @on(Input.Changed, "#changes")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value, show_empty_error=False)

    def _check(self, text: str, *, show_empty_error: bool) -> bool:
        """Validate ``text``; show the preview or the error; returns whether it is valid."""
        preview = self.query_one("#preview", Static)
        confirm = self.query_one("#confirm", Button)
        if not text.strip() and not show_empty_error:
            self.error = ""
            preview.update("")
            preview.remove_class("-error")
            confirm.disabled = True
            return False
        try:
            summary = self.validate(text)
        except OperationInputError as error:
            self.error = error.message
            preview.update(Content.assemble(("✖ ", "bold"), error.message))
            preview.add_class("-error")
            confirm.disabled = True
            return False
        self.error = ""
        preview.update(Content.assemble(("✓ ", "bold"), summary))
        preview.remove_class("-error")
        confirm.disabled = False
        return True

    @on(Input.Submitted, "#changes")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._check(event.value, show_empty_error=True):
            self.dismiss(event.value.strip())

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        text = self.query_one("#changes", Input).value
        if self._check(text, show_empty_error=True):
            self.dismiss(text.strip())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
