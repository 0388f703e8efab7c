"""Pilot tests of a batch while it is made: its clips play before it is clustered, Esc
cancels it, a clip playing becomes its track, and a failing engine is one message."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static, TextArea

import tui.widgets.generation_panel as generation_panel
from core.models import BriefParams
from core.providers.base import STAGE_EMBEDDING, STAGE_GENERATING
from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import (
    BRIEF,
    make_session,
    open_only_session,
    text_of,
    tree_labels,
    write_brief,
)
from tests.tui.scenes import Gate, wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.session import SessionScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import PendingNode
from tui.widgets.generation_panel import DRAW_INTERVAL_SEC, GenerationPanel
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


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
        # Drawn at most every DRAW_INTERVAL_SEC: the state reported shows within that.
        stage_widget = screen.query_one("#generation-stage", Static)
        await wait_for(pilot, lambda: "Generating clip 3 of 4" in text_of(stage_widget), "the stage drawn")
        assert "s left" in text_of(stage_widget)
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


async def test_a_failing_engine_is_one_message_and_the_app_goes_on(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=2)
    app = make_app(check_audio=False)
    seen: list[object] = []
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        screen = await open_only_session(pilot, app)
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


async def test_progress_is_drawn_at_most_every_interval_and_its_last_state_always(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]  # the panel's clock, moved by hand: what is drawn does not hang on real time
    monkeypatch.setattr(generation_panel, "_now", lambda: now[0])
    drawn: list[str] = []
    draw = GenerationPanel._draw

    def counted(panel: GenerationPanel) -> None:
        drawn.append(panel.stage_text())
        draw(panel)

    monkeypatch.setattr(GenerationPanel, "_draw", counted)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield GenerationPanel(id="generation")

    app = Host()
    async with app.run_test(size=(100, 12)) as pilot:
        panel = app.query_one(GenerationPanel)
        stage = panel.query_one("#generation-stage", Static)
        panel.start("four clips", 4)
        await pilot.pause()
        assert drawn == ["Loading model · estimating time left"]  # a batch's start is drawn at once
        for done in range(4):
            panel.progress(STAGE_GENERATING, done, 4, at=now[0], stage_started=now[0])
            await pilot.pause()
        panel.progress(STAGE_EMBEDDING, 1, 4, at=now[0], stage_started=now[0])
        await pilot.pause(0.3)
        # Within the interval: none of those updates drawn, however long they took here.
        assert len(drawn) == 1 and "Loading model" in text_of(stage)
        now[0] += DRAW_INTERVAL_SEC
        # The state last reported is drawn once the interval is over, in one redraw.
        await wait_for(pilot, lambda: len(drawn) == 2, "the last state drawn")
        assert "Embedding 2 of 4" in text_of(stage)
        await pilot.pause(0.3)
        assert len(drawn) == 2
        # The next batch's start is drawn at once, whatever the clock says.
        panel.start("two clips", 2)
        await pilot.pause()
        assert len(drawn) == 3 and "Loading model" in text_of(stage)
