"""A child of a cluster the musician named (more like, extend) carries that name; its generated
label stays the parent's generated one; a blend (two parents) gets none. Real sketch engine,
features embedder, SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import curation
from core.models import BriefParams
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.core.cli_helpers import run


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def test_more_like_and_extend_carry_the_musicians_name_a_blend_does_not(store: SessionStore) -> None:
    service = SessionService.from_settings(Settings(data_dir=store.root), store=store, engine="sketch")
    session = service.create_initial_batch("warm lofi piano", BriefParams(duration_sec=1.0), 4, seed=11)
    first = session.batches[0].clusters[0]
    curation.rename_cluster(store, session.id, first.id, "Night Drive")
    more = service.more_like_cluster(session.id, first.id, 1, seed=5)
    (child,) = more.clusters
    track = session.batches[0].tracks[[t.id for t in session.batches[0].tracks].index(first.track_ids[0])]
    extended = service.extend_track(track.id, 2.0, seed=6)
    (beside,) = extended.clusters
    names = store.get_cluster_names(session.id)
    assert names[child.id] == names[beside.id] == "Night Drive"
    stored = {c.id: c for c in store.require_session(session.id).clusters}
    assert stored[child.id].label == stored[beside.id].label == first.label  # the generated label stays
    # A child of the child carries it on; a blend of two parents is named by neither.
    grandchild = service.more_like_cluster(session.id, child.id, 1, seed=7)
    assert store.get_cluster_names(session.id)[grandchild.clusters[0].id] == "Night Drive"
    blend = service.blend_clusters(session.id, first.id, child.id, 1, seed=8)
    assert blend.clusters[0].id not in store.get_cluster_names(session.id)
    # Unnamed parent: no name record for the child.
    curation.rename_cluster(store, session.id, first.id, "")
    plain = service.more_like_cluster(session.id, first.id, 1, seed=9)
    assert plain.clusters[0].id not in store.get_cluster_names(session.id)


def test_show_calls_the_child_by_the_musicians_name(data_dir: Path, generated) -> None:
    cluster = generated["batches"][0]["clusters"][0]
    run("rename-cluster", generated["id"], cluster["id"], "Night Drive")
    code, _, err = run("more", generated["id"], cluster["id"][:8], "--clips", "1", "--seed", "3")
    assert code == 0, err
    code, out, _ = run("show", generated["id"])
    assert out.count(f"Night Drive (generated: {cluster['label']})") == 2, out
