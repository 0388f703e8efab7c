"""SessionStore sessions: create, read, list, rename, delete, and ids by prefix (real SQLite and media)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import core.store
from core import paths
from core.errors import NotFoundError, ValidationError
from core.models import (
    BATCH_MORE,
    Batch,
    BriefParams,
    ClusterSummary,
    Session,
    Track,
)
from tests.core.store_child import SPACE, add_one, make_batch, write_wav
from tests.core.store_helpers import PARAMS, add_simple_batch, assert_consistent, rows


def crafted_ids(*prefixes: str):
    """uuid4-shaped ids that start with the given hex prefixes, in order."""
    for prefix in prefixes:
        text = (prefix + uuid.uuid4().hex)[:32]
        yield uuid.UUID(text)


# --------------------------------------------------------------------------- sessions


def test_create_session_persists_and_returns_it(store):
    session = store.create_session("  slow dark ambient pad  ", PARAMS, name="  Night  ")
    assert session.brief_text == "slow dark ambient pad"
    assert session.name == "Night"
    assert session.batches == []
    assert session.created_at.tzinfo is not None and session.created_at.utcoffset() == timedelta(0)
    assert session.updated_at == session.created_at
    assert store.get_session(session.id) == session
    assert rows(store.root, "SELECT id FROM sessions") == [(str(session.id),)]


def test_create_session_validates_brief_and_name(store):
    with pytest.raises(ValidationError, match="empty"):
        store.create_session("   ", PARAMS)
    with pytest.raises(ValidationError, match="120"):
        store.create_session("ok", PARAMS, name="x" * 121)
    assert store.list_sessions() == []


def test_missing_things_are_none_or_not_found(store):
    session = store.create_session("brief", PARAMS)
    other = store.create_session("other", PARAMS)
    batch = add_simple_batch(store, session.id)
    cluster = batch.clusters[0]
    unknown = uuid.uuid4()
    assert store.get_session(unknown) is None
    with pytest.raises(NotFoundError, match=f"^No session {unknown}\\.$"):
        store.require_session(unknown)
    assert store.get_cluster(session.id, unknown) is None
    assert store.get_cluster(other.id, cluster.id) is None  # a cluster of another session
    assert store.get_centroid(session.id, unknown, SPACE) is None
    assert store.get_centroid(other.id, cluster.id, SPACE) is None
    assert store.get_centroid(session.id, cluster.id, "clap:other-space") is None
    assert store.get_track(session.id, unknown) is None
    assert store.get_track(other.id, batch.tracks[0].id) is None
    assert store.get_embeddings([unknown], SPACE) == {}


def test_narrow_reads_return_what_the_whole_session_holds(store):
    """The head, one batch, and a cluster with its batch: each the same as in get_session."""
    session = store.create_session("brief", PARAMS, name="Night")
    other = store.create_session("other", PARAMS)
    for n in (3, 1, 4, 2):
        add_one(store, session.id, n_tracks=n, position=0)
    foreign = add_simple_batch(store, other.id)
    whole = store.require_session(session.id)
    assert len(whole.batches) == 4 and sum(len(b.clusters) for b in whole.batches) > 4
    head = store.get_session_head(session.id)
    assert head == Session(**{**whole.__dict__, "batches": []})
    assert store.require_session_head(session.id) == head
    for batch in whole.batches:
        assert store.get_batch(session.id, batch.id) == batch
        for cluster in batch.clusters:
            assert store.find_cluster(session.id, cluster.id) == (batch, cluster)
            assert whole.find_cluster(cluster.id) == (batch, cluster)
    unknown = uuid.uuid4()
    assert store.get_session_head(unknown) is None
    with pytest.raises(NotFoundError, match=f"^No session {unknown}\\.$"):
        store.require_session_head(unknown)
    assert store.get_batch(session.id, unknown) is None
    assert store.get_batch(session.id, foreign.id) is None  # a batch of another session
    assert store.find_cluster(session.id, unknown) is None
    assert store.find_cluster(session.id, foreign.clusters[0].id) is None
    assert store.find_cluster(other.id, foreign.clusters[0].id) == (foreign, foreign.clusters[0])


def test_add_batch_persists_batch_centroids_and_embeddings(store):
    session = store.create_session("brief", PARAMS)
    with store.staging_dir(uuid.uuid4()) as staging:
        batch, centroids, embeddings, staged = make_batch(store, session.id, staging, n_tracks=4)
        store.add_batch(session.id, batch, centroids, space=SPACE, embeddings=embeddings, staged_files=staged)
        assert list(staging.iterdir()) == []  # every clip moved out
    loaded = store.require_session(session.id)
    assert loaded.batches == [batch]
    assert loaded.updated_at > session.updated_at
    for cluster in batch.clusters:
        assert store.get_cluster(session.id, cluster.id) == cluster
        stored = store.get_centroid(session.id, cluster.id, SPACE)
        assert stored.dtype == np.float32
        np.testing.assert_array_equal(stored, centroids[cluster.id].astype(np.float32))
    got = store.get_embeddings([t.id for t in batch.tracks], SPACE)
    assert set(got) == set(embeddings)
    for track in batch.tracks:
        np.testing.assert_array_equal(got[track.id], embeddings[track.id])
        assert track.path.is_file()
        assert store.get_track(session.id, track.id) == track
    assert_consistent(store.root)


def test_every_field_round_trips_in_display_order(store):
    session = store.create_session("brief", PARAMS, name="Title")
    first = add_simple_batch(store, session.id, position=0)
    parent = first.clusters[0]
    batch_id = uuid.uuid4()
    created = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    track_ids = [uuid.uuid4() for _ in range(3)]
    cluster_ids = [uuid.uuid4(), uuid.uuid4()]
    # Positions given out of insertion order: the store must order by them.
    clusters = [
        ClusterSummary(
            cluster_ids[0], batch_id, "Bright Driving", [track_ids[2], track_ids[0]], created, parent.id, 1
        ),
        ClusterSummary(cluster_ids[1], batch_id, "Dark Sparse", [track_ids[1]], created, None, 0),
    ]
    recipe = {"tempo": 128.5, "key": "A", "layers": ["drums", "bass"], "nested": {"swing": 0.1}}
    tracks = [
        Track(track_ids[0], batch_id, cluster_ids[0], paths.track_path(store.root, session.id, track_ids[0]),
              9.984, "prompt ü 0", created, seed=2**70, similarity=0.8125, source="/home/me/take 1.flac",
              recipe=recipe, position=2),
        Track(track_ids[1], batch_id, cluster_ids[1], paths.track_path(store.root, session.id, track_ids[1]),
              10.0, "prompt 1", created + timedelta(seconds=1), seed=None, similarity=None, source=None,
              recipe=None, position=0),
        Track(track_ids[2], batch_id, cluster_ids[0], paths.track_path(store.root, session.id, track_ids[2]),
              3.5, "prompt 2", created, seed=-5, similarity=-0.25, position=1),
    ]  # fmt: skip
    batch = Batch(
        id=batch_id,
        session_id=session.id,
        created_at=created,
        prompt_text="prompt | energy=0.70",
        num_requested=6,
        num_generated=3,
        clusters=clusters,
        tracks=tracks,
        kind=BATCH_MORE,
        params=BriefParams(energy=0.125, density=1.0, duration_sec=30.0),
        seed=2**64 - 1,
        engine="musicgen",
        model="facebook/musicgen-small",
        embedder="clap",
        namer="openai",
        parent_cluster_id=parent.id,
        position=1,
    )
    with store.staging_dir(batch_id) as staging:
        staged = {t: write_wav(staging / f"{t}.wav", 440.0) for t in track_ids}
        store.add_batch(session.id, batch, {}, space=SPACE, staged_files=staged)

    loaded = store.require_session(session.id)
    expected = Batch(**{**batch.__dict__})
    expected.clusters = sorted(clusters, key=lambda c: c.position)
    expected.tracks = sorted(tracks, key=lambda t: t.position)
    assert loaded.batches == [first, expected]
    assert loaded.name == "Title" and loaded.params == PARAMS
    assert all(t.created_at.tzinfo is not None for t in loaded.tracks)
    assert all(t.path.is_absolute() and t.path.is_file() for t in loaded.tracks)
    # Paths are stored relative to the data dir.
    assert {p for (p,) in rows(store.root, "SELECT path FROM tracks WHERE batch_id = ?", str(batch_id))} == {
        f"media/{session.id}/{t}.wav" for t in track_ids
    }


def test_recipes_with_numpy_values_are_stored_as_plain_json(store):
    session = store.create_session("brief", PARAMS)
    with store.staging_dir(uuid.uuid4()) as staging:
        batch, centroids, embeddings, staged = make_batch(
            store, session.id, staging, n_tracks=1, n_clusters=1
        )
        batch.tracks[0].recipe = {"seed": np.int64(7), "gains": np.array([0.5, 0.25], dtype=np.float32)}
        store.add_batch(session.id, batch, centroids, space=SPACE, staged_files=staged)
    track = store.get_track(session.id, batch.tracks[0].id)
    assert track.recipe == {"seed": 7, "gains": [0.5, 0.25]}


def test_list_sessions_newest_first_with_counts(store):
    a = store.create_session("a", PARAMS)
    b = store.create_session("b", PARAMS)
    c = store.create_session("c", PARAMS)
    assert [s.id for s in store.list_sessions()] == [c.id, b.id, a.id]
    add_simple_batch(store, a.id, n_tracks=4)
    assert [s.id for s in store.list_sessions()] == [a.id, c.id, b.id]
    store.rename_session(b.id, "renamed")
    listed = store.list_sessions()
    assert [s.id for s in listed] == [b.id, a.id, c.id]
    info = {s.id: s for s in listed}
    assert (info[a.id].num_batches, info[a.id].num_tracks) == (1, 4)
    assert (info[b.id].num_batches, info[b.id].num_tracks, info[b.id].title) == (0, 0, "renamed")
    assert info[c.id].title == "c"
    assert all(s.updated_at >= s.created_at for s in listed)


def test_rename_session(store):
    session = store.create_session("the brief", PARAMS)
    store.rename_session(session.id, "  Late night  ")
    assert store.require_session(session.id).name == "Late night"
    store.rename_session(session.id, "x" * 120)
    with pytest.raises(ValidationError, match="limit is 120"):
        store.rename_session(session.id, "x" * 121)
    with pytest.raises(ValidationError, match="one line"):
        store.rename_session(session.id, "two\nlines")
    assert store.require_session(session.id).name == "x" * 120
    store.rename_session(session.id, "")
    assert store.require_session(session.id).title == "the brief"
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(missing)):
        store.rename_session(missing, "name")


def test_delete_session_removes_rows_and_media(store):
    doomed = store.create_session("doomed", PARAMS)
    kept = store.create_session("kept", PARAMS)
    doomed_batch = add_simple_batch(store, doomed.id)
    kept_batch = add_simple_batch(store, kept.id)
    store.delete_session(doomed.id)
    assert store.get_session(doomed.id) is None
    for table, column in (("batches", "session_id"), ("clusters", "session_id"), ("tracks", "session_id")):
        assert rows(store.root, f"SELECT count(*) FROM {table} WHERE {column} = ?", str(doomed.id)) == [(0,)]
    doomed_tracks = [str(t.id) for t in doomed_batch.tracks]
    assert rows(
        store.root, "SELECT count(*) FROM embeddings WHERE track_id IN (?, ?, ?)", *doomed_tracks
    ) == [(0,)]
    assert rows(store.root, "SELECT count(*) FROM centroids") == [(len(kept_batch.clusters),)]
    assert not paths.session_media_dir(store.root, doomed.id).exists()
    assert store.require_session(kept.id).batches == [kept_batch]
    assert_consistent(store.root)
    with pytest.raises(NotFoundError):
        store.delete_session(doomed.id)


# --------------------------------------------------------------------------- id prefixes


def test_resolve_session_id_by_prefix(store, monkeypatch):
    ids = crafted_ids("abcd1234", "abcd5678", "0123")
    monkeypatch.setattr(core.store, "new_id", lambda: next(ids))
    first = store.create_session("one", PARAMS)
    second = store.create_session("two", PARAMS)
    third = store.create_session("three", PARAMS)
    assert store.resolve_session_id(str(first.id)) == first.id
    assert store.resolve_session_id(first.id.hex.upper()) == first.id
    assert store.resolve_session_id("abcd1") == first.id
    assert store.resolve_session_id(" abcd-56 ") == second.id
    assert store.resolve_session_id("0123") == third.id
    with pytest.raises(ValidationError, match="ambiguous") as ambiguous:
        store.resolve_session_id("abcd")
    assert "2 sessions" in str(ambiguous.value)
    with pytest.raises(NotFoundError, match="No session matches 'ffff'"):
        store.resolve_session_id("ffff")
    with pytest.raises(NotFoundError):
        store.resolve_session_id(str(uuid.uuid4()))
    with pytest.raises(ValidationError, match="at least 4"):
        store.resolve_session_id("abc")
    with pytest.raises(ValidationError, match="not a session id"):
        store.resolve_session_id("zzzz")
    with pytest.raises(ValidationError, match="not a session id"):
        store.resolve_session_id("")


def test_resolve_cluster_id_within_its_session(store, monkeypatch):
    one = store.create_session("one", PARAMS)
    two = store.create_session("two", PARAMS)
    ids = crafted_ids("beef01", "beef02", "beef03")

    def add_with_cluster_ids(session_id: uuid.UUID, cluster_ids: list[uuid.UUID]) -> None:
        with store.staging_dir(uuid.uuid4()) as staging:
            batch, centroids, embeddings, staged = make_batch(
                store, session_id, staging, n_clusters=len(cluster_ids)
            )
            renamed = {}
            for cluster, new in zip(batch.clusters, cluster_ids, strict=True):
                renamed[cluster.id] = new
                cluster.id = new
            for track in batch.tracks:
                track.cluster_id = renamed[track.cluster_id]
            centroids = {renamed[k]: v for k, v in centroids.items()}
            store.add_batch(session_id, batch, centroids, space=SPACE, staged_files=staged)

    a, b, c = list(ids)
    add_with_cluster_ids(one.id, [a, b])
    add_with_cluster_ids(two.id, [c])
    assert store.resolve_cluster_id(one.id, "beef01") == a
    assert store.resolve_cluster_id(two.id, "beef") == c  # unique within its session
    with pytest.raises(ValidationError, match="ambiguous"):
        store.resolve_cluster_id(one.id, "beef")
    with pytest.raises(NotFoundError, match="No cluster matches 'beef03'"):
        store.resolve_cluster_id(one.id, "beef03")
    with pytest.raises(NotFoundError, match="No session"):
        store.resolve_cluster_id(uuid.uuid4(), "beef")
