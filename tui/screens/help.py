"""Every key binding, read from the screens themselves so it can never go stale."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

MOVES = ("j / k  g / G", "Down / up, first / last (as ↓ ↑ home end)")
EXTRA = {
    "Everywhere": [
        ("ctrl+p", "Command palette: the main actions of this screen"),
        ("tab  shift+tab", "Next / previous: the tree, the list, the fields"),
    ],
    "Sessions": [MOVES],
    "Session": [
        MOVES,
        ("⏎ on a cluster", "Plays the clip highlighted in the list"),
        ("1 … 5  0", "Rate the clip 1 to 5; 0 clears the rating"),
    ],
}
# Bindings folded into the MOVES and tab lines above.
FOLDED = ("cursor", "ends", "focus_next", "focus_previous", "rate")


def _sections() -> list[tuple[str, list[Binding]]]:
    from tui.app import SessionLabApp
    from tui.screens.brief import BriefScreen
    from tui.screens.curation_dialogs import PreferenceScreen, TagsNoteScreen
    from tui.screens.export import ExportScreen
    from tui.screens.map import MapScreen
    from tui.screens.modals import ConfirmScreen, CountScreen, TextPromptScreen
    from tui.screens.session import SessionScreen
    from tui.screens.session_explore import SessionExplore
    from tui.screens.sessions import SessionsScreen

    def bindings(*owners: type) -> list[Binding]:
        """Each owner's bindings with those of its own classes (a screen's mixins), the
        owner's first; Textual's own base classes are left out."""
        found: list[Binding] = []
        for owner in owners:
            for cls in owner.__mro__:
                if not cls.__module__.startswith("tui."):
                    continue
                for binding in cls.__dict__.get("BINDINGS", ()):
                    if isinstance(binding, Binding):
                        found.append(binding)
        return found

    return [
        ("Everywhere", bindings(SessionLabApp)),
        ("Sessions", bindings(SessionsScreen)),
        ("Session", bindings(SessionScreen, SessionExplore)),
        ("Map", bindings(MapScreen)),
        ("Brief form", bindings(BriefScreen)),
        (
            "Dialogs",
            bindings(
                ConfirmScreen, TextPromptScreen, CountScreen, PreferenceScreen, TagsNoteScreen, ExportScreen
            ),
        ),
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(
                Content.assemble(("Keys", "bold"), ("   Esc, q or ? closes", "dim")), classes="dialog-title"
            )
            with VerticalScroll(id="help-body"):
                for title, bindings in _sections():
                    yield Static(self._section(title, bindings), classes="help-section")

    def _section(self, title: str, bindings: list[Binding]) -> Content:
        lines: list[str | tuple[str, str]] = [(title, "bold $text-accent")]
        seen: set[str] = set()
        for binding in bindings:
            if binding.action.split("(")[0] in FOLDED:
                continue
            keys = " / ".join(
                self.app.get_key_display(Binding(key, binding.action, binding.description))
                for key in binding.key.split(",")
            )
            description = binding.tooltip or binding.description
            if keys in seen:
                continue
            seen.add(keys)
            lines += ["\n", (f"  {keys:<16}", "bold"), description]
        for keys, description in EXTRA.get(title, []):
            lines += ["\n", (f"  {keys:<16}", "bold"), description]
        return Content.assemble(*lines)

    def action_close(self) -> None:
        self.dismiss(None)
