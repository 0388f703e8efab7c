"""SessionService with fakes at the slow edges and the real SQLite store underneath."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.errors import CancelledError, GenerationFailedError, NotFoundError, ValidationError
from core.models import BATCH_MORE, BriefParams
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer, FixedNamer, FlakyNamer, JunkNamer

# Three well separated directions; 250 Hz sits close to 200 Hz's direction.
VECTORS = {
    200: [1.0, 0.0, 0.0],
    400: [0.0, 1.0, 0.0],
    800: [0.0, 0.0, 1.0],
    250: [0.9, 0.1, 0.0],
    1000: [0.0, -1.0, 0.0],  # opposite of 400: never similar to it
}
PARAMS = BriefParams(energy=0.4, density=0.6, duration_sec=0.5)


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def make_service(store, music=None, embedder=None, namer=None, fallback=None, **settings):
    return SessionService(
        store,
        music or FakeMusic(),
        embedder or FakeEmbedder(VECTORS),
        namer or FakeNamer(),
        settings=Settings(data_dir=store.root, **settings),
        fallback_namer=fallback or FixedNamer(),
    )


def media_files(root: Path) -> list[Path]:
    """Every file in the session folders but the batches' manifests (one per stored batch)."""
    media = root / "media"
    return sorted(
        p
        for p in media.rglob("*")
        if p.is_file() and "tmp" not in p.relative_to(media).parts and p.suffix != ".json"
    )


def staging_leftovers(root: Path) -> list[Path]:
    tmp = root / "media" / "tmp"
    return [p for p in tmp.rglob("*.wav")] if tmp.exists() else []


def test_create_initial_batch_stores_clustered_named_tracks(store):
    service = make_service(store)
    stages: list[str] = []
    ready: list[tuple[int, int]] = []
    session = service.create_initial_batch(
        "  dusty lofi keys ",
        PARAMS,
        6,
        seed=7,
        progress=lambda stage, done, total: stages.append(stage),
        on_clip=lambda i, total, path: ready.append((i, total)) or path.is_file(),
    )
    assert session.brief_text == "dusty lofi keys"
    (batch,) = session.batches
    assert batch.num_requested == 6 and batch.num_generated == 6
    assert batch.seed == 7 and batch.engine == "fake" and batch.embedder == "fake-v1"
    assert batch.prompt_text == "dusty lofi keys | energy=0.40 | density=0.60 | duration=0.5s"
    assert sorted(len(c.track_ids) for c in batch.clusters) == [2, 2, 2]
    assert len({c.label for c in batch.clusters}) == 3
    for cluster in batch.clusters:
        pitches = {t.recipe["pitch"] for t in batch.tracks if t.id in cluster.track_ids}
        assert len(pitches) == 1  # clusters follow the sound
        centroid = store.get_centroid(session.id, cluster.id, "fake-v1")
        assert centroid is not None and np.isclose(np.linalg.norm(centroid), 1.0)
    for track in batch.tracks:
        assert track.path == store.root / "media" / str(session.id) / f"{track.id}.wav"
        assert track.path.is_file()
        assert track.similarity == pytest.approx(1.0)
    assert len(media_files(store.root)) == 6
    assert [p.name for p in (store.root / "media" / str(session.id)).glob("*.json")] == [f"{batch.id}.json"]
    assert staging_leftovers(store.root) == []
    assert ready == [(i, 6) for i in range(6)]
    assert stages.index("generating") < stages.index("embedding") < stages.index("clustering")
    assert stages.index("clustering") < stages.index("naming") < stages.index("saving")
    assert store.get_session(session.id).batches[0].clusters == batch.clusters


def test_validation_errors_store_nothing(store):
    service = make_service(store)
    with pytest.raises(ValidationError, match="between 1 and 6"):
        service.create_initial_batch("x", PARAMS, 7)
    with pytest.raises(ValidationError, match="empty"):
        service.create_initial_batch("   ", PARAMS, 2)
    small = make_service(store, max_batch_size=2)
    with pytest.raises(ValidationError, match="between 1 and 2"):
        small.create_initial_batch("x", PARAMS, 3)
    assert store.list_sessions() == []
    assert media_files(store.root) == []


def test_zero_clips_is_an_error_that_stores_nothing(store):
    service = make_service(store, music=FakeMusic(produce=0))
    with pytest.raises(GenerationFailedError, match="no clip"):
        service.create_initial_batch("silence", PARAMS, 3)
    assert store.list_sessions() == []
    assert media_files(store.root) == []


def test_provider_crash_becomes_one_sentence(store):
    class Broken(FakeMusic):
        def generate_batch(self, *args, **kwargs):
            raise RuntimeError("shape mismatch in layer 3\nTraceback ...")

    with pytest.raises(GenerationFailedError, match=r"The fake engine failed: shape mismatch in layer 3$"):
        make_service(store, music=Broken()).create_initial_batch("x", PARAMS, 2)
    assert store.list_sessions() == []


def test_fewer_clips_than_asked_counts_what_was_stored(store):
    session = make_service(store, music=FakeMusic(produce=4)).create_initial_batch("x", PARAMS, 6)
    assert session.batches[0].num_requested == 6
    assert session.batches[0].num_generated == 4


def test_naming_falls_back_when_the_namer_fails_once(store):
    fallback = FixedNamer()
    service = make_service(store, namer=FlakyNamer(), fallback=fallback)
    session = service.create_initial_batch("x", PARAMS, 6)
    labels = [c.label for c in session.batches[0].clusters]
    assert labels[0] == "Fallback 1"
    assert labels[1:] == ["Alpha Idea", "Beta Idea"]
    assert any("failed" in notice for notice in service.notices)


def test_naming_falls_back_when_the_namer_returns_junk(store):
    service = make_service(store, namer=JunkNamer())
    labels = [c.label for c in service.create_initial_batch("x", PARAMS, 6).batches[0].clusters]
    assert labels == ["Fallback 1", "Fallback 2", "Fallback 3"]


class FallingBackNamer(FakeNamer):
    """Like the openai namer when its server is down: answers with its fallback's words and says so."""

    name = "openai"

    def name_cluster(self, prompts, context=None):
        self.calls += 1
        self.last_fallback_reason = "The LLM namer (http://127.0.0.1:9) failed: connection refused."
        return f"Described {self.calls}"


def test_a_batch_records_which_namer_actually_named_it(store):
    cases = [
        (FakeNamer(), "fake-namer"),
        (JunkNamer(), "fake-namer (fallback: fixed)"),
        (FlakyNamer(), "fake-namer (fallback: fixed for 1 of 3)"),
        (FallingBackNamer(), "openai (fallback: describe)"),
    ]
    for namer, recorded in cases:
        session = make_service(store, namer=namer).create_initial_batch("x", PARAMS, 6)
        assert session.batches[0].namer == recorded
        assert store.require_session(session.id).batches[0].namer == recorded


def test_labels_are_unique_within_a_batch(store):
    service = make_service(store, namer=FakeNamer(["Same Name"]))
    labels = [c.label for c in service.create_initial_batch("x", PARAMS, 6).batches[0].clusters]
    assert labels == ["Same Name", "Same Name 2", "Same Name 3"]


def test_more_like_filters_inherits_label_and_leaves_parent_untouched(store):
    # Initial: 200, 400, 800 twice. More-like round: 250 (near 200), 1000 (far), 200, ...
    music = FakeMusic([200, 400, 800])
    service = make_service(store, music=music)
    session = service.create_initial_batch("x", PARAMS, 6, seed=1)
    parent = next(
        c
        for c in session.batches[0].clusters
        if 0 in [t.position for t in session.tracks if t.id in c.track_ids]
    )
    parent_before = store.get_cluster(session.id, parent.id)
    parent_centroid = store.get_centroid(session.id, parent.id, "fake-v1")
    music.pitches = [250, 1000, 200]
    music.made = 0
    batch = service.more_like_cluster(session.id, parent.id, 2, seed=5)
    assert batch.kind == BATCH_MORE and batch.parent_cluster_id == parent.id
    (cluster,) = batch.clusters
    assert cluster.id != parent.id
    assert cluster.label == parent.label
    assert cluster.parent_cluster_id == parent.id
    assert batch.num_requested == 2 and batch.num_generated == 2
    pitches = sorted(t.recipe["pitch"] for t in batch.tracks)
    assert pitches == [200, 250]  # 1000 was rejected and not counted
    assert all(t.similarity >= 0.3 for t in batch.tracks)
    assert batch.tracks[0].similarity >= batch.tracks[1].similarity
    # Generation was near the parent: its clips were handed over as references.
    assert {r.audio_path for r in music.calls[-1]["references"]} <= {t.path for t in session.tracks}
    assert len(music.calls[-1]["references"]) == 2
    assert store.get_cluster(session.id, parent.id) == parent_before
    assert np.array_equal(store.get_centroid(session.id, parent.id, "fake-v1"), parent_centroid)
    assert store.get_centroid(session.id, cluster.id, "fake-v1") is not None
    stored = store.get_session(session.id)
    assert [b.id for b in stored.batches] == [session.batches[0].id, batch.id]
    assert len(media_files(store.root)) == 8  # the rejected candidate left no file
    assert staging_leftovers(store.root) == []


def test_more_like_generates_extra_candidates_when_some_are_rejected(store):
    music = FakeMusic([200, 400, 800])
    service = make_service(store, music=music)
    session = service.create_initial_batch("x", PARAMS, 6, seed=1)
    parent = session.batches[0].clusters[0]
    music.pitches = [1000, 1000, 250, 200]
    music.made = 0
    batch = service.more_like_cluster(session.id, parent.id, 2)
    assert [c["num_clips"] for c in music.calls[1:]] == [2, 2]  # a second round for the two rejected
    assert batch.num_generated == 2
    assert sorted(t.recipe["pitch"] for t in batch.tracks) == [200, 250]


def test_more_like_candidates_are_bounded_and_fall_back_to_top_n(store):
    music = FakeMusic([200, 400, 800])
    service = make_service(store, music=music, more_like_candidate_factor=2)
    session = service.create_initial_batch("x", PARAMS, 6, seed=1)
    parent = next(
        c
        for c in session.batches[0].clusters
        if {t.recipe["pitch"] for t in session.tracks if t.id in c.track_ids} == {400}
    )
    music.pitches = [1000]  # never similar to 400
    music.made = 0
    batch = service.more_like_cluster(session.id, parent.id, 2)
    assert sum(c["num_clips"] for c in music.calls[1:]) == 4  # 2 asked x factor 2, no more
    assert batch.num_generated == 2  # the seed's top-N fallback
    assert all(t.similarity < 0.3 for t in batch.tracks)


def test_more_like_errors(store):
    service = make_service(store)
    session = service.create_initial_batch("x", PARAMS, 2)
    import uuid

    with pytest.raises(NotFoundError):
        service.more_like_cluster(uuid.uuid4(), session.batches[0].clusters[0].id, 2)
    with pytest.raises(NotFoundError):
        service.more_like_cluster(session.id, uuid.uuid4(), 2)
    with pytest.raises(ValidationError):
        service.more_like_cluster(session.id, session.batches[0].clusters[0].id, 0)
    assert len(store.get_session(session.id).batches) == 1


def test_more_like_in_another_embedding_space_re_embeds_the_parent(store):
    service = make_service(store)
    session = service.create_initial_batch("x", PARAMS, 6)
    parent = session.batches[0].clusters[0]
    other = FakeEmbedder(VECTORS, space="other-v2")
    service2 = make_service(store, embedder=other)
    batch = service2.more_like_cluster(session.id, parent.id, 1)
    members = [t for t in session.tracks if t.id in parent.track_ids]
    assert {p for p in other.embedded} >= {t.path for t in members}
    assert store.get_centroid(session.id, parent.id, "other-v2") is not None
    assert batch.embedder == "other-v2"


def test_cancel_mid_batch_stores_nothing(store):
    cancel = threading.Event()
    music = FakeMusic()
    music.before_clip = lambda i: cancel.set() if i == 3 else None
    service = make_service(store, music=music)
    with pytest.raises(CancelledError):
        service.create_initial_batch("x", PARAMS, 6, cancel=cancel)
    assert store.list_sessions() == []
    assert media_files(store.root) == []
    assert staging_leftovers(store.root) == []


def test_cancel_during_more_like_leaves_session_as_it_was(store):
    music = FakeMusic()
    service = make_service(store, music=music)
    session = service.create_initial_batch("x", PARAMS, 6)
    cancel = threading.Event()
    music.before_clip = lambda i: cancel.set()
    with pytest.raises(CancelledError):
        service.more_like_cluster(session.id, session.batches[0].clusters[0].id, 3, cancel=cancel)
    assert len(store.get_session(session.id).batches) == 1
    assert len(media_files(store.root)) == 6


def test_add_brief_batch_goes_into_the_same_session(store):
    service = make_service(store)
    session = service.create_initial_batch("first idea", PARAMS, 2)
    batch = service.add_brief_batch(session.id, "second idea", PARAMS, 3)
    stored = store.get_session(session.id)
    assert [b.id for b in stored.batches] == [session.batches[0].id, batch.id]
    assert stored.batches[1].prompt_text.startswith("second idea |")
    assert stored.brief_text == "first idea"


def test_provider_remarks_reach_the_user_once_per_batch(store):
    class PartialMusic(FakeMusic):
        def generate_batch(self, *args, **kwargs):
            self.last_warning = "2 of 3 clips were made. One chunk failed."
            return super().generate_batch(*args, **kwargs)

    class SelfHealingNamer(FakeNamer):
        last_fallback_reason = "The LLM namer (localhost) failed: timeout; names come from describe."

    service = make_service(store, music=PartialMusic(), namer=SelfHealingNamer())
    service.create_initial_batch("x", PARAMS, 6)
    assert service.notices == [
        "2 of 3 clips were made. One chunk failed.",
        SelfHealingNamer.last_fallback_reason,
    ]
    quiet = make_service(store)
    quiet.create_initial_batch("x", PARAMS, 2)
    assert quiet.notices == []


def test_more_like_at_once_in_two_processes_gives_each_batch_its_own_position(data_dir):
    """Two runs on one cluster, each with its own store as two processes have, both read the
    session (one batch) before either stores: the batches still get positions 1 and 2."""
    with SessionStore(data_dir) as store:
        session = make_service(store).create_initial_batch("x", PARAMS, 6, seed=1)
    parent = session.batches[0].clusters[0]
    both_generating = threading.Barrier(2, timeout=120)  # a guard against a hang, not a timing check
    made, errors = [], []

    def more() -> None:
        store = SessionStore(data_dir)
        try:
            music = FakeMusic([200, 400, 800])
            music.before_clip = lambda i: both_generating.wait() if i == 0 else None
            made.append(make_service(store, music=music).more_like_cluster(session.id, parent.id, 1))
        except BaseException as exc:
            both_generating.abort()
            errors.append(exc)
        finally:
            store.close()

    runs = [threading.Thread(target=more) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert errors == []
    assert sorted(b.position for b in made) == [1, 2]
    with SessionStore(data_dir) as store:
        stored = store.require_session(session.id).batches
    assert [b.position for b in stored] == [0, 1, 2]
    assert {b.id for b in stored[1:]} == {b.id for b in made}


class CountingStore(SessionStore):
    """The real store, counting whole-session reads."""

    whole_reads = 0

    def get_session(self, session_id, **options):
        self.whole_reads += 1
        return super().get_session(session_id, **options)


def test_a_big_session_grows_by_reading_only_the_batch_and_cluster_it_needs(data_dir, tmp_path):
    """In a session of a few hundred clips, a batch, more-like and import read no whole session,
    and what they return is exactly what the store then holds."""
    store = CountingStore(data_dir)
    try:
        music = FakeMusic([200, 400, 800])
        service = make_service(store, music=music)
        session = service.create_initial_batch("first idea", PARAMS, 6, seed=1)
        made = [session.batches[0]]
        for i in range(49):
            made.append(service.add_brief_batch(session.id, f"idea {i}", PARAMS, 6, seed=i))
        assert [b.position for b in made] == list(range(50))
        store.whole_reads = 0

        # More like a cluster of a batch in the middle: its own clips are the references.
        middle = made[20]
        parent = next(c for c in middle.clusters if len(c.track_ids) == 2)
        parent_paths = {t.path for t in middle.tracks if t.id in parent.track_ids}
        music.pitches = [250, 200]
        more = service.more_like_cluster(session.id, parent.id, 2, seed=5)
        assert {r.audio_path for r in music.calls[-1]["references"]} == parent_paths
        assert music.calls[-1]["prompt"] == middle.prompt_text
        assert more.position == 50 and more.parent_cluster_id == parent.id
        assert more.clusters[0].label == parent.label

        music.pitches = [400]
        extra = service.add_brief_batch(session.id, "late idea", PARAMS, 3, seed=9)
        assert extra.position == 51 and extra.session_id == session.id

        source = tmp_path / "take.wav"
        sf.write(
            source, 0.2 * np.sin(2 * np.pi * 200 * np.arange(8000) / 8000), 8000
        )  # 200 Hz: a known vector
        imported = service.import_clips(session.id, [source])
        assert imported.position == 52 and imported.session_id == session.id
        assert imported.prompt_text.startswith("first idea |")  # the session's brief
        assert store.whole_reads == 0

        stored = store.require_session(session.id)
        assert len(stored.tracks) == 300 + len(more.tracks) + 3 + 1
        assert stored.batches == [*made, more, extra, imported]
        with pytest.raises(NotFoundError):  # a cluster of no batch of this session
            service.more_like_cluster(session.id, uuid.uuid4(), 2)
        with pytest.raises(NotFoundError):
            service.add_brief_batch(uuid.uuid4(), "no such session", PARAMS, 2)
        with pytest.raises(NotFoundError):
            service.import_clips(uuid.uuid4(), [source])
        assert store.require_session(session.id) == stored
        # A listing's read (show) skips decoding the recipes, and only them.
        lean = store.get_session(session.id, recipes=False)
        assert all(t.recipe is None for t in lean.tracks)
        assert all(t.recipe == {"pitch": 200} for t in stored.batches[0].tracks[::3])
        for track in stored.tracks:
            track.recipe = None
        assert lean == stored
    finally:
        store.close()


def test_import_into_a_new_session_returns_its_batch(store, tmp_path):
    service = make_service(store)
    source = tmp_path / "hum.wav"
    sf.write(source, 0.2 * np.sin(2 * np.pi * 200 * np.arange(8000) / 8000), 8000)  # 200 Hz: a known vector
    batch = service.import_clips(None, [source])
    (info,) = store.list_sessions()
    assert batch.session_id == info.id and batch.kind == "import"
    assert store.require_session(info.id).batches == [batch]
