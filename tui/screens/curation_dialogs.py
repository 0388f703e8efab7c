"""Dialogs of curation: which of two clips is better; a clip's tags and note."""

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
from tui.formatting import shown_lines
from tui.jobs import NowPlaying


class PreferenceScreen(ModalScreen[str | None]):
    """A, B or the same: dismissed with "a", "b", "same", or None (Esc)."""

    BINDINGS = [
        Binding("a", "choose('a')", "A is better", id="prefer-a"),
        Binding("b", "choose('b')", "B is better", id="prefer-b"),
        Binding("s,equals_sign", "choose('same')", "Same", id="prefer-same"),
        Binding("escape,q", "choose('')", "Cancel", id="prefer-cancel"),
    ]

    def __init__(self, a: NowPlaying, b: NowPlaying) -> None:
        super().__init__()
        self.a = a
        self.b = b

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Which is better?", classes="dialog-title")
            yield Static(
                f"A  #{self.a.number}  {shown_line(self.a.label)}\nB  #{self.b.number}  {shown_line(self.b.label)}",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("A (a)", id="choice-a", variant="primary")
                yield Button("B (b)", id="choice-b", variant="primary")
                yield Button("Same (s)", id="choice-same")
            yield Static(
                "Stored with both clips, the time and the brief, for a preference dataset. Esc cancels.",
                classes="dialog-detail",
            )

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-") or None)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)


class TagsNoteScreen(ModalScreen[tuple[tuple[str, ...], str] | None]):
    """A clip's tags and note, checked by the core's rules before it is dismissed with
    them; Esc dismisses with None (nothing written). ``focus_note``: the note field
    first (``N``), else the tags (``t``)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="tags-cancel"),
        Binding("ctrl+s", "save", "Save", id="tags-save", tooltip="Save the tags and the note"),
    ]

    def __init__(
        self, number: int, label: str, tags: tuple[str, ...], note: str, *, focus_note: bool = False
    ) -> None:
        super().__init__()
        self.number = number
        self.label = label
        self.tags = tags
        self.note = note
        self.focus_note = focus_note
        # A note of several lines shows on one line (its breaks as stand-ins): left as
        # shown, it is kept as it was, not saved with the stand-ins.
        self.note_shown = shown_line(note)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                Content.assemble(
                    ("Tags and note", "bold"), f"  clip #{self.number}  ", (shown_line(self.label), "dim")
                ),
                classes="dialog-title",
            )
            with Horizontal(classes="field-row"):
                yield Label("Tags", classes="field-label")
                yield Input(
                    value=", ".join(shown_line(t) for t in self.tags),
                    placeholder="dusty, warm, intro",
                    id="tags-input",
                    compact=True,
                )
            with Horizontal(classes="field-row"):
                yield Label("Note", classes="field-label")
                yield Input(
                    value=self.note_shown,
                    placeholder="why it works, where it goes",
                    id="note-input",
                    compact=True,
                )
            yield Static("", id="tags-error", classes="field-error")
            yield Static(
                "Tags: separated by commas (or by spaces if there is no comma). Enter saves, Esc cancels.",
                classes="dialog-detail",
            )

    def on_mount(self) -> None:
        self.app.settle_inputs(self)  # type: ignore[attr-defined]
        self.query_one("#note-input" if self.focus_note else "#tags-input", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        from core.curation import parse_tags
        from core.validation import validate_note

        error = self.query_one("#tags-error", Static)
        note_text = self.query_one("#note-input", Input).value
        try:
            tags = parse_tags(self.query_one("#tags-input", Input).value)
            note = self.note if note_text == self.note_shown else validate_note(note_text)
        except ValidationError as exc:
            error.update(Content(shown_lines(str(exc))))
            error.add_class("shown")
            return
        self.dismiss((tags, note))

    def action_cancel(self) -> None:
        self.dismiss(None)
