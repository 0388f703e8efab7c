"""Pilot tests of a clip's tags and note from the app (t, N), and of the filter in the
tree: real core, real SQLite and WAVs; assertions on what is shown and stored."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from textual.widgets import Input, Static

from core.curation_models import Curation
from core.settings import Settings
from tests.tui.scenes import wait_for
from tests.tui.test_curation_app import make_session, open_session, settle, stored
from tui.app import SessionLabApp
from tui.screens.curation_dialogs import TagsNoteScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_nodes import TrackNode
from tui.widgets.detail import ClipDetail
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


async def test_tags_and_note_are_edited_checked_and_shown(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    make_session(settings)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        table = screen.query_one(TrackTable)
        await pilot.press("tab", "i")  # the list, and the detail view
        first = table.current.key
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TagsNoteScreen), "the dialog")
        dialog = app.screen
        assert dialog.focused is dialog.query_one("#tags-input", Input)
        # Bad input: one sentence, the dialog stays, nothing written.
        dialog.query_one("#tags-input", Input).value = "ok, " + "x" * 41
        dialog.query_one("#note-input", Input).value = "kept aside"
        await pilot.press("enter")
        await pilot.pause()
        error = str(dialog.query_one("#tags-error", Static).render())
        assert error == "The tag 'xxxxxxxxxxxxxxxxxxxx'... is 41 characters long; the limit is 40."
        assert app.screen is dialog
        with stored(settings) as store:
            assert store.get_curation(uuid.UUID(first)) == Curation()
        # Commas separate tags (which may hold spaces); Enter saves both.
        dialog.query_one("#tags-input", Input).value = "Dusty Drums, warm,warm"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, "the dialog closes")
        await settle(pilot, app)
        with stored(settings) as store:
            marks = store.get_curation(uuid.UUID(first))
        assert marks.tags == ("dusty drums", "warm") and marks.note == "kept aside"
        assert screen.curations[uuid.UUID(first)] == marks
        detail = str(screen.query_one(ClipDetail).render())
        assert "#dusty drums #warm" in detail and "kept aside" in detail

        # N: the note field first; spaces separate tags when there is no comma; Esc writes nothing.
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, TagsNoteScreen), "the dialog again")
        dialog = app.screen
        assert dialog.query_one("#tags-input", Input).value == "dusty drums, warm"
        assert dialog.focused is dialog.query_one("#note-input", Input)
        dialog.query_one("#tags-input", Input).value = "intro  Outro"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "cancelled")
        await settle(pilot, app)
        with stored(settings) as store:
            assert store.get_curation(uuid.UUID(first)) == marks
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, TagsNoteScreen), "the dialog again")
        app.screen.query_one("#tags-input", Input).value = "intro  Outro"
        app.screen.query_one("#note-input", Input).value = ""
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, "saved")
        await settle(pilot, app)
        with stored(settings) as store:
            assert store.get_curation(uuid.UUID(first)) == Curation(tags=("intro", "outro"))


def tree_clips(tree: ClusterTree, cluster_id: uuid.UUID) -> list[str]:
    node = tree.nodes_by_key[f"cluster:{cluster_id}"]
    return [str(c.data.track.id) for c in node.children if isinstance(c.data, TrackNode)]


async def test_the_filter_applies_to_the_tree_and_follows_the_marks(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=4, seconds=1.0)
    batch = session.batches[0]
    clusters = sorted(batch.clusters, key=lambda c: c.position)
    small = next(c for c in clusters if len(c.track_ids) == 2)
    one, two = (str(t) for t in small.track_ids)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        tree = screen.query_one(ClusterTree)
        table = screen.query_one(TrackTable)
        assert tree.select_key(f"cluster:{small.id}")
        await wait_for(pilot, lambda: table.scope == f"cluster:{small.id}", "the cluster listed")
        order = tree_clips(tree, small.id)
        assert set(order) == {one, two}
        await pilot.press("tab")
        table.move_to(order[0])
        await pilot.press("x")  # discarded: gone from the list and the tree
        await settle(pilot, app)
        assert tree_clips(tree, small.id) == [order[1]] == list(table.rows_by_key)
        label = tree.nodes_by_key[f"cluster:{small.id}"].label
        assert label.plain.endswith("(1 of 2 shown)")  # worded as "(0 of 2 shown)" below
        await pilot.press("s")  # the other kept
        await settle(pilot, app)
        await pilot.press("f")  # kept only: the other clusters have no clip shown, dimmed
        await pilot.pause()
        assert tree_clips(tree, small.id) == [order[1]]
        for cluster in clusters:
            if cluster.id != small.id:
                node = tree.nodes_by_key[f"cluster:{cluster.id}"]
                assert tree_clips(tree, cluster.id) == []
                assert node.label.plain.endswith(f"(0 of {len(cluster.track_ids)} shown)")
                assert "dim" in str(node.label.spans[0].style)
        await pilot.press("s")  # the star taken back: hidden here too, in the tree and the list
        await settle(pilot, app)
        assert tree_clips(tree, small.id) == [] and table.row_count == 0
        await pilot.press("f")  # every clip: the tree holds the store's clips again, in order
        await pilot.pause()
        for cluster in clusters:
            expected = [
                str(t.id) for t in sorted(batch.tracks, key=lambda t: t.position) if t.id in cluster.track_ids
            ]
            assert tree_clips(tree, cluster.id) == expected
        assert tree_clips(tree, small.id) == order
        # Back round to the default: the discarded clip hidden again.
        await pilot.press("f")  # back to hiding discarded clips
        await pilot.pause()
        assert tree_clips(tree, small.id) == [order[1]]


async def test_the_palette_and_help_offer_tags_and_note(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    from tui.commands import command_actions
    from tui.screens.help import HelpScreen

    make_session(settings, clips=2, seconds=1.0)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        assert ("Tags and note", "tags") in [(title, action) for title, action, _ in command_actions(screen)]
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = "\n".join(str(s.render()) for s in app.screen.query(".help-section"))
        for line in (
            "Edit the clip's tags and note",
            "Edit the clip's note (and tags)",
            "Save the tags and the note",
        ):
            assert line in text


async def test_a_note_of_several_lines_left_as_shown_is_kept_as_it_was(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    from core import curation

    session = make_session(settings, clips=2, seconds=1.0)
    first = sorted(session.batches[0].tracks, key=lambda t: t.position)[0]
    with stored(settings) as store:
        curation.set_note(store, first.id, "first line\nsecond line")
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        await pilot.press("tab")
        screen.query_one(TrackTable).move_to(str(first.id))
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TagsNoteScreen), "the dialog")
        shown = app.screen.query_one("#note-input", Input).value
        assert "\n" not in shown and shown.startswith("first line") and shown.endswith("second line")
        app.screen.query_one("#tags-input", Input).value = "keeper"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, "saved")
        await settle(pilot, app)
        with stored(settings) as store:
            assert store.get_curation(first.id) == Curation(tags=("keeper",), note="first line\nsecond line")
