"""Pilot tests of the more-like dialog's strength field: shown only for an engine that takes
one; the chosen strength reaches the real sketch engine (read back from the store)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Input, Select

from core.models import BATCH_MORE
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import make_session
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.more_like import MoreLikeScreen
from tui.screens.session import SessionScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import ClusterNode

pytestmark = pytest.mark.asyncio


async def open_dialog(pilot, app: SessionLabApp, session_id) -> MoreLikeScreen:  # type: ignore[no-untyped-def]
    """From the sessions list: open the (newest) session, highlight its first cluster, press m."""
    await wait_for(pilot, lambda: bool(app.screen.sessions), "the list is loaded")
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, SessionScreen) and app.screen.loaded and app.screen.session is not None
        ),
        "the session opens",
    )
    screen = app.screen
    assert screen.session.id == session_id
    tree = screen.query_one(ClusterTree)
    node = next(n for n in tree.nodes_by_key.values() if isinstance(n.data, ClusterNode))
    tree.focus()
    tree.move_cursor(node)
    await pilot.pause()
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(app.screen, MoreLikeScreen), "the more-like dialog")
    return app.screen


async def test_loose_chosen_in_the_dialog_reaches_the_sketch_engine(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=3)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_dialog(pilot, app, session.id)
        strength = dialog.query_one("#more-strength", Select)
        assert strength.value == settings.variation_strength == "balanced"
        strength.value = "loose"
        count = dialog.query_one("#count-input", Input)
        count.value = "1"
        count.focus()
        await pilot.pause()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        await wait_for(pilot, lambda: screen.last_job is not None and not screen.generating, "more-like made")
        assert screen.last_job.strength == "loose"
    store = SessionStore(settings.data_dir)
    try:
        (more,) = [b for b in store.require_session(session.id).batches if b.kind == BATCH_MORE]
        assert more.tracks and {t.recipe["variation_strength"] for t in more.tracks} == {"loose"}
    finally:
        store.close()


async def test_no_strength_field_for_an_engine_that_takes_none(settings: Settings) -> None:
    """Imported clips are made by the settings' engine: MusicGen, which continues, takes no strength."""
    from tests.tui import scenes

    made = make_session(settings, clips=2)
    service = SessionService.from_settings(settings)
    try:
        imported = service.import_clips(None, [t.path for t in made.tracks])
    finally:
        service.store.close()
    app = scenes.make_app(settings.replace(engine="musicgen"))
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_dialog(pilot, app, imported.session_id)
        assert not dialog.query("#more-strength")
        assert dialog.query_one("#count-input", Input).value
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "back on the session")


async def test_more_like_of_a_named_cluster_is_called_by_that_name_in_the_tree(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    from core import curation

    session = make_session(settings, clips=3)
    parent = session.batches[0].clusters[0]
    store = SessionStore(settings.data_dir)
    try:
        curation.rename_cluster(store, session.id, parent.id, "Night Drive")
    finally:
        store.close()
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.sessions), "the list is loaded")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.loaded, "opened")
        screen = app.screen
        tree = screen.query_one(ClusterTree)
        node = tree.nodes_by_key[f"cluster:{parent.id}"]
        await wait_for(pilot, lambda: str(node.label).startswith("Night Drive"), "the parent's name")
        tree.focus()
        tree.move_cursor(node)
        await pilot.pause()
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MoreLikeScreen), "the more-like dialog")
        count = app.screen.query_one("#count-input", Input)
        count.value = "1"
        count.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.last_job is not None and not screen.generating, "more-like made")
        (more,) = [b for b in screen.session.batches if b.kind == BATCH_MORE]
        child = more.clusters[0]
        assert str(tree.nodes_by_key[f"cluster:{child.id}"].label).startswith("Night Drive")
        assert screen.generated_labels[child.id] == parent.label
