"""A session of a few hundred clips, made through the real service (short clips, real
SQLite and WAVs): the tree shows what the store holds, is drawn from the session's
start and fills in as the older batches are read, builds old batches' nodes only
when they are opened, and grows by a batch without rebuilding what it had."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from textual.widgets import Input
from textual.widgets.tree import TreeNode

import tui.screens.session_load as session_load
from core.models import Batch, BriefParams, Session
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.tui.scenes import Gate, wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.modals import CountScreen
from tui.screens.session import SessionScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_build import RECENT_BATCHES
from tui.widgets.cluster_tree_nodes import cluster_tracks
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio

BIG_BRIEF = "tiny sketches for a big session"
BATCHES = 40  # 6 clips each, every fifth one more-like: 240 clips
SHORT = BriefParams(0.5, 0.5, 0.1)


@pytest.fixture(scope="module")
def big_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once through the real service, copied per test."""
    root = tmp_path_factory.mktemp("big-session") / "data"
    service = SessionService.from_settings(Settings(data_dir=root))
    try:
        session = service.create_initial_batch(BIG_BRIEF, SHORT, 6, seed=1)
        parent = session.batches[0].clusters[0].id
        for index in range(1, BATCHES):
            if index % 5 == 0:
                service.more_like_cluster(session.id, parent, 6, seed=index)
            else:
                parent = service.add_brief_batch(session.id, BIG_BRIEF, SHORT, 6, seed=index).clusters[0].id
    finally:
        service.store.close()
    return root


@pytest.fixture
def big(big_session: Path, settings: Settings) -> Session:
    shutil.copytree(big_session, settings.data_dir, dirs_exist_ok=True)
    return stored(settings)


def stored(settings: Settings) -> Session:
    with SessionStore(settings.data_dir) as store:
        [info] = store.list_sessions()
        return store.require_session(info.id)


def expected_lines(session: Session) -> list[tuple[int, str]]:
    """(depth, key) of every node the store's session makes, in the order shown."""
    known = {c.id for c in session.clusters}
    children: dict[object, list] = {}
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
            lines.extend((depth + 2, f"track:{t.id}") for t in cluster_tracks(batch, cluster))
            for child in children.get(cluster.id, []):
                visit(child, depth + 2)

    for batch in roots:
        visit(batch, 0)
    return lines


def made_lines(tree: ClusterTree) -> list[tuple[int, str]]:
    """(depth, key) of every node the tree has made so far, in tree order."""
    lines: list[tuple[int, str]] = []

    def walk(node: TreeNode, depth: int) -> None:  # type: ignore[type-arg]
        for child in node.children:
            lines.append((depth, child.data.key))
            walk(child, depth + 1)

    walk(tree.root, 0)
    return lines


def shows_the_store(tree: ClusterTree, session: Session) -> None:
    """Every clip of the store made into the tree (through the session the tree holds):
    then the tree is the store's, node for node, in order."""
    for track in session.tracks:
        assert tree.ensure_key(f"track:{track.id}") is not None, track.id
    assert made_lines(tree) == expected_lines(session)


async def open_big(pilot, app: SessionLabApp, *, whole: bool = True) -> SessionScreen:  # type: ignore[no-untyped-def]
    """Enter on the session; ``whole``: and wait until its older batches are read too."""
    await wait_for(pilot, lambda: bool(getattr(app.screen, "sessions", None)), "the list")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.loaded, "opened")
    screen = app.screen
    if whole:
        await wait_for(pilot, lambda: screen.counts is None, "every batch read")
    await pilot.pause()
    return screen


class HeldReads:
    """Holds the app's reads of older batches (the real store reads, in the worker's
    thread) until released, and counts them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.calls: list[int] = []
        read = SessionStore.get_batches

        def held(store: SessionStore, session_id: uuid.UUID, batch_ids: Sequence[uuid.UUID]) -> list[Batch]:
            self.calls.append(len(batch_ids))
            while not self.release.wait(0.05):
                pass
            return read(store, session_id, batch_ids)

        monkeypatch.setattr(SessionStore, "get_batches", held)


def title_text(screen: SessionScreen) -> str:
    return str(screen.query_one("#session-title").render())


async def test_opening_makes_a_node_per_batch_and_old_batches_open_on_demand(
    make_app: Callable[..., SessionLabApp], big: Session
) -> None:
    top = [b for b in big.batches if b.parent_cluster_id is None]
    old = top[10]
    lost = cluster_tracks(old, sorted(old.clusters, key=lambda c: c.position)[0])[0]
    Path(lost.path).unlink()  # checked after the tree is drawn; marked when its node is made
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        # Styled as a Screen (its mixins do not hide that from the CSS): opaque, so the
        # sessions list beneath is not drawn again, tinted, at each of its repaints.
        assert screen.styles.background.a == 1
        tree = screen.query_one(ClusterTree)
        # Every top-level batch, in the order made.
        assert [n.data.key for n in tree.root.children] == [f"batch:{b.id}" for b in top]
        # Far fewer nodes than clips: old batches have none under them yet.
        assert len(tree._tree_nodes) < len(big.tracks) // 2
        assert old not in big.batches[-RECENT_BATCHES:]
        old_node = tree.nodes_by_key[f"batch:{old.id}"]
        assert not old_node.is_expanded and not old_node.children and old_node.allow_expand
        first_cluster = sorted(old.clusters, key=lambda c: c.position)[0]
        assert f"cluster:{first_cluster.id}" not in tree.nodes_by_key
        # The latest batches are open, down to their clips.
        latest = big.batches[-1]
        assert tree.nodes_by_key[f"batch:{latest.id}"].is_expanded
        assert all(f"track:{t.id}" in tree.nodes_by_key for t in latest.tracks)

        # o on an old batch opens it: its clusters and clips, as stored.
        await wait_for(pilot, lambda: str(lost.id) in screen.clip_problems, "the files checked")
        tree.move_cursor(old_node)
        await pilot.press("o")
        await pilot.pause()
        assert old_node.is_expanded
        clusters = sorted(old.clusters, key=lambda c: c.position)
        assert [c.data.key for c in old_node.children] == [f"cluster:{c.id}" for c in clusters]
        for node, cluster in zip(old_node.children, clusters, strict=True):
            assert [t.data.key for t in node.children] == [
                f"track:{t.id}" for t in cluster_tracks(old, cluster)
            ]
        assert tree.nodes_by_key[f"track:{lost.id}"].label.plain.endswith("missing")
        await pilot.press("j")  # into it: its first cluster is listed
        table = screen.query_one(TrackTable)
        await wait_for(pilot, lambda: table.scope == f"cluster:{clusters[0].id}", "the cluster's clips")
        assert screen.query_one(TrackTable).get_cell(str(lost.id), "wave").plain == "file missing"
        await pilot.press("o")  # a cluster closes too
        await pilot.pause()
        assert not old_node.children[0].is_expanded
        # Opened another way (a click, Tree's own keys): its nodes follow from NodeExpanded.
        other = tree.nodes_by_key[f"batch:{top[11].id}"]
        assert not other.children
        other.expand()
        await wait_for(pilot, lambda: len(other.children) == len(top[11].clusters), "its clusters")
        shows_the_store(tree, big)


async def test_a_batch_and_more_like_add_their_nodes_and_keep_the_rest(
    make_app: Callable[..., SessionLabApp], settings: Settings, big: Session
) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        tree = screen.query_one(ClusterTree)
        kept = dict(tree.nodes_by_key)  # the very node objects made on opening
        gate = Gate("generating", 1)  # holds the batch being made, to look at it
        app.generation_observer = gate
        # b: a new batch of three clips in this session.
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        for field, value in (("clips", "3"), ("duration", "0.1"), ("seed", "77")):
            form.query_one(f"#{field}", Input).value = value
        await pilot.press("ctrl+s")
        await wait_for(pilot, gate.reached.is_set, "the batch's first clip")
        await pilot.pause()
        assert screen.generating and tree.nodes_by_key["pending"].parent is tree.root
        assert all(tree.nodes_by_key[key] is node for key, node in kept.items())
        gate.release.set()
        await wait_for(pilot, lambda: not screen.generating, "the batch is made")
        await pilot.pause()
        after_batch = stored(settings)
        new = after_batch.batches[-1]
        assert len(after_batch.batches) == len(big.batches) + 1 and len(new.tracks) == 3
        assert "pending" not in tree.nodes_by_key
        for key, node in kept.items():
            assert tree.nodes_by_key[key] is node, key  # not rebuilt: the same node
        assert tree.root.children[-1].data.key == f"batch:{new.id}"
        assert tree.highlighted.key == f"cluster:{new.clusters[0].id}"
        assert screen.session.batches[-1].id == new.id

        # m on an old, closed batch's cluster: the more-like batch hangs under it.
        kept = dict(tree.nodes_by_key)
        old = big.batches[3]
        cluster = sorted(old.clusters, key=lambda c: c.position)[-1]
        assert tree.select_key(f"cluster:{cluster.id}")
        await pilot.pause()
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "the count dialog")
        app.screen.query_one("#count-input", Input).value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and not screen.generating, "more-like made")
        await pilot.pause()
        after_more = stored(settings)
        more = after_more.batches[-1]
        assert more.parent_cluster_id == cluster.id
        more_node = tree.nodes_by_key[f"batch:{more.id}"]
        assert more_node.parent is tree.nodes_by_key[f"cluster:{cluster.id}"]
        assert tree.highlighted.key == f"cluster:{more.clusters[0].id}"
        for key, node in kept.items():
            assert tree.nodes_by_key[key] is node, key
        shows_the_store(tree, after_more)

    # Reopened, the session shows the same (read whole from the store).
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        shows_the_store(screen.query_one(ClusterTree), after_more)


async def test_n_and_p_move_on_into_batches_not_made_yet(
    make_app: Callable[..., SessionLabApp], big: Session
) -> None:
    top = [b for b in big.batches if b.parent_cluster_id is None]
    here, following = top[2], top[3]  # old batches: closed, nothing made under them
    last_here = sorted(here.clusters, key=lambda c: c.position)[-1]
    # The next cluster of the tree is the first of the next top-level batch, unless a
    # more-like batch hangs under this one.
    assert not [b for b in big.batches if b.parent_cluster_id == last_here.id]
    first_next = sorted(following.clusters, key=lambda c: c.position)[0]
    app = make_app()
    app.auto_advance = False  # clips end at once on the null device: only n and p move here
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        tree = screen.query_one(ClusterTree)
        table = screen.query_one(TrackTable)
        assert f"cluster:{first_next.id}" not in tree.nodes_by_key
        assert tree.select_key(f"cluster:{last_here.id}")
        await wait_for(pilot, lambda: table.scope == f"cluster:{last_here.id}", "the cluster listed")
        await pilot.press("tab", "G", "enter")
        await wait_for(pilot, lambda: app.now_playing is not None, "a clip plays")
        last_clip = str(cluster_tracks(here, last_here)[-1].id)
        assert app.now_playing.key == last_clip
        await pilot.press("n")
        first_clip = str(cluster_tracks(following, first_next)[0].id)
        await wait_for(pilot, lambda: app.now_playing.key == first_clip, "the next batch's first clip")
        assert table.scope == f"cluster:{first_next.id}"
        assert tree.highlighted.key == f"cluster:{first_next.id}"
        await pilot.press("p")
        await wait_for(pilot, lambda: app.now_playing.key == last_clip, "back to the previous clip")
        assert table.scope == f"cluster:{last_here.id}"


async def test_a_big_session_is_drawn_from_its_start_and_fills_in_as_it_is_read(
    make_app: Callable[..., SessionLabApp],
    settings: Settings,
    big: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_load, "OLDER_CHUNK", 7)  # several chunks
    held = HeldReads(monkeypatch)
    # The latest batch is a more-like one: the batch it came from is read with the start.
    latest = big.batches[-RECENT_BATCHES]
    assert latest.parent_cluster_id is not None
    parent = next(b for b in big.batches if latest.parent_cluster_id in {c.id for c in b.clusters})
    start = [big.batches[0], parent, *big.batches[-RECENT_BATCHES:]]
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app, whole=False)
        tree = screen.query_one(ClusterTree)
        await wait_for(pilot, lambda: bool(held.calls), "the older batches asked for")
        # Drawn from the start alone: its batches, in the session's order and numbering.
        assert [b.id for b in screen.session.batches] == [b.id for b in start]
        roots = [b for b in start if b.parent_cluster_id is None]
        assert [n.data.key for n in tree.root.children] == [f"batch:{b.id}" for b in roots]
        assert tree.nodes_by_key[f"batch:{parent.id}"].data.number == big.batches.index(parent) + 1
        assert (
            tree.nodes_by_key[f"batch:{latest.id}"].parent
            is tree.nodes_by_key[f"cluster:{latest.parent_cluster_id}"]
        )
        # The first cluster is highlighted and listed; the title counts the whole session.
        first = sorted(big.batches[0].clusters, key=lambda c: c.position)[0]
        assert tree.highlighted.key == f"cluster:{first.id}"
        assert screen.query_one(TrackTable).scope == f"cluster:{first.id}"
        assert f"{len(big.batches)} batches · {len(big.tracks)} clips" in title_text(screen)

        # A batch made while the older ones are still being read.
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        for field, value in (("clips", "2"), ("duration", "0.1"), ("seed", "5")):
            form.query_one(f"#{field}", Input).value = value
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen and not screen.generating, "the batch is made")
        made = stored(settings)
        assert len(made.batches) == len(big.batches) + 1
        assert screen.counts is not None and held.calls == [7]  # still held
        assert f"{len(made.batches)} batches · {len(made.tracks)} clips" in title_text(screen)

        held.release.set()
        await wait_for(pilot, lambda: screen.counts is None, "every batch read")
        await pilot.pause()
        missing = len(big.batches) - len(start)
        assert sum(held.calls) == missing and len(held.calls) == -(-missing // 7)
        # Whole now: the session held is the store's, batch for batch, and so is the tree.
        assert screen.session.batches == made.batches
        assert [n.data.key for n in tree.root.children] == [
            f"batch:{b.id}" for b in made.batches if b.parent_cluster_id is None
        ]
        assert [tree.nodes_by_key[f"batch:{b.id}"].data.number for b in start] == [
            made.batches.index(b) + 1 for b in start
        ]
        assert tree.highlighted.key == f"cluster:{made.batches[-1].clusters[0].id}"
        assert f"{len(made.batches)} batches · {len(made.tracks)} clips" in title_text(screen)
        shows_the_store(tree, made)


async def test_the_clip_last_highlighted_is_highlighted_again_once_its_batch_is_read(
    make_app: Callable[..., SessionLabApp], big: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = big.batches[12]
    assert old in big.batches[1:-RECENT_BATCHES] and old.parent_cluster_id is None
    cluster = sorted(old.clusters, key=lambda c: c.position)[-1]
    clip = cluster_tracks(old, cluster)[-1]
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_big(pilot, app)
        tree = screen.query_one(ClusterTree)
        assert tree.select_key(f"track:{clip.id}")
        await pilot.press("q")
        await wait_for(pilot, lambda: not isinstance(app.screen, SessionScreen), "back to the list")
        held = HeldReads(monkeypatch)
        screen = await open_big(pilot, app, whole=False)
        tree = screen.query_one(ClusterTree)
        await wait_for(pilot, lambda: bool(held.calls), "the older batches asked for")
        assert f"track:{clip.id}" not in tree.nodes_by_key  # not read yet: the first cluster instead
        assert tree.highlighted.key.startswith("cluster:")
        held.release.set()
        await wait_for(pilot, lambda: screen.counts is None, "every batch read")
        await pilot.pause()
        assert tree.highlighted.key == f"track:{clip.id}"
        table = screen.query_one(TrackTable)
        assert table.scope == f"cluster:{cluster.id}" and table.current.key == str(clip.id)


async def test_older_batches_read_later_go_in_their_places_open_clusters_included(big: Session) -> None:
    """The tree alone: shown from some batches, then given the rest in chunks, it is
    the store's session node for node, more-like batches under clusters already open."""
    from textual.app import App, ComposeResult

    class TreeApp(App[None]):
        def compose(self) -> ComposeResult:
            yield ClusterTree(id="tree")

    # Batch 5 is a more-like batch of a cluster of batch 4: read later, it goes under
    # that cluster, already open, after its clips.
    parent, child = big.batches[4], big.batches[5]
    assert child.parent_cluster_id in {c.id for c in parent.clusters}
    first_shown = [big.batches[0], parent, *big.batches[-RECENT_BATCHES - 1 :]]
    assert all(b.parent_cluster_id is None or b.id == big.batches[-RECENT_BATCHES].id for b in first_shown)
    start = Session(**{**big.__dict__, "batches": first_shown})
    rest = [b for b in big.batches if b not in first_shown]
    app = TreeApp()
    async with app.run_test(size=(80, 30)) as pilot:
        tree = app.query_one(ClusterTree)
        tree.show_session(start, order=[b.id for b in big.batches])
        assert tree.select_key(f"cluster:{child.parent_cluster_id}")
        await pilot.pause()
        highlighted = tree.cursor_node
        for first in range(0, len(rest), 9):
            tree.add_older(rest[first : first + 9])
            await pilot.pause()
        assert tree.cursor_node is highlighted  # the cursor stays on its node
        open_cluster = tree.nodes_by_key[f"cluster:{child.parent_cluster_id}"]
        assert open_cluster.children[-1].data.key == f"batch:{child.id}"
        assert [n.data.number for n in tree.root.children] == [
            big.batches.index(b) + 1 for b in big.batches if b.parent_cluster_id is None
        ]
        shows_the_store(tree, big)
