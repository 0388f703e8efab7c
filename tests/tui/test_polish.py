"""Small things a musician tripped over: blend titles, typing after a search, the search
and the filter, the tree's counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from core import curation
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import make_named_session, make_split_session, open_only_session
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.map import MapScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.session_map import SessionMapPlot
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


def make_blend_session(settings: Settings):  # type: ignore[no-untyped-def]
    """Two clusters, a blend of the first with the second; the second renamed."""
    session = make_split_session(settings, clips=4)
    first, second = sorted(session.batches[0].clusters, key=lambda c: c.position)
    service = SessionService.from_settings(settings)
    blend = service.blend_clusters(session.id, first.id, second.id, 2)
    curation.rename_cluster(service.store, session.id, second.id, "Night <b>Drive</b>")
    service.store.close()
    return session, first, second, blend


async def test_a_blend_is_titled_by_its_second_parent_not_as_more_like(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session, first, second, blend = make_blend_session(settings)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        await app.workers.wait_for_complete()
        await pilot.pause()
        tree = screen.query_one(ClusterTree)
        node = tree.nodes_by_key[f"batch:{blend.id}"]
        await wait_for(pilot, lambda: "Night" in str(node.label), "the partner's name")
        title = str(node.label)
        assert title.startswith("Blend with “Night <b>Drive</b>”") and "More like" not in title

        tree.select_key(f"batch:{blend.id}")
        await pilot.pause()
        heading = str(screen.query_one("#scope-title").render())
        assert "Blend with “Night <b>Drive</b>”" in heading

        (cluster,) = blend.clusters
        tree.select_key(f"cluster:{cluster.id}")
        await pilot.pause()
        heading = str(screen.query_one("#scope-title").render())
        assert "midpoint of its two parents' centres" in heading and "parent cluster's centre" not in heading

        # Renamed again while shown: the blend's title follows.
        with SessionStore(settings.data_dir) as store:
            curation.rename_cluster(store, session.id, second.id, "Dawn")
        screen._read_curation(session.id)
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: "Dawn" in str(node.label), "the new name")
        assert str(node.label).startswith("Blend with “Dawn”")


async def test_after_enter_the_search_keeps_the_keys_and_tab_moves_into_the_hits(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """Letters typed after Enter are words in the bar, never keys on the hits (x discards)."""
    session = make_named_session(settings)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        table = screen.query_one(TrackTable)
        await pilot.press("slash", *"sunday", "enter")
        await wait_for(pilot, lambda: table.scope == "search", "the hits")
        bar = screen.query_one("#search")
        assert app.focused is bar
        assert "↓/tab: the hits" in str(screen.query_one("#scope-title").render())
        await pilot.press("x", "k")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert bar.value == "sundayxk"
        assert not screen.curations
        with SessionStore(settings.data_dir, read_only=True) as store:
            assert not store.get_curations(session.id)
        await pilot.press("tab")
        assert app.focused is table and table.scope == "search"


async def test_search_hits_follow_the_filter(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_named_session(settings)
    first = session.batches[0].clusters[0]
    gone, kept = first.track_ids[0], first.track_ids[1]
    with SessionStore(settings.data_dir) as store:
        curation.discard(store, gone, True)
        curation.keep(store, kept, True)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = screen.query_one(TrackTable)
        await pilot.press("slash", *"sunday", "enter")
        await wait_for(pilot, lambda: table.scope == "search", "the hits")
        # hide discarded (the default): the discarded clip is not a hit shown.
        assert sorted(table.rows_by_key) == sorted(str(t) for t in first.track_ids if t != gone)
        assert "1 discarded hidden" in str(screen.query_one("#scope-title").render())
        await pilot.press("tab")  # into the hits: f is a key there
        await pilot.press("f")  # kept only
        await pilot.pause()
        assert table.scope == "search" and list(table.rows_by_key) == [str(kept)]
        await pilot.press("f")  # all
        await pilot.pause()
        assert table.scope == "search" and sorted(table.rows_by_key) == sorted(
            str(t) for t in first.track_ids
        )


async def test_a_cluster_says_how_many_of_its_clips_are_shown_in_one_wording() -> None:
    from datetime import UTC, datetime

    from core.models import ClusterSummary
    from tui.widgets.cluster_tree_nodes import cluster_title

    ids = [uuid.uuid4(), uuid.uuid4()]
    cluster = ClusterSummary(uuid.uuid4(), uuid.uuid4(), "Dusty Keys", ids, datetime.now(UTC))
    assert cluster_title(cluster, 2).plain == "Dusty Keys (2)"
    assert cluster_title(cluster, 2, 2).plain == "Dusty Keys (2)"
    assert cluster_title(cluster, 2, 1).plain == "Dusty Keys (1 of 2 shown)"
    assert cluster_title(cluster, 2, 0).plain == "Dusty Keys (0 of 2 shown)"


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_tree_leaves_the_list_its_columns_on_a_narrow_terminal(
    make_app: Callable[..., SessionLabApp], settings: Settings, size: tuple[int, int]
) -> None:
    """44 columns of tree at 120 (as ever); at 80 a narrower one, and the list shows its
    length and similarity columns whole."""
    make_split_session(settings, clips=4)
    app = make_app(check_audio=False)
    async with app.run_test(size=size) as pilot:
        screen = await open_only_session(pilot, app)
        await pilot.pause()
        tree = screen.query_one(ClusterTree)
        table = screen.query_one(TrackTable)
        if size[0] == 120:
            assert tree.outer_size.width == 44
        else:
            assert 24 <= tree.outer_size.width < 44
        columns = list(table.columns.values())
        keys = [c.key.value for c in columns]
        through_similarity = columns[: keys.index("sim") + 1]
        assert "length" in keys[: len(through_similarity)]
        assert (
            sum(c.get_render_width(table) for c in through_similarity)
            <= table.scrollable_content_region.width
        )
        # Narrowed and widened again: the tree follows the terminal.
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert tree.outer_size.width == 44


async def test_the_map_tells_alike_clusters_apart_names_clips_and_drops_the_mark_when_stopped(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_split_session(settings, clips=4)
    first, second = sorted(session.batches[0].clusters, key=lambda c: c.position)
    service = SessionService.from_settings(settings)
    more = service.more_like_cluster(session.id, first.id, 2)
    service.store.close()
    (child,) = more.clusters
    assert child.label == first.label  # inherited: two clusters of one name
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_only_session(pilot, app)
        await app.workers.wait_for_complete()
        await pilot.press("M")
        await wait_for(
            pilot, lambda: isinstance(app.screen, MapScreen) and app.screen.placed is not None, "map"
        )
        chart = app.screen
        legend = str(chart.query_one("#map-legend").render())
        assert f"{first.label} · batch 1" in legend and f"{first.label} · batch 2" in legend
        assert second.label in legend and f"{second.label} · batch" not in legend

        chart.selected = child.track_ids[0]
        chart._marks()
        position = next(t.position for t in more.tracks if t.id == child.track_ids[0])
        status = str(chart.query_one("#map-status").render())
        assert f"{first.label} · batch 2 #{position + 1}" in status and " clip " not in status

        # Looped, it sounds until told not to (ALSA's null device plays faster than time).
        app.toggle_loop()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.player_state is not None and app.player_state.playing, "it plays")
        await pilot.pause()
        plot = chart.query_one(SessionMapPlot)
        assert plot.playing == child.track_ids[0]
        assert f"playing {first.label} · batch 2 #{position + 1}" in str(
            chart.query_one("#map-status").render()
        )

        app.toggle_loop()  # off: it ends, and stops; the clip stays the one last played
        await wait_for(pilot, lambda: not app.player_state.playing, "it stops")
        await pilot.pause()
        assert app.now_playing is not None
        assert plot.playing is None
        assert "playing" not in str(chart.query_one("#map-status").render())
