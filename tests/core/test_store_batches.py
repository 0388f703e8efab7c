"""SessionStore batches: vectors, refused batches, a new session with its batch, positions."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest

from core import paths
from core.errors import NotFoundError, StorageError, ValidationError
from tests.core.store_child import SPACE, make_batch, write_wav
from tests.core.store_helpers import PARAMS, add_simple_batch, assert_consistent, rows


def media_files(root: Path) -> list[str]:
    media = paths.media_root(root)
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file() and p.suffix != ".lock")


# --------------------------------------------------------------------------- vectors


def test_embeddings_in_several_spaces_and_upserts(store):
    session = store.create_session("brief", PARAMS)
    batch = add_simple_batch(store, session.id)
    track, cluster = batch.tracks[0], batch.clusters[0]
    clap = np.arange(512, dtype=np.float32) / 512
    store.put_embeddings("clap:laion/clap-htsat-unfused", {track.id: clap})
    assert store.get_embeddings([track.id], SPACE)[track.id].shape == (8,)
    np.testing.assert_array_equal(
        store.get_embeddings([track.id], "clap:laion/clap-htsat-unfused")[track.id], clap
    )
    store.put_embeddings(SPACE, {track.id: np.ones(8)})
    np.testing.assert_array_equal(store.get_embeddings([track.id], SPACE)[track.id], np.ones(8, np.float32))
    store.put_centroid(cluster.id, "clap:x", np.full(4, 0.5))
    store.put_centroid(cluster.id, "clap:x", np.full(4, 0.25))
    np.testing.assert_array_equal(store.get_centroid(session.id, cluster.id, "clap:x"), np.full(4, 0.25))
    assert store.get_centroid(session.id, cluster.id, SPACE) is not None
    with pytest.raises(NotFoundError, match="No track"):
        store.put_embeddings(SPACE, {uuid.uuid4(): np.ones(8)})
    with pytest.raises(NotFoundError, match="No cluster"):
        store.put_centroid(uuid.uuid4(), SPACE, np.ones(8))
    with pytest.raises(ValidationError, match="NaN"):
        store.put_centroid(cluster.id, SPACE, np.array([1.0, np.nan]))


# --------------------------------------------------------------------------- add_batch refusals


def test_bad_batches_write_nothing(store):
    session = store.create_session("brief", PARAMS)
    other = store.create_session("other", PARAMS)
    with store.staging_dir(uuid.uuid4()) as staging:
        batch, centroids, embeddings, staged = make_batch(store, session.id, staging)
        with pytest.raises(ValidationError, match="belongs to session"):
            store.add_batch(other.id, batch, centroids, space=SPACE, staged_files=staged)
        with pytest.raises(NotFoundError, match="No session"):
            unknown = uuid.uuid4()
            batch.session_id = unknown
            store.add_batch(unknown, batch, {}, space=SPACE, staged_files=staged)
        batch.session_id = session.id
        wrong_path = batch.tracks[0].path
        batch.tracks[0].path = staging / "elsewhere.wav"
        with pytest.raises(ValidationError, match="must live at"):
            store.add_batch(session.id, batch, centroids, space=SPACE, staged_files=staged)
        batch.tracks[0].path = wrong_path
        batch.clusters[0].track_ids.remove(batch.tracks[0].id)
        with pytest.raises(ValidationError, match="missing from its cluster"):
            store.add_batch(session.id, batch, centroids, space=SPACE, staged_files=staged)
        batch.clusters[0].track_ids.insert(0, batch.tracks[0].id)
        with pytest.raises(ValidationError, match="not in batch"):
            store.add_batch(session.id, batch, {uuid.uuid4(): np.ones(8)}, space=SPACE, staged_files=staged)
        # A track with neither a staged clip nor a file at its path.
        partial = dict(staged)
        del partial[batch.tracks[1].id]
        with pytest.raises(StorageError, match="no audio file"):
            store.add_batch(
                session.id, batch, centroids, space=SPACE, embeddings=embeddings, staged_files=partial
            )
        assert sorted(p.name for p in staging.iterdir()) == sorted(p.name for p in staged.values())
    assert rows(store.root, "SELECT count(*) FROM batches") == [(0,)]
    assert media_files(store.root) == []
    assert store.require_session(session.id).updated_at == session.updated_at


def test_a_failed_commit_puts_the_moved_clips_back(store):
    session = store.create_session("brief", PARAMS)
    stored = add_simple_batch(store, session.id)
    with store.staging_dir(uuid.uuid4()) as staging:
        # Same batch id as a stored batch, new tracks: the files move, then the insert fails.
        batch, centroids, embeddings, staged = make_batch(store, session.id, staging, batch_id=stored.id)
        with pytest.raises(ValidationError, match="cannot be stored"):
            store.add_batch(
                session.id, batch, centroids, space=SPACE, embeddings=embeddings, staged_files=staged
            )
        assert all(p.is_file() for p in staged.values())
        assert not any(t.path.exists() for t in batch.tracks)
    assert store.require_session(session.id).batches == [stored]
    assert_consistent(store.root)


def test_adding_a_stored_track_again_never_clobbers_its_file(store):
    session = store.create_session("brief", PARAMS)
    with store.staging_dir(uuid.uuid4()) as staging:
        batch, centroids, embeddings, staged = make_batch(store, session.id, staging, n_tracks=2)
        store.add_batch(session.id, batch, centroids, space=SPACE, staged_files=staged)
    before = {t.id: t.path.read_bytes() for t in batch.tracks}
    with store.staging_dir(uuid.uuid4()) as staging:
        again = {t.id: write_wav(staging / f"{t.id}.wav", 1000.0) for t in batch.tracks}
        batch.id = uuid.uuid4()
        for item in (*batch.clusters, *batch.tracks):
            item.batch_id = batch.id
        with pytest.raises(ValidationError, match="already stored"):
            store.add_batch(session.id, batch, {}, space=SPACE, staged_files=again)
    assert {t.id: t.path.read_bytes() for t in batch.tracks} == before
    assert_consistent(store.root)


def test_positions_tie_break_by_insertion_order(store):
    session = store.create_session("brief", PARAMS)
    ids = [add_simple_batch(store, session.id, position=0).id for _ in range(3)]
    assert [b.id for b in store.require_session(session.id).batches] == ids


# --------------------------------------------------------------------------- a new session with its batch


def test_a_new_session_and_its_first_batch_are_stored_together(store):
    session = store.draft_session("  first take  ", PARAMS, name="Demo")
    assert store.list_sessions() == []  # a draft is not stored
    with store.staging_dir(uuid.uuid4()) as staging:
        batch, centroids, embeddings, staged = make_batch(store, session.id, staging)
        store.add_batch(
            session.id,
            batch,
            centroids,
            space=SPACE,
            embeddings=embeddings,
            staged_files=staged,
            new_session=session,
        )
    loaded = store.require_session(session.id)
    assert (loaded.brief_text, loaded.name, loaded.params) == ("first take", "Demo", PARAMS)
    assert loaded.batches == [batch]
    assert_consistent(store.root)


def test_a_new_session_whose_first_batch_fails_is_not_stored(store):
    existing = store.create_session("existing", PARAMS)
    stored = add_simple_batch(store, existing.id)
    session = store.draft_session("new", PARAMS)
    with store.staging_dir(uuid.uuid4()) as staging:
        # Its first batch reuses a stored batch id: the insert fails after the session row's.
        batch, centroids, embeddings, staged = make_batch(store, session.id, staging, batch_id=stored.id)
        with pytest.raises(ValidationError, match="cannot be stored"):
            store.add_batch(
                session.id, batch, centroids, space=SPACE, staged_files=staged, new_session=session
            )
        assert all(p.is_file() for p in staged.values())  # the clips went back to staging
        with pytest.raises(ValidationError, match="already stored"):
            store.add_batch(
                existing.id, batch, centroids, space=SPACE, staged_files=staged, new_session=existing
            )
    assert [s.id for s in store.list_sessions()] == [existing.id]
    assert_consistent(store.root)


# --------------------------------------------------------------------------- batch positions


def test_the_store_gives_each_batch_the_next_position(store):
    session = store.create_session("brief", PARAMS)
    added = [add_simple_batch(store, session.id, position=0) for _ in range(3)]
    assert [b.position for b in added] == [0, 1, 2]
    assert rows(store.root, "SELECT position FROM batches ORDER BY rowid") == [(0,), (1,), (2,)]
    # The schema itself refuses a second batch at a position.
    with pytest.raises(sqlite3.IntegrityError), sqlite3.connect(paths.db_path(store.root)) as conn:
        conn.execute(
            "INSERT INTO batches SELECT 'x', session_id, position, created_at, kind, prompt_text,"
            " num_requested, num_generated, params, seed, engine, model, embedder, namer,"
            " parent_cluster_id FROM batches LIMIT 1"
        )
