"""Pilot tests of issue 7 (trust): text from users, files, models and settings is drawn
as text, never as markup or control characters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import (
    EVIL,
    EVIL_FILE_NAME,
    drawn_controls,
    drawn_text,
    make_split_session,
    text_of,
)
from tests.tui.scenes import Gate, wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.modals import ConfirmScreen, CountScreen, TextPromptScreen
from tui.screens.session import SessionScreen

pytestmark = pytest.mark.asyncio


async def test_text_from_users_files_and_models_is_drawn_as_text(
    make_app: Callable[..., SessionLabApp], settings: Settings, tmp_path: Path
) -> None:
    """Escape sequences in a brief, a session name, an imported file's name and a
    cluster label never reach the terminal; markup in them is shown as written."""
    import sqlite3

    import numpy as np

    from core.audio import write_wav_atomic

    source = tmp_path / EVIL_FILE_NAME
    write_wav_atomic(source, 0.2 * np.sin(np.linspace(0, 4000, 32_000 * 2)), 32_000)
    service = SessionService.from_settings(settings)
    imported = service.import_clips(None, [source])  # a new session; its brief names the file
    service.store.close()
    made = make_split_session(settings, brief=f"brief {EVIL}", clips=4)
    # A name and labels as an older database or another program could have stored them.
    with sqlite3.connect(settings.data_dir / "sessionlab.db") as db:
        db.execute("UPDATE sessions SET name = ? WHERE id = ?", (f"name {EVIL}", str(imported.session_id)))
        db.execute("UPDATE clusters SET label = ?", (f"label {EVIL}",))

    app = make_app(check_audio=False)
    gate = Gate("generating", 1)
    app.generation_observer = gate
    async with app.run_test(size=(120, 36)) as pilot:
        sessions = app.screen
        await wait_for(pilot, lambda: len(sessions.sessions or ()) == 2, "the list")
        await pilot.pause()
        assert drawn_controls(app) == []
        assert "[bold red]x[/]" in drawn_text(app)  # markup shown, not parsed
        listing = sessions.query_one("#sessions-table", DataTable)
        listing.move_cursor(row=listing.get_row_index(str(imported.session_id)))
        await pilot.press("enter")  # the imported file's name is its brief
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.loaded, "opened")
        await pilot.pause()
        assert drawn_controls(app) == []
        assert "Imported: ␛[2J␛]0;pwned␇[bold red]x next.wav" in drawn_text(app)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen is sessions, "back")
        await pilot.press("r")  # the rename dialog holds the name
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen), "the rename dialog")
        await pilot.pause()
        assert drawn_controls(app) == []
        await pilot.press("escape")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.pause()
        assert drawn_controls(app) == []
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is sessions, "back")

        # The other session (brief and labels): title, tree, list, count dialog, player bar.
        listing.move_cursor(row=listing.get_row_index(str(made.id)))
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
            "the session opens",
        )
        screen = app.screen
        await pilot.pause()
        assert drawn_controls(app) == []
        assert "brief ␛[2J" in drawn_text(app) and "label ␛[2J" in drawn_text(app)
        await pilot.press("enter")  # play: the player bar names the cluster
        await wait_for(pilot, lambda: app.now_playing is not None, "a clip plays")
        await pilot.pause()
        assert drawn_controls(app) == []
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "the count dialog")
        await pilot.pause()
        assert drawn_controls(app) == []
        app.screen.query_one(Input).value = "1"
        await pilot.press("enter")
        # Being made: the panel and the tree name the parent's label.
        await wait_for(pilot, gate.reached.is_set, "the clip is rendered")
        await pilot.pause()
        assert screen.generating and drawn_controls(app) == []
        gate.release.set()
        await wait_for(pilot, lambda: not screen.generating, "more-like done")
        await wait_for(pilot, lambda: any("Batch ready" in n.title for n in app._notifications), "toast")
        await pilot.pause()
        assert drawn_controls(app) == []
        assert any("label ␛[2J" in n.message for n in app._notifications)
        await pilot.press("b")  # the brief form holds the brief
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        await pilot.pause()
        assert drawn_controls(app) == []
    # What is stored stays verbatim.
    store = SessionStore(settings.data_dir)
    assert store.require_session(made.id).brief_text == f"brief {EVIL}"
    store.close()


async def test_provider_names_from_the_settings_are_drawn_as_text(data_dir: Path) -> None:
    """The brief form offers the engine named in config.toml: shown as written, safely."""
    from tests.tui.scenes import make_app as scene_app

    app = scene_app(Settings(data_dir=data_dir, engine=f"engine {EVIL}"), check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        await wait_for(
            pilot, lambda: "usable" in text_of(form.query_one("#engine-hint", Static)), "inventory"
        )
        await pilot.pause()
        assert drawn_controls(app) == []
        assert "engine ␛[2J␛]0;pwned␇[bold red]x[/]" in drawn_text(app)
