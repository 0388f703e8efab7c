"""Dialogs of curation: which of two clips is better."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.text import shown_line
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
