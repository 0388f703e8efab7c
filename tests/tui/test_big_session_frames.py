"""A big session opens without one long frame: the tree and the list show in the frames
that fill them (not in the screen's first)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from core.models import BriefParams, Session
from core.store import SessionStore
from tests.tui.scenes import wait_for
from tests.tui.test_big_session import big, big_session, open_big, stored  # noqa: F401  (fixtures)
from tui.app import SessionLabApp
from tui.jobs import GenerationJob
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
        assert not tree.display and not table.display  # the screen's first frames go without them
        assert "Loading" in str(screen.query_one("#session-title").render())

        start.release.set()
        await wait_for(pilot, lambda: screen.loaded, "the session drawn")
        await pilot.pause()
        assert tree.display and table.display
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
        assert screen.query_one(ClusterTree).display and screen.query_one(TrackTable).display
        empty = screen.query_one("#session-empty")
        assert empty.display and "Nothing was stored" in str(empty.render())
