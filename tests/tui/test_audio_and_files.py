"""Pilot tests of what goes wrong around sound: no audio device, a device lost mid-play,
a clip whose file is missing or unreadable. One line each; the app goes on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input

from core.settings import Settings
from tests.tui.helpers import (
    make_session,
    open_only_session,
    text_of,
    tree_labels,
)
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.modals import CountScreen
from tui.screens.session import SessionScreen
from tui.widgets.player_bar import PlayerBar
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


async def test_no_audio_device_is_one_line_and_the_rest_works(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    make_session(settings, clips=2)
    app = make_app(audio_device="no-such-device")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(app.audio_problem), "the audio check")
        assert "no-such-device" in app.audio_problem
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
            "the session opens",
        )
        bar = app.screen.query_one(PlayerBar)
        assert "No sound" in text_of(bar) and "no-such-device" in text_of(bar)
        await pilot.press("enter")  # try to play anyway
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.now_playing is None
        # One line for the first play, not the start-up check's line again besides.
        assert sum("no-such-device" in n.message for n in app._notifications) == 1
        # Everything else works: more-like still generates.
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "the count dialog")
        app.screen.query_one(Input).value = "1"
        await pilot.press("enter")
        screen = app.screen
        await wait_for(
            pilot,
            lambda: (
                isinstance(screen, SessionScreen)
                and not screen.generating
                and len(screen.session.batches) == 2
            ),
            "more-like done",
        )


async def test_a_device_lost_mid_play_is_one_line_and_the_app_goes_on(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    make_session(settings, clips=2)
    app = make_app(audio_device="sessionlab_broken")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        await pilot.press("l", "enter")  # loop: it plays until the device breaks
        await wait_for(pilot, lambda: bool(app.audio_problem), "the device fails")
        bar = screen.query_one(PlayerBar)
        assert "No sound" in text_of(bar) and "stopped working" in text_of(bar)
        assert sum("stopped working" in n.message for n in app._notifications) == 1
        # Everything else goes on: the list, the tree, another clip.
        await pilot.press("tab", "down")
        assert screen.query_one(TrackTable).cursor_row == 1
        await pilot.press("l")  # loop off
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.now_playing is not None and app.now_playing.number == 2, "plays again"
        )


async def test_a_clip_whose_file_is_missing_or_unreadable_is_marked_and_says_so(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=3)
    tracks = sorted(session.tracks, key=lambda t: t.position)
    Path(tracks[0].path).unlink()
    Path(tracks[1].path).write_bytes(b"not audio at all")
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        await pilot.press("home")  # the batch: every clip
        table = screen.query_one(TrackTable)
        await wait_for(pilot, lambda: table.scope.startswith("batch:") and table.row_count == 3, "rows")
        missing, unreadable, fine = (str(t.id) for t in tracks)
        # Files are checked in a worker once the tree is drawn: the marks follow.
        await wait_for(pilot, lambda: table.get_cell(missing, "wave").plain == "file missing", "the marks")
        assert table.get_cell(missing, "wave").plain == "file missing"
        assert table.get_cell(unreadable, "wave").plain == "file unreadable"
        assert "file" not in table.get_cell(fine, "wave").plain
        assert any(label.endswith("missing") for label in tree_labels(app))
        await pilot.press("tab")  # the list; its first row is the missing clip
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any("cannot be played" in n.message for n in app._notifications), "note"
        )
        [note] = [n.message for n in app._notifications if "cannot be played" in n.message]
        assert note.startswith("Clip #1 cannot be played: its file is missing") and "\n" not in note
        assert app.now_playing is None and app.audio_problem == ""  # the sound is fine
        await pilot.press("G", "enter")
        await wait_for(pilot, lambda: app.now_playing is not None, "the readable clip plays")
        assert app.now_playing.key == fine
