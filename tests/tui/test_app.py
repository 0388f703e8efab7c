"""Pilot tests: the whole loop on the embedded engine, real SQLite, real WAVs, a real
PortAudio stream on ALSA's null device. Assertions are on what the user sees
(widget content) and on what is on disk (the store).

This module: the loop itself (a brief, a batch, more like, back), a bad brief, renaming
and deleting sessions, a new batch in a session, back to the list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from core.models import BATCH_MORE
from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import (
    BRIEF,
    make_session,
    open_only_session,
    text_of,
    tree_labels,
    type_text,
    wait_generated,
    write_brief,
)
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.modals import ConfirmScreen, CountScreen, TextPromptScreen
from tui.screens.session import SessionScreen
from tui.screens.sessions import SessionsScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import ClusterNode
from tui.widgets.player_bar import PlayerBar
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


async def test_empty_data_dir_says_press_n(make_app: Callable[..., SessionLabApp]) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        empty = screen.query_one("#sessions-empty", Static)
        await wait_for(pilot, lambda: "Press n" in text_of(empty), "the empty state")
        assert empty.display
        assert not screen.query_one("#sessions-table", DataTable).display


async def test_numpy_s_blas_runs_on_one_thread_once_the_app_is_warm(
    make_app: Callable[..., SessionLabApp],
) -> None:
    """A second OpenBLAS thread spins on the core the UI thread needs while a batch is embedded."""
    import threading

    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    def set_in_a_thread_of_its_own(count: int) -> None:
        # threadpoolctl lets one live thread at a time set OpenBLAS's (process-wide) count.
        thread = threading.Thread(target=threadpool_limits, kwargs={"limits": count, "user_api": "blas"})
        thread.start()
        thread.join()

    before = max(blas_threads())
    set_in_a_thread_of_its_own(2)  # as a process starts on this machine
    try:
        assert blas_threads() == {2}
        app = make_app(check_audio=False)
        async with app.run_test() as pilot:
            await wait_for(pilot, lambda: blas_threads() == {1}, "BLAS on one thread")
    finally:
        set_in_a_thread_of_its_own(before)


async def test_the_whole_loop(make_app: Callable[..., SessionLabApp], settings: Settings) -> None:
    """New session, brief, generate, tree, play, pause, more-like, back, quit, reopen."""
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.screen.query("#sessions-empty").first().display, "sessions loaded")
        await write_brief(pilot, app, clips="4")
        screen = await wait_generated(pilot, app)

        # The tree: one batch, named clusters with their counts, every clip under one.
        tree = screen.query_one(ClusterTree)
        labels = tree_labels(app)
        assert labels[0].startswith("Batch 1")
        clusters = [n for n in tree.nodes_by_key.values() if isinstance(n.data, ClusterNode)]
        assert clusters
        assert sum(len(n.data.cluster.track_ids) for n in clusters) == 4
        for node in clusters:
            assert node.label.plain == f"{node.data.cluster.label} ({len(node.data.cluster.track_ids)})"

        # On disk: one session, one batch, four WAVs.
        store = SessionStore(settings.data_dir)
        [info] = store.list_sessions()
        session = store.require_session(info.id)
        assert info.num_tracks == 4 and info.brief_text == BRIEF
        assert all(Path(t.path).is_file() for t in session.tracks)

        # The first cluster is highlighted and its clips listed, with waveforms.
        table = screen.query_one(TrackTable)
        first = clusters[0].data.cluster
        assert table.scope == f"cluster:{first.id}"
        assert list(table.rows_by_key) == [
            str(t) for t in sorted(first.track_ids, key=lambda tid: session.find_track(tid)[1].position)
        ]
        await wait_for(
            pilot, lambda: all(r.path in app.waveforms for r in table.rows_by_key.values()), "waveforms drawn"
        )

        # Loop on, Enter plays the highlighted clip, Space pauses, Space resumes.
        await pilot.press("l")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.now_playing is not None, "a clip starts")
        bar = screen.query_one(PlayerBar)
        assert app.now_playing.label == first.label
        await wait_for(pilot, lambda: "playing" in text_of(bar), "the bar says playing")
        assert f"#{app.now_playing.number}" in text_of(bar) and "loop on" in text_of(bar)
        assert table.get_cell(app.now_playing.key, "num").plain.startswith("▶")
        await pilot.press("space")
        await wait_for(pilot, lambda: "paused" in text_of(bar), "the bar says paused")
        assert app.player_state is not None and app.player_state.paused
        await pilot.press("space")
        await wait_for(pilot, lambda: "playing" in text_of(bar), "playing again")
        # Loop off and auto-advance off (c): the clip runs to its end and stops there
        # (the null device is not clocked: at once).
        await pilot.press("c")
        assert not app.auto_advance
        await pilot.press("l")
        await wait_for(pilot, lambda: "stopped" in text_of(bar), "the clip ends")
        assert "loop off" in text_of(bar) and "then stop" in text_of(bar)

        # n plays the next clip of the list (tab to the list first).
        await pilot.press("tab")
        assert table.has_focus
        previous = app.now_playing.key
        if table.row_count > 1:
            await pilot.press("n")
            await wait_for(pilot, lambda: app.now_playing.key != previous, "the next clip plays")
            assert app.now_playing.key == list(table.rows_by_key)[1]

        # m on a track means its cluster: ask for 2, get a child batch under it.
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "the count dialog")
        count_input = app.screen.query_one("#count-input", Input)
        assert count_input.value == str(settings.max_batch_size)  # nothing used yet: the max
        count_input.value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, "back on the session")
        await wait_for(pilot, lambda: not screen.generating, "more-like finished")
        await pilot.pause()
        parent_label = first.label
        session = store.require_session(info.id)
        more = [b for b in session.batches if b.kind == BATCH_MORE]
        assert len(more) == 1, [n.message for n in app._notifications]
        child = more[0].clusters[0]
        assert child.parent_cluster_id == first.id and child.label == parent_label
        # In the tree it hangs under its parent cluster, with the inherited label.
        parent_node = tree.nodes_by_key[f"cluster:{first.id}"]
        child_batch_node = tree.nodes_by_key[f"batch:{more[0].id}"]
        assert child_batch_node.parent is parent_node
        assert tree.nodes_by_key[f"cluster:{child.id}"].label.plain.startswith(parent_label)
        assert app.last_more_count == 2
        # Its tracks are listed and ready to play.
        assert table.scope == f"cluster:{child.id}"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.now_playing.key in {str(t) for t in child.track_ids}, "new clip plays"
        )

        # q goes back to the sessions (playback stops); the list shows the session.
        before = tree_labels(app)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen), "back on the sessions")
        assert app.now_playing is None
        sessions = app.screen
        await wait_for(pilot, lambda: bool(sessions.sessions), "the list is loaded")
        listing = sessions.query_one("#sessions-table", DataTable)
        row = listing.get_row(str(info.id))
        assert BRIEF in row[0].plain and row[2].plain == "2" and row[3].plain == str(4 + len(child.track_ids))
        await pilot.press("q")
    store.close()

    # Reopen in a new app: the session is exactly as it was left.
    again = make_app()
    async with again.run_test(size=(120, 36)) as pilot:
        sessions = again.screen
        await wait_for(pilot, lambda: bool(sessions.sessions), "the list is loaded")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(again.screen, SessionScreen), "the session opens")
        await wait_for(pilot, lambda: again.screen.loaded and again.screen.session is not None, "loaded")
        await pilot.pause()
        assert tree_labels(again) == before


async def test_invalid_brief_is_explained_and_nothing_starts(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        await pilot.press("ctrl+s")  # empty brief
        await pilot.pause()
        assert "The brief is empty" in text_of(form.query_one("#brief-error", Static))
        await type_text(pilot, BRIEF)
        energy = form.query_one("#energy", Input)
        energy.value = ""
        energy.focus()
        await pilot.press("2")  # energy out of range
        clips = form.query_one("#clips", Input)
        clips.value = "9"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert text_of(form.query_one("#brief-error", Static)) == ""
        assert "Energy must be between 0 and 1, not 2." in text_of(form.query_one("#energy-error", Static))
        assert f"between 1 and {settings.max_batch_size}, not 9" in text_of(
            form.query_one("#clips-error", Static)
        )
        assert app.screen is form  # nothing started
        # Fixing a field clears its message as you type.
        clips.value = "3"
        await pilot.pause()
        assert text_of(form.query_one("#clips-error", Static)) == ""
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen), "back")
    assert SessionStore(settings.data_dir).list_sessions() == []


async def test_rename_and_delete_with_confirmation(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=2)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.sessions), "the list")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen), "the rename dialog")
        field = app.screen.query_one(Input)
        field.value = "Rainy [bold]night[/bold]"  # markup-looking text stays text
        await pilot.press("enter")
        table = screen.query_one("#sessions-table", DataTable)
        await wait_for(
            pilot,
            lambda: table.row_count and "Rainy [bold]night[/bold]" in table.get_row(str(session.id))[0].plain,
            "the new name is listed",
        )
        store = SessionStore(settings.data_dir)
        assert store.require_session(session.id).name == "Rainy [bold]night[/bold]"

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("n")  # keep it
        await wait_for(pilot, lambda: app.screen is screen, "dialog closed")
        assert store.get_session(session.id) is not None
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.sessions == [], "the list is empty")
        assert "Press n" in text_of(screen.query_one("#sessions-empty", Static))
        # The count above the list goes too: not "1 session" over "No sessions yet".
        assert text_of(screen.query_one("#sessions-title", Static)).strip() == "Sessions"
        assert store.get_session(session.id) is None
        assert not any(Path(t.path).exists() for t in session.tracks)
        store.close()


async def test_b_adds_a_batch_from_a_new_brief_to_the_session(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=2)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        assert form.query_one("#brief", TextArea).text == BRIEF  # the session's brief to start from
        form.query_one("#clips", Input).value = "2"
        form.query_one("#energy", Input).value = "0.9"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen and not screen.generating, "the batch is made")
        await pilot.pause()
        assert [label.split("  ")[0] for label in tree_labels(app) if label.startswith("Batch")] == [
            "Batch 1",
            "Batch 2",
        ]
    store = SessionStore(settings.data_dir)
    stored = store.require_session(session.id)
    assert len(stored.batches) == 2 and stored.batches[1].params.energy == 0.9
    store.close()


async def test_back_from_a_new_session_highlights_it(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    older = make_session(settings, brief="an older session", clips=1)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        sessions = app.screen
        await wait_for(pilot, lambda: len(sessions.sessions or ()) == 1, "the list")
        assert sessions.current.id == older.id
        await write_brief(pilot, app, clips="1")
        screen = await wait_generated(pilot, app)
        made = screen.session.id
        await pilot.press("q")
        await wait_for(pilot, lambda: len(sessions.sessions or ()) == 2, "the list again")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sessions.current.id == made
