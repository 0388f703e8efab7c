"""The session map (M), search (/) and blends (B) in the app."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from core.maps import nearest_in_direction
from core.settings import Settings
from core.store import SessionStore
from tests.tui.helpers import make_named_session, make_split_session, open_only_session
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.map import MapScreen
from tui.screens.modals import CountScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.session_map import SessionMapPlot
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio


async def test_the_map_moves_plays_and_hands_the_clip_back(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_split_session(settings, clips=6)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        await pilot.press("M")
        await wait_for(
            pilot, lambda: isinstance(app.screen, MapScreen) and app.screen.placed is not None, "map"
        )
        chart = app.screen
        assert len(chart.placed.points) == 6
        plot = chart.query_one(SessionMapPlot)
        assert plot.session_map is chart.placed and plot.selected == chart.selected

        # Each arrow goes where core.maps says, as drawn; with nothing that way it stays.
        visited = set()
        for key, (dx, dy) in (("right", (1, 0)), ("up", (0, 1)), ("left", (-1, 0)), ("down", (0, -1))):
            for _ in range(6):
                current = chart.placed.point(chart.selected)
                span = chart.placed.xy.max(axis=0) - chart.placed.xy.min(axis=0)
                scale = (plot.size.width / max(1e-9, span[0]), plot.size.height * 2 / max(1e-9, span[1]))
                expected = nearest_in_direction(chart.placed.points, current, dx, dy, scale=scale)
                await pilot.press(key)
                await pilot.pause()
                want = expected.track_id if expected is not None else current.track_id
                assert chart.selected == want
                assert plot.selected == want
                visited.add(chart.selected)
        assert len(visited) >= 2

        app.toggle_loop()  # it sounds until the end of the test (ALSA's null device is fast)
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.player_state is not None and app.player_state.playing, "a clip plays"
        )
        await pilot.pause()
        assert app.now_playing.key == str(chart.selected)
        assert plot.playing == chart.selected  # marked while it sounds (not once it stopped)
        chosen = chart.selected

        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen is screen, "back to the session")
        tree = screen.query_one(ClusterTree)
        table = screen.query_one(TrackTable)
        assert tree.highlighted.key == f"track:{chosen}"
        assert table.current is not None and table.current.key == str(chosen)

        # m on the map: more like the selected clip's cluster.
        await pilot.press("M")
        await wait_for(
            pilot, lambda: isinstance(app.screen, MapScreen) and app.screen.placed is not None, "map"
        )
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "the count dialog")
        found = session.find_track(chosen)
        assert found is not None
        cluster = found[0].cluster(found[1].cluster_id)
        assert cluster.label in app.screen.prompt_title


async def test_b_on_the_map_marks_two_clips_clusters_and_asks_for_their_blend(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_split_session(settings, clips=4)
    first, second = sorted(session.batches[0].clusters, key=lambda c: c.position)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_only_session(pilot, app)
        await pilot.press("M")
        await wait_for(
            pilot, lambda: isinstance(app.screen, MapScreen) and app.screen.placed is not None, "map"
        )
        chart = app.screen
        cluster_of = {p.track_id: p.cluster_id for p in chart.placed.points}
        chart.selected = first.track_ids[0]
        await pilot.press("B")
        assert chart.blend_first == first.id
        chart.selected = next(t for t, c in cluster_of.items() if c == second.id)
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "how many clips")
        assert first.label in app.screen.prompt_title and second.label in app.screen.prompt_title
        assert app.screen.prompt_title.index(first.label) < app.screen.prompt_title.rindex(second.label)


async def test_slash_filters_the_list_by_words_and_escape_brings_it_back(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_split_session(settings, clips=4)
    first, second = session.batches[0].clusters
    with SessionStore(settings.data_dir) as store:
        from core import curation

        one = second.track_ids[0]
        curation.set_note(store, one, "the swing on this one")
        curation.rename_cluster(store, session.id, first.id, "Lazy Sunday")
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        table = screen.query_one(TrackTable)
        await pilot.press("slash")
        await wait_for(pilot, lambda: screen.query("#search"), "the search bar")
        await pilot.press(*"swing", "enter")
        await wait_for(pilot, lambda: table.scope == "search", "the hits")
        assert list(table.rows_by_key) == [str(one)]
        assert screen.search_result.hits[0].matched == ("note",)

        await pilot.press("slash")
        bar = screen.query_one("#search")
        bar.value = ""
        await pilot.press(*"sunday", "enter")
        await wait_for(
            pilot, lambda: table.scope == "search" and screen.search_result.query == "sunday", "new hits"
        )
        assert sorted(table.rows_by_key) == sorted(str(t) for t in first.track_ids)

        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: table.scope != "search", "the tree's clips again")
        assert not screen.query("#search")
        assert screen.search_result is None


async def test_escape_on_the_hits_closes_the_search_as_its_title_says(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """After Enter the bar keeps the focus and ↓ moves into the hits; esc there brings the
    tree's clips back too."""
    make_named_session(settings)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        table = screen.query_one(TrackTable)
        await pilot.press("slash", *"sunday", "enter")
        await wait_for(pilot, lambda: table.scope == "search", "the hits")
        assert app.focused is screen.query_one("#search")
        await pilot.press("down")
        assert app.focused is table
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.scope != "search", "the tree's clips again")
        assert not screen.query("#search") and screen.search_result is None


async def test_a_search_every_clip_matches_by_words_says_none_more_by_sound(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """ "warm" is in the brief and is a word features-v1 measures (the one features space
    with a text side; a session kept in it is searched in it)."""
    make_split_session(settings, clips=4, embedder_model="v1")
    app = make_app(check_audio=False)
    async with app.run_test(size=(160, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        table = screen.query_one(TrackTable)
        await pilot.press("slash", *"warm", "enter")
        await wait_for(pilot, lambda: table.scope == "search", "the hits")
        assert screen.search_result.ranked_by and len(table.rows_by_key) == 4
        title = str(screen.query_one("#scope-title").render())
        assert "4 clips by words · none more by sound" in title and "0 more" not in title


async def test_b_on_two_clusters_asks_for_a_blend_that_sits_under_the_first(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_split_session(settings, clips=4)
    first, second = sorted(session.batches[0].clusters, key=lambda c: c.position)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_only_session(pilot, app)
        tree = screen.query_one(ClusterTree)
        await wait_for(pilot, lambda: tree.highlighted.key == f"cluster:{first.id}", "the first cluster")
        await pilot.press("B")
        assert screen.blend_first[1].id == first.id
        await pilot.press("B")  # the same one again: unmarked
        assert screen.blend_first is None
        await pilot.press("B")
        tree.select_key(f"cluster:{second.id}")
        await pilot.pause()
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, CountScreen), "how many clips")
        app.screen.query_one("#count-input").value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.generating and len(screen.session.batches) == 2, "the blend")
        await app.workers.wait_for_complete()
        blend = screen.session.batches[-1]
        (cluster,) = blend.clusters
        assert cluster.parent_cluster_id == first.id and cluster.second_parent_cluster_id == second.id
        assert len(cluster.track_ids) == 2
        # Under the first cluster in the tree.
        node = tree.nodes_by_key[f"batch:{blend.id}"]
        assert node.parent is tree.nodes_by_key[f"cluster:{first.id}"]
        assert screen.blend_first is None
        with SessionStore(settings.data_dir, read_only=True) as store:
            stored = store.get_cluster(session.id, cluster.id)
        assert stored is not None and stored.second_parent_cluster_id == second.id
        assert uuid.UUID(str(stored.id)) == cluster.id
