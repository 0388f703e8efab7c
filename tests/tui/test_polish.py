"""Small things a musician tripped over: blend titles, typing after a search, the search
and the filter, the tree's counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core import curation
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.tui.scenes import wait_for
from tests.tui.test_app import make_split_session, open_only_session
from tui.app import SessionLabApp
from tui.widgets.cluster_tree import ClusterTree

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
