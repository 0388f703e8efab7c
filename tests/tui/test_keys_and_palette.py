"""Pilot tests of the keyboard and the command palette: help, the palette's commands,
q, keys and text typed in one burst, n/p across clusters, m on a batch of several
clusters, screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static, TextArea

from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import (
    make_session,
    make_split_session,
    open_only_session,
    run_palette_command,
    text_of,
    wait_generated,
)
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.help import HelpScreen
from tui.screens.modals import ConfirmScreen, CountScreen
from tui.screens.session import SessionScreen
from tui.screens.sessions import SessionsScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import cluster_tracks
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


async def test_help_lists_every_binding(make_app: Callable[..., SessionLabApp]) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = "\n".join(text_of(s) for s in app.screen.query(".help-section").results(Static))
        for screen_class in (SessionsScreen, SessionScreen, BriefScreen, CountScreen, ConfirmScreen):
            for binding in screen_class.BINDINGS:
                if binding.action.startswith(("cursor", "ends")):
                    continue  # folded into one line
                assert (binding.tooltip or binding.description) in text, binding
        assert "j / k  g / G" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen), "help closed")


async def test_command_palette_offers_the_main_actions(make_app: Callable[..., SessionLabApp]) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await run_palette_command(pilot, app, "new session")
        await wait_for(
            pilot, lambda: isinstance(app.screen, BriefScreen), "the palette opened the brief form"
        )


async def test_q_on_the_sessions_screen_quits(make_app: Callable[..., SessionLabApp]) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_brief_typed_in_one_burst_is_stored_whole(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """Keys arrive from the terminal in bursts (fast typing, paste, tmux): ctrl+s
    at the end of a burst must see every character typed before it."""
    from textual import events

    app = make_app(check_audio=False)
    brief = "fast aggressive techno with a distorted bass"
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        form.query_one("#clips", Input).value = "2"
        form.query_one("#brief").focus()
        await pilot.pause()
        for ch in brief:  # as the driver posts them: no waiting between keys
            app.post_message(events.Key("space" if ch == " " else ch, ch))
        app.post_message(events.Key("ctrl+s", None))
        await wait_generated(pilot, app)
    (info,) = SessionStore(settings.data_dir).list_sessions()
    assert info.brief_text == brief


async def test_keys_in_one_burst_act_in_the_order_typed(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """ "j j Enter" arriving together plays the clip the cursor moved to, and
    "j Enter" on the sessions list opens the session the cursor moved to."""
    from textual import events

    make_session(settings, brief="first session", clips=6)
    make_session(settings, brief="second session", clips=1)  # newest: listed first
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: len(screen.sessions or ()) == 2, "the list")
        for key in ("j", "enter"):  # down to the older one, open it
            app.post_message(events.Key(key, key if key != "enter" else "\r"))
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "a session opens")
        session_screen = app.screen
        await wait_for(pilot, lambda: session_screen.session is not None, "loaded")
        assert session_screen.session.brief_text == "first session"
        await wait_for(pilot, lambda: session_screen.loaded, "the tree")
        session_screen.query_one(ClusterTree).cursor_line = 0  # the batch: every clip in the list
        table = session_screen.query_one(TrackTable)
        await wait_for(pilot, lambda: table.row_count == 6, "the rows")
        table.focus()
        table.move_cursor(row=0)
        await pilot.pause()
        for key in ("j", "j", "enter"):
            app.post_message(events.Key(key, key if key != "enter" else "\r"))
        await wait_for(pilot, lambda: app.now_playing is not None, "a clip starts")
        assert table.cursor_row == 2
        assert app.now_playing.key == table.current.key


async def test_n_and_p_move_on_across_clusters_and_stop_at_the_ends(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """n on a cluster's last clip plays the next cluster's first (as a player moves on to
    the next album); at the session's last clip it says so instead of replaying it."""
    session = make_split_session(settings, clips=4)
    first, second = sorted(session.batches[0].clusters, key=lambda c: c.position)
    app = make_app()
    app.auto_advance = False  # clips end at once on the null device: only n and p move here
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        tree = screen.query_one(ClusterTree)
        table = screen.query_one(TrackTable)
        await wait_for(pilot, lambda: table.scope == f"cluster:{first.id}", "the first cluster")
        await pilot.press("tab", "G", "enter")  # the list, its last clip, play
        await wait_for(pilot, lambda: app.now_playing is not None, "a clip plays")
        last_of_first = list(table.rows_by_key)[-1]
        assert app.now_playing.key == last_of_first
        await pilot.press("n")
        await wait_for(pilot, lambda: app.now_playing.key != last_of_first, "the next clip plays")
        ordered = [str(t.id) for t in cluster_tracks(session.batches[0], second)]
        assert app.now_playing.key == ordered[0]
        assert table.scope == f"cluster:{second.id}"
        assert tree.highlighted.key == f"cluster:{second.id}"
        await pilot.press("n")
        await wait_for(pilot, lambda: app.now_playing.key == ordered[1], "the second cluster's next clip")
        await pilot.press("n")  # the session's last clip: a note, no replay
        await wait_for(pilot, lambda: any("last clip" in n.message for n in app._notifications), "the note")
        await app.workers.wait_for_complete()
        assert app.now_playing.key == ordered[1] and table.scope == f"cluster:{second.id}"
        await pilot.press("p", "p")  # back over the edge: the first cluster's last clip
        await wait_for(pilot, lambda: app.now_playing.key == last_of_first, "the previous cluster's clip")
        assert table.scope == f"cluster:{first.id}"


async def test_m_on_a_batch_of_several_clusters_says_which_to_choose(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    make_split_session(settings, clips=4)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        await pilot.press("home")  # the batch row
        await wait_for(
            pilot, lambda: screen.query_one(TrackTable).scope.startswith("batch:"), "the batch is listed"
        )
        await pilot.press("m")
        await wait_for(
            pilot, lambda: any("2 clusters" in n.message for n in app._notifications), "one line about m"
        )
        assert app.screen is screen
        assert sum("press m again" in n.message for n in app._notifications) == 1
        await pilot.press("down", "m")  # a cluster: m asks how many
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "the count dialog")


async def test_screenshot_from_the_palette_is_saved_and_says_where(
    make_app: Callable[..., SessionLabApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A home without Downloads or Pictures (a server, a fresh account): the picture goes
    to the folder the app was started in, and the toast names it."""
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("XDG_DOWNLOAD_DIR", "XDG_PICTURES_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(work)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await run_palette_command(pilot, app, "screenshot")
        await wait_for(
            pilot, lambda: any(n.title == "Screenshot" for n in app._notifications), "the screenshot toast"
        )
        [note] = [n for n in app._notifications if n.title == "Screenshot"]
        [saved] = list(work.glob("*.svg"))
        assert note.severity == "information" and str(saved) in note.message
        assert saved.read_text(encoding="utf-8").startswith("<svg")


async def test_screenshots_go_to_the_data_dir_when_the_current_folder_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # async like the rest of the module, so its one pytestmark (anyio or asyncio) fits it
    from tui.screenshots import screenshot_folder

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_PICTURES_DIR", raising=False)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert screenshot_folder(tmp_path / "data") == tmp_path / "data" / "screenshots"
    assert (tmp_path / "data" / "screenshots").is_dir()


async def test_tabs_typed_in_one_burst_move_on_to_the_next_field(
    make_app: Callable[..., SessionLabApp],
) -> None:
    """'Tab 0 . 7 Tab 0 . 6 Tab 1 2 Tab 3' arriving together fills energy, density,
    duration and clips, each with its own keys (it once gave Density '6123')."""
    from textual import events

    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        await pilot.pause()
        keys = ["a", "tab", "0", ".", "7", "tab", "0", ".", "6", "tab", "1", "2", "tab", "3"]
        for key in keys:  # as the driver posts them: no waiting between keys
            name = {"tab": "tab", ".": "full_stop"}.get(key, key)
            app.post_message(events.Key(name, "\t" if key == "tab" else key))
        await wait_for(pilot, lambda: form.query_one("#clips", Input).value == "3", "the last field typed")
        await pilot.pause()
        assert form.query_one("#brief", TextArea).text == "a"
        values = {key: form.query_one(f"#{key}", Input).value for key in ("energy", "density", "duration")}
        assert values == {"energy": "0.7", "density": "0.6", "duration": "12"}
