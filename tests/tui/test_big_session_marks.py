"""Issue 8's check on a big session (a few hundred clips through the real service): after
curation (discard, keep, a cluster renamed), a batch, more-like, and deletes (a clip of an
older batch read in a later chunk, a whole batch with a more-like batch under it), the
tree is what a fresh read of the store says, node for node, marks and names included."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from textual.widgets import Input

import tui.screens.session_load as session_load
from core.curation_models import Curation
from core.models import Session
from core.settings import Settings
from core.store import SessionStore
from tests.tui.scenes import wait_for
from tests.tui.test_big_session import big, big_session, made_lines, open_big, stored  # noqa: F401
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.modals import ConfirmScreen, CountScreen, TextPromptScreen
from tui.screens.session import SessionScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_build import RECENT_BATCHES
from tui.widgets.cluster_tree_nodes import ClusterNode, cluster_tracks

pytestmark = pytest.mark.asyncio


def expected_lines(session: Session, shown: Callable[[uuid.UUID], bool]) -> list[tuple[int, str]]:
    """(depth, key) of every node the store's session makes with the filter, in order."""
    known = {c.id for c in session.clusters}
    children: dict[uuid.UUID, list] = {}
    roots = []
    for batch in session.batches:
        if batch.parent_cluster_id in known:
            children.setdefault(batch.parent_cluster_id, []).append(batch)
        else:
            roots.append(batch)
    lines: list[tuple[int, str]] = []

    def visit(batch, depth: int) -> None:  # type: ignore[no-untyped-def]
        lines.append((depth, f"batch:{batch.id}"))
        for cluster in sorted(batch.clusters, key=lambda c: c.position):
            lines.append((depth + 1, f"cluster:{cluster.id}"))
            lines.extend((depth + 2, f"track:{t.id}") for t in cluster_tracks(batch, cluster) if shown(t.id))
            for child in children.get(cluster.id, []):
                visit(child, depth + 2)

    for batch in roots:
        visit(batch, 0)
    return lines


def tree_is_the_store(screen: SessionScreen, settings: Settings) -> Session:
    """Every node made, then compared with a fresh read of the store (the default filter:
    discarded clips hidden); cluster titles carry the names given; the screen's marks
    are the store's."""
    session = stored(settings)
    with SessionStore(settings.data_dir) as store:
        marks = store.get_curations(session.id)
        names = store.get_cluster_names(session.id)
    tree = screen.query_one(ClusterTree)

    def shown(track_id: uuid.UUID) -> bool:
        return not marks.get(track_id, Curation()).discarded

    for track in session.tracks:
        node = tree.ensure_key(f"track:{track.id}")
        assert (node is not None) == shown(track.id), track.id
    assert made_lines(tree) == expected_lines(session, shown)
    for cluster in session.clusters:
        node = tree.nodes_by_key[f"cluster:{cluster.id}"]
        assert isinstance(node.data, ClusterNode)
        count = len(cluster.track_ids)
        visible = sum(1 for t in cluster.track_ids if shown(t))
        counted = f"({count})" if visible == count else f"({visible} of {count}"
        assert node.label.plain.startswith(f"{names.get(cluster.id) or cluster.label} {counted}"), cluster.id
    assert screen.curations == marks
    return session


async def select(pilot, tree: ClusterTree, key: str) -> None:  # type: ignore[no-untyped-def]
    assert tree.select_key(key), key
    tree.focus()
    await pilot.pause()


async def settled(pilot, app: SessionLabApp) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_tree_is_the_store_after_marks_batches_more_like_and_deletes(
    make_app: Callable[..., SessionLabApp],
    settings: Settings,
    big: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_load, "OLDER_CHUNK", 7)  # older batches come in several chunks
    older = big.batches[1:-RECENT_BATCHES]
    app = make_app(check_audio=False)
    app.auto_advance = False
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        await settled(pilot, app)
        tree = screen.query_one(ClusterTree)
        tree_is_the_store(screen, settings)

        # Curation on clips of an older batch (read in a later chunk): discard, keep.
        marked = big.batches[17]
        assert marked in older and marked.parent_cluster_id is None
        cluster = sorted(marked.clusters, key=lambda c: c.position)[0]
        clips = cluster_tracks(marked, cluster)
        await select(pilot, tree, f"track:{clips[0].id}")
        await pilot.press("x")
        await settled(pilot, app)
        await select(pilot, tree, f"track:{clips[-1].id}")
        await pilot.press("s")
        await settled(pilot, app)
        # Renamed: a cluster of another older batch.
        renamed = sorted(big.batches[22].clusters, key=lambda c: c.position)[-1]
        await select(pilot, tree, f"cluster:{renamed.id}")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen), "the name dialog")
        app.screen.query_one(Input).value = "Night Drive"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, "named")
        await settled(pilot, app)
        session = tree_is_the_store(screen, settings)
        with SessionStore(settings.data_dir) as store:
            assert store.get_curation(clips[0].id).discarded and store.get_curation(clips[-1].id).kept
            assert store.get_cluster_names(session.id) == {renamed.id: "Night Drive"}

        # A batch, then more like the renamed cluster (it inherits the name given).
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        for field, value in (("clips", "3"), ("duration", "0.1"), ("seed", "91")):
            app.screen.query_one(f"#{field}", Input).value = value
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen and not screen.generating, "the batch")
        await settled(pilot, app)
        assert len(tree_is_the_store(screen, settings).batches) == len(big.batches) + 1
        await select(pilot, tree, f"cluster:{renamed.id}")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "the count dialog")
        app.screen.query_one("#count-input", Input).value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and not screen.generating, "more-like made")
        await settled(pilot, app)
        session = tree_is_the_store(screen, settings)
        more = session.batches[-1]
        assert more.parent_cluster_id == renamed.id
        assert tree.nodes_by_key[f"batch:{more.id}"].parent is tree.nodes_by_key[f"cluster:{renamed.id}"]

        # Delete a clip of an older batch (read in a later chunk): the session is read again.
        gone_clip = cluster_tracks(
            big.batches[11], sorted(big.batches[11].clusters, key=lambda c: c.position)[0]
        )[0]
        assert big.batches[11] in older
        await select(pilot, tree, f"track:{gone_clip.id}")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked first")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                screen.session is not None
                and screen.counts is None
                and screen.session.find_track(gone_clip.id) is None
            ),
            "read again without it",
        )
        await settled(pilot, app)
        session = tree_is_the_store(screen, settings)
        assert session.find_track(gone_clip.id) is None and not gone_clip.path.exists()

        # Delete a whole older batch with a more-like batch made from it: that one stays, at the top.
        gone_batch = big.batches[4]
        child = big.batches[5]
        assert gone_batch in older and child.parent_cluster_id in {c.id for c in gone_batch.clusters}
        await select(pilot, tree, f"batch:{gone_batch.id}")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked first")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                screen.session is not None
                and screen.counts is None
                and all(b.id != gone_batch.id for b in screen.session.batches)
            ),
            "read again without it",
        )
        await settled(pilot, app)
        session = tree_is_the_store(screen, settings)
        assert all(b.id != gone_batch.id for b in session.batches)
        assert tree.nodes_by_key[f"batch:{child.id}"].parent is tree.root
        # The marks and the name survive the deletes, in the tree too.
        assert f"track:{clips[0].id}" not in tree.nodes_by_key
        assert tree.nodes_by_key[f"cluster:{renamed.id}"].label.plain.startswith("Night Drive")
