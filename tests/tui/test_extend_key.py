"""E in a session: the highlighted clip continued into a new, longer clip beside it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Input, Static

from core.models import BATCH_EXTEND
from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import make_session, open_only_session
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.extend import LengthScreen, check_length
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import TrackNode

pytestmark = pytest.mark.asyncio


async def test_the_length_is_checked_with_one_sentence() -> None:
    assert check_length("1:30", 10.0, 600.0) == 90.0
    assert check_length(" 45 ", 10.0, 600.0) == 45.0
    cases = (("5", "already"), ("700", "at most"), ("soon", "seconds"), ("nan", "seconds"))
    # Minutes and seconds as a clock writes them: "1:-30" was 30 s, "-1:30" and "1:90" were taken.
    cases += (("1:-30", "seconds"), ("-1:30", "seconds"), ("1:90", "seconds"), ("", "seconds"))
    for text, words in cases:
        try:
            check_length(text, 10.0, 600.0)
        except ValueError as exc:
            assert words in str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")


async def test_e_extends_the_highlighted_clip_beside_its_cluster(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=2)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        tree = screen.query_one("#tree", ClusterTree)
        source = session.batches[0].tracks[0]
        assert tree.select_key(f"track:{source.id}")
        await pilot.pause()
        assert isinstance(tree.highlighted, TrackNode)
        await pilot.press("E")
        await wait_for(pilot, lambda: isinstance(app.screen, LengthScreen), "the length dialog")
        field = app.screen.query_one("#length-input", Input)
        field.value = "1"
        await pilot.press("enter")
        error = app.screen.query_one("#length-error", Static)
        assert "already" in str(error.render())
        field.value = "0:40"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, "back on the session")
        await wait_for(pilot, lambda: not screen.generating, "the clip is extended")
        await pilot.pause()
        stored = SessionStore(settings.data_dir)
        try:
            extended = [b for b in stored.require_session(session.id).batches if b.kind == BATCH_EXTEND]
        finally:
            stored.close()
        assert len(extended) == 1, [n.message for n in app._notifications]
        (batch,) = extended
        assert batch.tracks[0].duration_sec == 40.0 and batch.parent_cluster_id == source.cluster_id
        # In the tree it hangs under the source's cluster.
        node = tree.nodes_by_key[f"batch:{batch.id}"]
        assert node.parent is tree.nodes_by_key[f"cluster:{source.cluster_id}"]
        assert node.label.plain.startswith("Extended")
