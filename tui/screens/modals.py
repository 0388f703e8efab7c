"""Small dialogs: yes/no, a line of text, a count."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from core.errors import ValidationError
from core.text import shown_line
from core.validation import validate_num_clips
from tui.formatting import shown_lines


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; Enter or y confirms, Esc or n declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: str, detail: str = "", *, confirm_label: str = "Delete") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(shown_line(self.question), classes="dialog-title", markup=False)
            if self.detail:
                yield Static(shown_lines(self.detail), classes="dialog-detail", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", id="yes")
                yield Button("Keep (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TextPromptScreen(ModalScreen[str | None]):
    """One line of text (a session's name); Enter accepts, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt-cancel")]

    def __init__(self, title: str, value: str = "", *, placeholder: str = "", hint: str = "") -> None:
        super().__init__()
        self.prompt_title = title
        self.value = value
        self.placeholder = placeholder
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(shown_line(self.prompt_title), classes="dialog-title", markup=False)
            # The stored text may hold control characters (an older database, another
            # program): the field shows, and saves, their visible stand-ins.
            yield Input(
                value=shown_line(self.value),
                placeholder=shown_line(self.placeholder),
                id="prompt-input",
                compact=True,
            )
            if self.hint:
                yield Static(shown_lines(self.hint), classes="dialog-detail", markup=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def on_mount(self) -> None:
        self.app.settle_inputs(self)  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        self.dismiss(None)


class CountScreen(ModalScreen[int | None]):
    """How many clips: checked by the core's rule before it is accepted."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="count-cancel")]

    def __init__(self, title: str, default: int, max_batch_size: int) -> None:
        super().__init__()
        self.prompt_title = title
        self.default = default
        self.max_batch_size = max_batch_size

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(shown_line(self.prompt_title), classes="dialog-title", markup=False)
            with Horizontal(classes="field-row"):
                yield Label("Clips", classes="field-label")
                yield Input(value=str(self.default), id="count-input", type="integer", compact=True)
            yield Static("", id="count-error", classes="field-error")
            yield from self.more_fields()
            yield Static(
                f"1 to {self.max_batch_size}. Enter generates, Esc cancels.",
                classes="dialog-detail",
            )

    def more_fields(self) -> ComposeResult:
        """Fields below the count (a subclass adds its own; ``result_for`` reads them)."""
        yield from ()

    def on_mount(self) -> None:
        self.app.settle_inputs(self)  # type: ignore[attr-defined]

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        error = self.query_one("#count-error", Static)
        try:
            count = validate_num_clips(event.value.strip() or "", self.max_batch_size)
        except ValidationError as exc:
            error.update(Content(shown_lines(str(exc))))
            error.add_class("shown")
            return
        self.dismiss(self.result_for(count))

    def result_for(self, count: int) -> object:
        """What the dialog is dismissed with once ``count`` is accepted (a subclass adds its fields)."""
        return count

    def action_cancel(self) -> None:
        self.dismiss(None)
