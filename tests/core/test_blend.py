"""Blend two clusters: references from both, clips nearer the middle kept, both parents recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core import clustering, manifest
from core.errors import ValidationError
from core.models import BriefParams
from core.pipeline.blend import blend_margin, midpoint_of
from core.providers.sketch import blend_recipes, design_recipe, is_sketch_recipe
from core.service import SessionService
from core.settings import Settings
from core.store import SCHEMA_VERSION, SessionStore
from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer

PARAMS = BriefParams(duration_sec=0.2)
MIDDLE = [0.7071, 0.7071, 0.0]
VECTORS = {200: [1.0, 0.0, 0.0], 400: [0.0, 1.0, 0.0], 600: MIDDLE, 800: [0.0, 0.0, 1.0]}


@pytest.fixture
def service(data_dir: Path):
    store = SessionStore(data_dir)
    service = SessionService(
        store,
        FakeMusic((200,)),
        FakeEmbedder(VECTORS),
        FakeNamer(("Low Hum", "Mid Hum", "Both Hums")),
        settings=Settings(data_dir=data_dir),
        clusterer=clustering.cluster_embeddings,
    )
    yield service
    store.close()


def two_clusters(service: SessionService):  # type: ignore[no-untyped-def]
    session = service.create_initial_batch("low hum", PARAMS, 3, seed=1)
    service.music = FakeMusic((400,))
    service.add_brief_batch(session.id, "mid hum", PARAMS, 3, seed=2)
    stored = service.store.require_session(session.id)
    (first,), (second,) = (b.clusters for b in stored.batches)
    return stored, first, second


def test_a_blend_keeps_clips_nearer_the_middle_and_records_both_parents(service: SessionService) -> None:
    session, first, second = two_clusters(service)
    music = service.music = FakeMusic((200, 600, 400))
    batch = service.blend_clusters(session.id, first.id, second.id, 2, seed=3)

    (cluster,) = batch.clusters
    assert cluster.parent_cluster_id == first.id and cluster.second_parent_cluster_id == second.id
    assert batch.parent_cluster_id == first.id  # the tree puts it under the first
    assert batch.num_generated == 2 and service.notices == []
    stored = service.store.get_embeddings(cluster.track_ids, "fake-v1")
    assert all(np.allclose(v, MIDDLE, atol=1e-3) for v in stored.values())  # only the clips in between
    # The engine (no blending of its own) got both clusters' clips as references, in turn.
    members = {t.path for t in session.tracks}
    first_paths = {t.path for t in session.batches[0].tracks}
    references = [r.audio_path for r in music.calls[0]["references"]]
    assert set(references) == members and references[0] in first_paths and references[1] not in first_paths
    assert "low hum + mid hum" in music.calls[0]["prompt"]

    # Stored whole: read back after reopening, and in the batch's manifest beside its audio.
    root = service.store.root
    service.store.close()
    with SessionStore(root) as again:
        assert again.get_cluster(session.id, cluster.id).second_parent_cluster_id == second.id
        record = manifest.read(manifest.manifest_path(root, session.id, batch.id), root)
    assert record.batch.clusters[0].second_parent_cluster_id == second.id
    assert SCHEMA_VERSION == 4


def test_migration_4_gives_a_version_3_database_the_second_parent_column(tmp_path: Path) -> None:
    import sqlite3

    from core.store import MIGRATIONS, migrate

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    migrate(conn, MIGRATIONS[:3])
    conn.execute("INSERT INTO sessions VALUES ('s', 't', 't', 'brief', '{}', '')")
    before = [r[1] for r in conn.execute("PRAGMA table_info(clusters)")]
    assert "second_parent_cluster_id" not in before
    assert migrate(conn, MIGRATIONS) == 4
    after = [r[1] for r in conn.execute("PRAGMA table_info(clusters)")]
    assert after == [*before, "second_parent_cluster_id"]
    assert conn.execute("SELECT brief_text FROM sessions").fetchone()[0] == "brief"


def test_when_no_clip_lands_in_the_middle_the_nearest_are_kept_and_said_so(service: SessionService) -> None:
    session, first, second = two_clusters(service)
    service.music = FakeMusic((800,))
    batch = service.blend_clusters(session.id, first.id, second.id, 2, seed=3)
    assert batch.num_generated == 2
    assert any("2 of 2 clips were nearer to a parent" in n for n in service.notices)


def test_a_blend_of_a_cluster_with_itself_is_refused_and_writes_nothing(service: SessionService) -> None:
    session, first, _ = two_clusters(service)
    with pytest.raises(ValidationError, match="two different clusters"):
        service.blend_clusters(session.id, first.id, first.id, 2)
    assert len(service.store.require_session(session.id).batches) == 2


def test_the_margin_is_positive_only_nearer_the_middle_than_either_parent() -> None:
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    middle = midpoint_of(a, b)
    assert np.allclose(middle, MIDDLE, atol=1e-4)
    assert blend_margin(np.array(MIDDLE), a, b, middle) > 0.25
    assert blend_margin(np.array([0.9, 0.3, 0.0]), a, b, middle) < 0  # still nearer the first
    assert blend_margin(a, a, b, middle) < 0


def test_the_sketch_engine_blends_two_recipes_into_one_it_can_render() -> None:
    lofi = design_recipe("dusty lofi rhodes", 0.3, 0.4, seed=1)
    techno = design_recipe("fast bright techno", 0.9, 0.8, seed=2)
    for seed in range(6):
        child = blend_recipes(lofi, techno, seed)
        assert is_sketch_recipe(child)
        assert child["blend_of"] == [lofi["seed"], techno["seed"]]
        for name in ("tempo", "energy", "brightness", "drive"):
            low, high = sorted((lofi[name], techno[name]))
            assert low <= child[name] <= high
        # Harmony comes whole from one parent.
        harmony = lofi if child["mode"] == lofi["mode"] and child["key"] == lofi["key"] else techno
        assert child["progression"] == harmony["progression"]


def test_a_blend_on_the_sketch_engine_starts_each_clip_from_one_clip_of_each(data_dir: Path) -> None:
    from core.providers import registry

    settings = Settings(data_dir=data_dir)
    with SessionStore(data_dir) as store:
        service = SessionService(
            store,
            registry.create_music(settings, "sketch"),
            registry.create_embedder(settings, "features"),
            registry.create_namer(settings, "describe"),
            settings=settings,
            clusterer=lambda embeddings, max_k, **_: [list(range(len(embeddings)))],  # one cluster a batch
        )
        params = BriefParams(0.3, 0.4, 1.0)
        session = service.create_initial_batch("dusty lofi rhodes", params, 2, seed=1)
        service.add_brief_batch(session.id, "fast bright techno", BriefParams(0.9, 0.8, 1.0), 2, seed=2)
        stored = store.require_session(session.id)
        (first,), (second,) = (b.clusters for b in stored.batches)
        batch = service.blend_clusters(session.id, first.id, second.id, 2, seed=3)
        seeds_a = {t.recipe["seed"] for t in stored.batches[0].tracks}
        seeds_b = {t.recipe["seed"] for t in stored.batches[1].tracks}
        for track in store.require_session(session.id).batches[-1].tracks:
            parent_a, parent_b = track.recipe["blend_of"]
            assert parent_a in seeds_a and parent_b in seeds_b
        assert batch.clusters[0].second_parent_cluster_id == second.id
