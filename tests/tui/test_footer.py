"""QuietFooter shows what Textual's Footer shows, whatever changes it in place."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, Footer
from textual.widgets._footer import FooterKey

from tui.widgets.footer import QuietFooter

pytestmark = pytest.mark.asyncio


class Busy(Screen[None]):
    BINDINGS = [
        Binding("a", "one", "One", tooltip="the first"),
        Binding("b", "two", "Two"),
        Binding("escape", "cancel", "Cancel"),
        Binding("q", "back", "Back"),
    ]

    busy: reactive[bool] = reactive(False, bindings=True)

    def compose(self) -> ComposeResult:
        yield Button("focus me", id="button")
        yield Footer(id="plain")
        yield QuietFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.busy  # shown only while busy
        if action == "two":
            return None if self.busy else True  # shown, disabled while busy
        return True


class FooterApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Busy())


def shown(footer: Footer) -> list[tuple[str, str, str, bool, bool, bool, str]]:
    return [
        (
            key.key,
            key.key_display,
            key.description,
            key.has_class("-disabled"),
            key.has_class("-compact"),
            key.has_class("-command-palette"),
            str(key.tooltip or ""),
        )
        for key in footer.query_children(FooterKey).results()
    ]


async def test_quiet_footer_shows_what_the_footer_shows_as_keys_come_and_go() -> None:
    app = FooterApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, Busy)
        plain = screen.query_one("#plain", Footer)
        quiet = screen.query_one(QuietFooter)
        seen = []
        for step in ("start", "busy", "idle", "focus", "busy", "blur", "idle"):
            if step in ("busy", "idle"):
                screen.busy = step == "busy"
            elif step == "focus":
                screen.query_one("#button", Button).focus()
            elif step == "blur":
                screen.set_focus(None)
            await pilot.pause()
            await pilot.pause()
            assert shown(quiet) == shown(plain), step
            seen.append(shown(quiet))
        # The steps did change the footer: Cancel came and went, Two was disabled.
        assert any(key[0] == "escape" for key in seen[1]) and not any(key[0] == "escape" for key in seen[0])
        assert [key[3] for key in seen[1] if key[0] == "b"] == [True]
        assert [key[3] for key in seen[2] if key[0] == "b"] == [False]
