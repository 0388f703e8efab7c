"""SessionStore on a real SQLite file and real media files in a temporary data dir."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import core.store
from core import paths
from core.errors import NotFoundError, StorageError, ValidationError
from core.models import (
    BATCH_MORE,
    Batch,
    BriefParams,
    ClusterSummary,
    Session,
    Track,
)
from core.store import SCHEMA_VERSION, SessionStore, migrate
from tests.core.store_child import SPACE, add_one, make_batch, write_wav

PARAMS = BriefParams(energy=0.7, density=0.3, duration_sec=4.0)


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def rows(root: Path, sql: str, *args: object) -> list[tuple]:
    """Read the database behind the store's back."""
    with sqlite3.connect(paths.db_path(root)) as conn:
        return conn.execute(sql, args).fetchall()


def media_files(root: Path) -> list[str]:
    media = paths.media_root(root)
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file() and p.suffix != ".lock")


def assert_consistent(root: Path) -> None:
    """Every track row names an existing file, every media file is named by a row, the db is sound."""
    named = {root / p for (p,) in rows(root, "SELECT path FROM tracks")}
    on_disk = {p for p in paths.media_root(root).glob("*/*.wav") if p.parent.name != "tmp"}
    assert named == on_disk
    assert rows(root, "PRAGMA integrity_check") == [("ok",)]
    assert rows(root, "PRAGMA foreign_key_check") == []


def add_simple_batch(store: SessionStore, session_id: uuid.UUID, **kwargs) -> Batch:
    batch_id = add_one(
        store, session_id, n_tracks=kwargs.pop("n_tracks", 3), position=kwargs.pop("position", 0)
    )
    session = store.require_session(session_id)
    return next(b for b in session.batches if b.id == batch_id)


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


# --------------------------------------------------------------------------- staging and sweeping


def test_staging_dir_is_locked_while_in_use_and_removed_after(store):
    batch_id = uuid.uuid4()
    with store.staging_dir(batch_id) as staging:
        assert staging == paths.tmp_root(store.root) / str(batch_id)
        write_wav(staging / "round-0" / "clip.wav", 330.0)
        with pytest.raises(StorageError, match="already being made"), store.staging_dir(batch_id):
            pass
        assert store.sweep_orphans() == 0  # held by us: not abandoned
        assert (staging / "round-0" / "clip.wav").is_file()
    assert not staging.exists()
    assert list(paths.tmp_root(store.root).iterdir()) == []
    with pytest.raises(RuntimeError), store.staging_dir(batch_id) as staging:
        write_wav(staging / "clip.wav", 330.0)
        raise RuntimeError("cancelled")
    assert list(paths.tmp_root(store.root).iterdir()) == []


def test_sweep_removes_what_no_row_names(store):
    session = store.create_session("brief", PARAMS)
    batch = add_simple_batch(store, session.id)
    media = paths.session_media_dir(store.root, session.id)
    orphan = write_wav(media / f"{uuid.uuid4()}.wav", 100.0)
    half_written = write_wav(media / ".tmp-abc.wav", 100.0)
    gone = paths.session_media_dir(store.root, uuid.uuid4())
    write_wav(gone / f"{uuid.uuid4()}.wav", 100.0)
    abandoned = paths.tmp_root(store.root) / str(uuid.uuid4())
    write_wav(abandoned / "clip.wav", 100.0)
    (paths.tmp_root(store.root) / f"{abandoned.name}.lock").touch()  # its maker died
    unrelated = paths.media_root(store.root) / "notes.txt"
    unrelated.write_text("not ours")
    stale_lock = store.root / "locks" / f"{uuid.uuid4()}.lock"  # of a session deleted by a crashed process
    stale_lock.touch()
    live_lock = store.root / "locks" / f"{session.id}.lock"
    assert live_lock.exists()

    assert store.sweep_orphans() == 4
    assert not orphan.exists() and not half_written.exists()
    assert not gone.exists() and not abandoned.exists()
    # Audio is never deleted because no row names it: it is kept aside (the staging dir of a dead maker goes).
    aside = store.root / "kept-aside" / "media"
    assert (aside / str(session.id) / orphan.name).is_file()
    assert (aside / str(session.id) / half_written.name).is_file()
    assert len(list((aside / gone.name).glob("*.wav"))) == 1
    assert list(paths.tmp_root(store.root).iterdir()) == []
    assert unrelated.exists()
    assert not stale_lock.exists() and live_lock.exists()
    assert all(t.path.is_file() for t in batch.tracks)
    assert store.sweep_orphans() == 0
    assert_consistent(store.root)


def test_a_moved_data_dir_still_finds_its_media(data_dir, tmp_path):
    with SessionStore(data_dir) as store:
        session = store.create_session("brief", PARAMS)
        batch = add_simple_batch(store, session.id)
    moved = tmp_path / "elsewhere"
    shutil.move(data_dir, moved)
    with SessionStore(moved) as store:
        tracks = store.require_session(session.id).tracks
        assert store.swept_at_open == 0
    assert [t.id for t in tracks] == [t.id for t in batch.tracks]
    assert all(t.path.is_relative_to(moved) and t.path.is_file() for t in tracks)


def test_threads_share_one_store(store):
    sessions = [store.create_session(f"s{i}", PARAMS) for i in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def writer(session: Session, first: int) -> None:
        try:
            start.wait()
            for i in range(10):
                add_one(store, session.id, n_tracks=2, position=first + i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(40):
                for info in store.list_sessions():
                    store.get_session(info.id)
                store.sweep_orphans()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(sessions[0], 0)),
        threading.Thread(target=writer, args=(sessions[0], 100)),
        threading.Thread(target=writer, args=(sessions[1], 0)),
        threading.Thread(target=reader),
        threading.Thread(target=reader),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.require_session(sessions[0].id).batches) == 20
    assert len(store.require_session(sessions[1].id).tracks) == 20
    assert_consistent(store.root)


def test_closed_store_says_so(data_dir):
    store = SessionStore(data_dir)
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.list_sessions()


# --------------------------------------------------------------------------- schema and damage


def test_an_empty_database_is_migrated(data_dir):
    data_dir.mkdir(parents=True)
    sqlite3.connect(paths.db_path(data_dir)).close()  # a zero-byte file, user_version 0
    with SessionStore(data_dir) as store:
        session = store.create_session("brief", PARAMS)
    assert rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(data_dir, "PRAGMA journal_mode") == [("wal",)]
    with SessionStore(data_dir) as store:  # opening an up-to-date database changes nothing
        assert store.require_session(session.id).brief_text == "brief"


def test_migrations_apply_in_order_each_in_its_own_transaction(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    applied: list[int] = []

    def step(index: int, sql: str):
        def run(c: sqlite3.Connection) -> None:
            applied.append(index)
            c.execute(sql)

        return run

    steps = [
        step(0, "CREATE TABLE a (x INTEGER)"),
        step(1, "ALTER TABLE a ADD COLUMN y TEXT DEFAULT 'new'"),
    ]
    assert migrate(conn, steps[:1]) == 1  # a database at an older schema...
    conn.execute("INSERT INTO a (x) VALUES (7)")
    broken = [
        *steps,
        lambda c: (c.execute("CREATE TABLE half (x)"), c.execute("SELECT * FROM no_such_table")),
    ]
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    # ...moved forward by one step; the failed step left nothing behind.
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    assert conn.execute("SELECT x, y FROM a").fetchall() == [(7, "new")]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall() == []
    fixed = [*steps, step(2, "CREATE TABLE b (z)")]
    assert migrate(conn, fixed) == 3
    assert applied == [0, 1, 2]
    conn.close()


def test_a_database_from_a_newer_version_is_refused(data_dir):
    with SessionStore(data_dir):
        pass
    with sqlite3.connect(paths.db_path(data_dir)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer Session Lab") as refused:
        SessionStore(data_dir)
    assert str(refused.value).count(". ") == 0 and str(refused.value).endswith(".")


def test_a_corrupt_database_is_a_storage_error(data_dir):
    data_dir.mkdir(parents=True)
    paths.db_path(data_dir).write_bytes(b"this is not sqlite at all " * 200)
    with pytest.raises(StorageError, match="damaged or is not a Session Lab database") as damaged:
        SessionStore(data_dir)
    assert str(paths.db_path(data_dir)) in str(damaged.value)
    assert "Traceback" not in str(damaged.value) and str(damaged.value).endswith(".")


def test_an_unusable_data_dir_is_a_storage_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="data directory") as unusable:
        SessionStore(blocker / "data")
    assert str(blocker) in str(unusable.value) and str(unusable.value).endswith(".")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere (test_read_only.py mounts read-only)")
def test_a_read_only_data_dir_opens_for_reading_only(tmp_path):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        with SessionStore(root) as store:
            assert store.read_only and store.list_sessions() == []
            with pytest.raises(StorageError, match="is not writable, so nothing can be saved"):
                store.create_session("brief", PARAMS)
        with pytest.raises(StorageError, match="is not writable, so nothing can be saved"):
            SessionStore(root, read_only=False)
        assert os.listdir(root) == []
    finally:
        root.chmod(0o700)


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


def test_migrating_renumbers_duplicate_positions_in_display_order(data_dir):
    data_dir.mkdir(parents=True)
    conn = sqlite3.connect(paths.db_path(data_dir), isolation_level=None)
    migrate(conn, core.store.MIGRATIONS[:1])  # a database as schema 1 left it
    params = '{"energy": 0.5, "density": 0.5, "duration_sec": 4.0}'
    for sid in ("s1", "s2"):
        sid_uuid = str(uuid.uuid5(uuid.NAMESPACE_OID, sid))
        conn.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, 'brief', ?, '')",
            (sid_uuid, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00", params),
        )
    s1, s2 = (str(uuid.uuid5(uuid.NAMESPACE_OID, s)) for s in ("s1", "s2"))
    batches = [  # (name, session, position, created_at), inserted in this order
        ("a", s1, 0, "09:00"),
        ("b", s1, 1, "10:00"),
        ("c", s1, 1, "09:30"),  # same position as b, made earlier: shown before b
        ("d", s1, 2, "11:00"),
        ("e", s2, 0, "09:00"),
        ("f", s2, 3, "09:00"),  # a gap, no duplicate: left alone
    ]
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_OID, name)) for name, *_ in batches}
    for name, sid, position, at in batches:
        conn.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, 'initial', 'p', 1, 1, ?, NULL, 'e', NULL, 'm', 'n', NULL)",
            (ids[name], sid, position, f"2024-01-01T{at}:00+00:00", params),
        )
    conn.close()
    with SessionStore(data_dir) as store:
        shown = {sid: [b.id for b in store.require_session(uuid.UUID(sid)).batches] for sid in (s1, s2)}
    assert rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert dict(rows(data_dir, "SELECT id, position FROM batches")) == {
        ids["a"]: 0,
        ids["c"]: 1,
        ids["b"]: 2,
        ids["d"]: 3,
        ids["e"]: 0,
        ids["f"]: 3,
    }
    assert shown[s1] == [uuid.UUID(ids[n]) for n in "acbd"]  # the order the musician saw is kept
    assert shown[s2] == [uuid.UUID(ids[n]) for n in "ef"]
