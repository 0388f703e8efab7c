"""A big session opens and grows without one long frame: the tree and the list show in
the frames that fill them (not in the screen's first), and the map is placed again once
a batch's end is drawn, not while the batch is made (a map being placed when it starts
stops before it is drawn)."""

from __future__ import annotations

import gc
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import tui.screens.map as map_screen
import tui.screens.session_explore as session_explore
import tui.screens.session_load as session_load
from core.models import BriefParams, Session
from core.settings import Settings
from core.store import SessionStore
from tests.tui.scenes import Gate, wait_for
from tests.tui.test_big_session import HeldReads, big, big_session, open_big, stored  # noqa: F401  (fixtures)
from tui.app import SessionLabApp
from tui.jobs import GenerationJob
from tui.memory import NO_FULL_COLLECTION
from tui.screens.session import SessionScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


class Held:
    """Holds calls of ``owner.name`` (in whichever thread makes them) until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        real = getattr(owner, name)

        def held(*args: Any, **kwargs: Any) -> Any:
            self.reached.set()
            self.release.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, held)


def clips_of(session: Session) -> int:
    return sum(len(b.tracks) for b in session.batches)


def small_batch(session_id: uuid.UUID) -> GenerationJob:
    params = BriefParams(energy=0.5, density=0.5, duration_sec=0.1)
    return GenerationJob(
        kind="batch", num_clips=3, brief="three more", params=params, seed=5, session_id=session_id
    )


async def whole_map(pilot: Any, screen: Any) -> Any:
    """The session's map, once placed with every clip of the session."""
    clips = clips_of(screen.session)
    await wait_for(
        pilot, lambda: screen.prepared_map is not None and screen.prepared_map.count == clips, "the map"
    )
    return screen.prepared_map


async def placing_held(pilot: Any, screen: Any, monkeypatch: pytest.MonkeyPatch) -> Held:
    """The session's map placed whole, then placed again (as when the session has been
    read whole) and held inside ``session_map`` until ``release`` is set."""
    await whole_map(pilot, screen)
    placing = Held(monkeypatch, map_screen, "session_map")
    screen._prepare_current_map()
    await wait_for(pilot, placing.reached.is_set, "the map being placed")
    return placing


async def test_the_tree_and_list_show_in_the_frames_that_fill_them(
    make_app: Callable[..., SessionLabApp],
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = Held(monkeypatch, SessionStore, "get_session_start")
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(getattr(app.screen, "sessions", None)), "the list")
        await pilot.press("enter")
        await wait_for(pilot, start.reached.is_set, "the session's start asked for")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SessionScreen) and not screen.loaded
        tree, table = screen.query_one(ClusterTree), screen.query_one(TrackTable)
        # The screen's first frames draw them not (their places laid out already: showing
        # them moves nothing else on the screen).
        assert not tree.visible and not table.visible
        right = screen.query_one("#right")
        beside = right.region
        assert 0 < beside.width < 120 - 20  # the tree's place kept beside it
        assert "Loading" in str(screen.query_one("#session-title").render())

        start.release.set()
        await wait_for(pilot, lambda: screen.loaded, "the session drawn")
        await pilot.pause()
        assert tree.visible and table.visible and right.region == beside
        assert tree.has_focus
        highlighted = tree.highlighted
        assert highlighted is not None and table.scope == highlighted.key and table.row_count > 0


async def test_a_session_that_cannot_be_read_shows_the_empty_screen(
    make_app: Callable[..., SessionLabApp],
) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = SessionScreen(session_id=uuid.uuid4())  # no such session
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.loaded, "the read failed")
        await pilot.pause()
        assert screen.query_one(ClusterTree).visible and screen.query_one(TrackTable).visible
        empty = screen.query_one("#session-empty")
        assert empty.display and "Nothing was stored" in str(empty.render())
        assert not screen.opening_held and gc.get_threshold()[2] != NO_FULL_COLLECTION


async def test_older_batches_are_read_a_chunk_at_a_time_each_once_the_one_before_is_drawn(
    make_app: Callable[..., SessionLabApp],
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_load, "OLDER_CHUNK", 7)  # several chunks
    monkeypatch.setattr(session_load, "PLACED_WAIT_SEC", 30.0)  # the bound never reached here
    steps: list[str] = []  # "read" (the worker's thread) and "placed" (the screen), in order
    read, add_older = SessionStore.get_batches, ClusterTree.add_older

    def reading(store: SessionStore, *args: Any, **kwargs: Any) -> Any:
        steps.append("read")
        return read(store, *args, **kwargs)

    def placing(tree: ClusterTree, *args: Any, **kwargs: Any) -> None:
        steps.append("placed")
        add_older(tree, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "get_batches", reading)
    monkeypatch.setattr(ClusterTree, "add_older", placing)
    placed_maps: list[int] = []  # clips of the session at each placing of the map
    prepare = map_screen.prepare_map

    def recorded(store: Any, session: Session, *args: Any, **kwargs: Any) -> Any:
        placed_maps.append(clips_of(session))
        return prepare(store, session, *args, **kwargs)

    monkeypatch.setattr(map_screen, "prepare_map", recorded)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        await wait_for(pilot, lambda: screen.prepared_map is not None, "the map placed")
        chunks = steps.count("read")
        assert chunks >= 3
        # Each chunk read once the one before was put in place (and drawn): never two ahead.
        assert steps == ["read", "placed"] * chunks
        assert clips_of(screen.session) == clips_of(big)
        # The map placed once, of the whole session: not of its start while the rest was read.
        assert placed_maps == [clips_of(big)]


async def test_the_map_is_placed_again_once_a_batch_is_drawn_not_while_it_is_made(
    make_app: Callable[..., SessionLabApp],
    settings: Settings,
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[bool, int]] = []  # (a batch being made, clips) at each placing of the map
    real = map_screen.prepare_map
    app = make_app(check_audio=False)

    def recorded(store: Any, session: Session, *args: Any, **kwargs: Any) -> Any:
        asked.append((app.screen.generating, clips_of(session)))
        return real(store, session, *args, **kwargs)

    monkeypatch.setattr(map_screen, "prepare_map", recorded)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        clips = clips_of(big)
        await whole_map(pilot, screen)
        asked.clear()
        gate = Gate("generating", 1)
        app.generation_observer = gate
        screen.start_job(small_batch(big.id))
        await wait_for(pilot, gate.reached.is_set, "the batch's first clip")
        gate.release.set()
        await wait_for(pilot, lambda: screen.last_job is not None and not screen.generating, "the batch made")
        await wait_for(
            pilot, lambda: screen.prepared_map.count == clips + 3, "the map of the session with the batch"
        )
        assert asked == [(False, clips + 3)]  # once, after the batch
        assert not screen.map_stale
        placed = screen.prepared_map.placed
        assert set(placed.track_ids) == {t.id for t in stored(settings).tracks}


async def test_a_map_being_placed_when_a_batch_starts_stops_and_is_placed_after_it(
    make_app: Callable[..., SessionLabApp],
    settings: Settings,
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[int] = []  # clips of each map drawn
    draw = map_screen.draw_canvas

    def counted(placed: Any, *args: Any, **kwargs: Any) -> Any:
        drawn.append(len(placed.track_ids))
        return draw(placed, *args, **kwargs)

    monkeypatch.setattr(map_screen, "draw_canvas", counted)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        clips = clips_of(big)
        first = await whole_map(pilot, screen)
        drawn.clear()
        placing = await placing_held(pilot, screen, monkeypatch)
        gate = Gate("generating", 1)
        app.generation_observer = gate
        screen.start_job(small_batch(big.id))
        await wait_for(pilot, gate.reached.is_set, "the batch's first clip")
        assert screen.map_stale
        placing.release.set()  # the placing goes on, and stops before it is drawn
        gate.release.set()
        await wait_for(pilot, lambda: screen.last_job is not None and not screen.generating, "the batch made")
        await wait_for(pilot, lambda: screen.prepared_map.count == clips + 3, "the map with the batch")
        assert screen.prepared_map is not first
        assert drawn == [clips + 3]  # the one stopped was never drawn
        assert not screen.map_stale


async def test_a_batch_s_panel_waits_until_a_stopped_map_placing_has_ended(
    make_app: Callable[..., SessionLabApp],
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its thread stops at its next look at ``stop``; until then the panel's frame would
    share the interpreter with it."""
    monkeypatch.setattr(session_explore, "PLACING_END_WAIT_SEC", 60.0)  # no deadline in the way
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        clips = clips_of(big)
        placing = await placing_held(pilot, screen, monkeypatch)

        def panel_shown() -> bool:
            return any(panel.display for panel in screen.query("#generation"))

        screen.start_job(small_batch(big.id))
        for _ in range(10):
            await pilot.pause()
        assert screen.generating and not panel_shown()  # the placing's thread has not ended
        placing.release.set()
        await wait_for(pilot, panel_shown, "the panel, once the placing has ended")
        await wait_for(pilot, lambda: screen.last_job is not None and not screen.generating, "the batch made")
        assert clips_of(screen.session) == clips + 3


async def test_no_full_collection_while_the_map_is_placed_and_what_it_keeps_frozen(
    make_app: Callable[..., SessionLabApp],
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its ids and rows would set one off in its thread, holding the interpreter."""
    usual = gc.get_threshold()
    app = make_app(check_audio=False)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_big(pilot, app)
            await wait_for(pilot, lambda: screen.prepared_map is not None, "the map")
            assert gc.get_threshold() == usual
            first = screen.prepared_map
            placing = await placing_held(pilot, screen, monkeypatch)
            assert gc.get_threshold()[2] == NO_FULL_COLLECTION
            frozen = gc.get_freeze_count()
            placing.release.set()
            await wait_for(pilot, lambda: screen.prepared_map is not first, "the map placed again")
            assert gc.get_threshold() == usual and not screen.map_holds
            assert gc.get_freeze_count() > frozen
    finally:
        gc.set_threshold(*usual)


@pytest.mark.parametrize("leave", [False, True])
async def test_no_full_collection_until_a_big_session_is_read_whole(
    make_app: Callable[..., SessionLabApp],
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    leave: bool,
) -> None:
    """A full collection while a big session is being read would scan all it builds, in
    whichever thread: held off until it is read whole (or the screen is left), then back."""
    usual = gc.get_threshold()
    held = HeldReads(monkeypatch)
    app = make_app(check_audio=False)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_big(pilot, app, whole=False)
            await wait_for(pilot, lambda: bool(held.calls), "the older batches asked for")
            assert gc.get_threshold()[2] == NO_FULL_COLLECTION and screen.opening_held
            if leave:
                await pilot.press("q")
                await wait_for(pilot, lambda: app.screen is not screen, "back on the list")
                await pilot.pause()
            else:
                held.release.set()
                await wait_for(pilot, lambda: screen.counts is None, "every batch read")
                # Then the map is placed, held off too (its ids would set one off).
                await wait_for(pilot, lambda: screen.prepared_map is not None, "the map placed")
            assert gc.get_threshold() == usual and not screen.opening_held
    finally:
        held.release.set()
        gc.set_threshold(*usual)
