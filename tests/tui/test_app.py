"""Pilot tests: the whole loop on the embedded engine, real SQLite, real WAVs, a real
PortAudio stream on ALSA's null device. Assertions are on what the user sees
(widget content) and on what is on disk (the store)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from core.models import BATCH_MORE, BriefParams
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.tui import scenes
from tests.tui.scenes import SEED, Gate, wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.help import HelpScreen
from tui.screens.modals import ConfirmScreen, CountScreen, TextPromptScreen
from tui.screens.session import SessionScreen
from tui.screens.sessions import SessionsScreen
from tui.widgets.cluster_tree import ClusterNode, ClusterTree, PendingNode, cluster_tracks
from tui.widgets.player_bar import PlayerBar
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio

BRIEF = "warm lofi loop with dusty drums"


def text_of(widget: Static) -> str:
    return str(widget.render())


def tree_labels(app: SessionLabApp) -> list[str]:
    tree = app.screen.query_one(ClusterTree)
    labels: list[str] = []

    def walk(node, depth: int) -> None:  # type: ignore[no-untyped-def]
        for child in node.children:
            labels.append("  " * depth + child.label.plain)
            walk(child, depth + 1)

    walk(tree.root, 0)
    return labels


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*["space" if ch == " " else ch for ch in text])


async def run_palette_command(pilot, app: SessionLabApp, words: str) -> None:  # type: ignore[no-untyped-def]
    """From the sessions screen: ctrl+p, type ``words``, Enter on the command they find."""
    await wait_for(pilot, lambda: app.screen.sessions is not None, "the list")
    await pilot.press("ctrl+p")
    await type_text(pilot, words)
    await pilot.pause(0.3)  # the palette searches in a worker
    await pilot.press("enter")


async def write_brief(pilot, app: SessionLabApp, *, clips: str = "4", seed: str = str(SEED)) -> None:  # type: ignore[no-untyped-def]
    """From the sessions screen: n, type the brief, fill clips and seed, ctrl+s."""
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form opens")
    await type_text(pilot, BRIEF)
    form = app.screen
    form.query_one("#clips", Input).value = clips
    form.query_one("#seed", Input).value = seed
    await pilot.press("ctrl+s")


async def wait_generated(pilot, app: SessionLabApp) -> SessionScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "the session screen opens")
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    # The screen is current before it has mounted and started its job: wait for the job itself.
    # (A screen given its first job has last_job from the start: wait until it has started it.)
    started = lambda: screen.first_job is None or screen.token > 0  # noqa: E731
    await wait_for(
        pilot,
        lambda: started() and screen.last_job is not None and not screen.generating,
        "the batch is made",
    )
    await pilot.pause()
    return screen


def make_session(settings: Settings, brief: str = BRIEF, clips: int = 4, seed: int = SEED):  # type: ignore[no-untyped-def]
    """A session made through the real service, as the CLI would."""
    service = SessionService.from_settings(settings)
    session = service.create_initial_batch(brief, BriefParams(), clips, seed=seed)
    service.store.close()
    return session


async def test_empty_data_dir_says_press_n(make_app: Callable[..., SessionLabApp]) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        empty = screen.query_one("#sessions-empty", Static)
        await wait_for(pilot, lambda: "Press n" in text_of(empty), "the empty state")
        assert empty.display
        assert not screen.query_one("#sessions-table", DataTable).display


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


async def test_clips_play_before_the_batch_is_clustered_and_esc_cancels(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    app = make_app()
    gate = Gate("generating", 2)
    app.generation_observer = gate
    async with app.run_test(size=(120, 36)) as pilot:
        await write_brief(pilot, app, clips="4")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "the session screen")
        screen = app.screen
        await wait_for(pilot, gate.reached.is_set, "two clips rendered")
        table = screen.query_one(TrackTable)
        await wait_for(
            pilot, lambda: sum(1 for r in table.rows_by_key.values() if r.path) == 2, "two clips listed"
        )
        assert table.row_count == 4  # a slot per clip from the start
        assert isinstance(screen.query_one(ClusterTree).highlighted, PendingNode)
        stage = text_of(screen.query_one("#generation-stage", Static))
        assert "Generating clip 3 of 4" in stage and "s left" in stage
        # A rendered clip plays now, before clustering.
        table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.now_playing is not None, "a pending clip plays")
        assert app.now_playing.key == "pending-0"
        assert app.now_playing.label == "(not grouped yet)"
        # Esc cancels; the core stores nothing of the batch.
        await pilot.press("escape")
        gate.release.set()
        await wait_for(pilot, lambda: not screen.generating, "generation ended")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Nothing was stored" in text_of(screen.query_one("#session-empty", Static))
        assert screen.query_one("#session-empty", Static).display
        # Still usable: b opens the brief again, prefilled.
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        assert app.screen.query_one("#brief", TextArea).text == BRIEF
    store = SessionStore(settings.data_dir)
    assert store.list_sessions() == []
    store.close()


async def test_a_clip_played_while_the_batch_is_made_becomes_its_track(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    app = make_app()
    gate = Gate("generating", 1)
    app.generation_observer = gate
    async with app.run_test(size=(120, 36)) as pilot:
        await write_brief(pilot, app, clips="3")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "the session screen")
        screen = app.screen
        await wait_for(pilot, gate.reached.is_set, "the first clip rendered")
        table = screen.query_one(TrackTable)
        await wait_for(pilot, lambda: table.rows_by_key["pending-0"].path in app.waveforms, "drawn")
        table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.now_playing is not None, "the pending clip plays")
        gate.release.set()
        await wait_for(pilot, lambda: not screen.generating, "the batch is made")
        await pilot.pause()
        track = screen.session.find_track(uuid.UUID(app.now_playing.key))
        assert track is not None  # the same clip, now a stored track
        batch, stored = track
        assert app.now_playing.label == batch.cluster(stored.cluster_id).label


async def test_b_adds_a_batch_from_a_new_brief_to_the_session(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=2)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.sessions), "the list")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
            "the session opens",
        )
        screen = app.screen
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


async def test_a_failing_engine_is_one_message_and_the_app_goes_on(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=2)
    app = make_app(check_audio=False)
    seen: list[object] = []
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.sessions), "the list")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
            "the session opens",
        )
        screen = app.screen
        # hf-endpoint without a URL cannot run: the core says so in one sentence.
        from tui.jobs import GenerationJob

        screen.start_job(
            GenerationJob(
                kind="batch",
                num_clips=2,
                brief="more",
                params=BriefParams(),
                session_id=session.id,
                engine="hf-endpoint",
            )
        )
        await wait_for(pilot, lambda: not screen.generating, "the job ended")
        await pilot.pause()
        toasts = [n.message for n in app._notifications]
        assert any("hf-endpoint engine needs the URL" in m and "\n" not in m for m in toasts)
        assert not any("Traceback" in m for m in toasts)
        # The session is untouched and still usable.
        assert len(screen.session.batches) == 1
        assert tree_labels(app)[0].startswith("Batch 1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.now_playing is not None, "a clip still plays")


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
        await wait_for(pilot, lambda: bool(app.screen.sessions), "the list")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
            "the session opens",
        )
        screen = app.screen
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


# ------------------------------------------------------------- issue 7: trust

# What a hostile or careless name can hold: a screen wipe, an OSC title change ended
# by BEL, Rich markup and a line break.
EVIL = "\x1b[2J\x1b]0;pwned\x07[bold red]x[/]\nnext"
EVIL_FILE_NAME = "\x1b[2J\x1b]0;pwned\x07[bold red]x\nnext.wav"  # the same, without a path separator


def drawn_controls(app: SessionLabApp) -> list[str]:
    """Segments of what the app draws now that carry a control character to the terminal."""
    import unicodedata

    found = []
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if segment.control:  # cursor moves of Textual's own
                continue
            if any(unicodedata.category(ch) == "Cc" for ch in segment.text):
                found.append(segment.text)
    return found


def drawn_text(app: SessionLabApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def make_split_session(
    settings: Settings, brief: str = BRIEF, clips: int = 4, embedder_model: str | None = None
):  # type: ignore[no-untyped-def]
    """A session whose one batch has two clusters (first half, second half), whatever
    the clustering library's floating point does: its grouping is planned here."""
    middle = clips // 2
    service = SessionService.from_settings(settings, embedder_model=embedder_model)
    service.clusterer = scenes.planned((range(middle), range(middle, clips)))
    session = service.create_initial_batch(brief, BriefParams(), clips, seed=SEED)
    service.store.close()
    return session


async def open_only_session(pilot, app: SessionLabApp) -> SessionScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: bool(getattr(app.screen, "sessions", None)), "the list")
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
        "the session opens",
    )
    await pilot.pause()
    return app.screen


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
    from tui.app import screenshot_folder

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
