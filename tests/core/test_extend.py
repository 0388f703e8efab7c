"""Extending a clip past its end: windowed joins (core.windowed) and the extend use case on the sketch engine."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio import equal_power_crossfade
from core.errors import CancelledError, ValidationError
from core.models import BATCH_EXTEND, BriefParams
from core.providers.sketch import SR, design_recipe, render_recipe
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from core.windowed import extend_windowed, join, window_count
from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer
from tests.seams import assert_seamless, excess_over_music

RECIPE = design_recipe("warm lofi keys with soft drums", 0.5, 0.6, seed=11)


@pytest.fixture(scope="module")
def long_take() -> np.ndarray:
    return render_recipe(RECIPE, 40.0)


def ideal_engine(reference: np.ndarray, made: list[int]):
    """An engine that re-makes its context exactly and continues ``reference``."""

    def continue_fn(context: np.ndarray, new: int, index: int) -> np.ndarray:
        end = made[0] + new
        made[0] = end
        return reference[None, end - context.shape[1] - new : end]

    return continue_fn


def new_take(music: np.ndarray, seed: int) -> np.ndarray:
    """The same music (level and spectrum at every moment) as an unrelated waveform: random STFT phases."""
    from scipy.signal import istft, stft

    _, _, spectrum = stft(music, fs=SR, nperseg=1024)
    phases = np.exp(2j * np.pi * np.random.default_rng(seed).random(spectrum.shape))
    _, take = istft(np.abs(spectrum) * phases, fs=SR, nperseg=1024)
    return take[: music.shape[0]].astype(np.float32)


def other_take_engine(music: np.ndarray, made: list[int], takes: dict[int, np.ndarray]):
    """An engine whose every window is a new take of ``music``, unrelated to the one before it."""

    def continue_fn(context: np.ndarray, new: int, index: int) -> np.ndarray:
        take = takes.setdefault(index, new_take(music, 100 + index))
        end = made[0] + new
        made[0] = end
        return take[None, end - context.shape[1] - new : end]

    return continue_fn


def test_window_count_and_exact_lengths():
    assert window_count(100, 100, 10) == 0
    assert window_count(100, 101, 10) == 1
    assert window_count(100, 130, 10) == 3
    source = np.zeros((2, 1000), dtype=np.float32)
    for target in (1001, 1234, 5000):
        steps: list[tuple[str, int, int]] = []
        out = extend_windowed(
            source,
            target,
            window=600,
            stride=400,
            overlap=100,
            continue_fn=lambda ctx, new, i: np.ones((2, ctx.shape[1] + new), dtype=np.float32),
            progress=lambda *a, steps=steps: steps.append(a),
        )
        assert out.shape == (2, target)
        total = window_count(1000, target, 400)
        assert steps == [("generating", i, total) for i in range(total + 1)]


def test_join_of_unrelated_takes_is_the_equal_power_crossfade():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1, 4000)), rng.standard_normal((1, 4000))
    b[:, :1000] -= a[:, -1000:] * (np.sum(a[:, -1000:] * b[:, :1000]) / np.sum(a[:, -1000:] ** 2))  # rho 0
    np.testing.assert_allclose(join(a, b, 1000)[0], equal_power_crossfade(a[0], b[0], 1000), atol=1e-6)


def test_join_of_identical_takes_changes_nothing(long_take):
    # Equal power (cos + sin) would swell identical takes by 3 dB mid-seam; constant power does not.
    x = long_take[None, :]
    joined = join(x[:, : 5 * SR], x[:, 4 * SR :], SR)
    np.testing.assert_allclose(joined, x, atol=1e-5)


def test_an_engine_that_remakes_its_context_gives_back_the_music(long_take):
    source = long_take[None, : 8 * SR]
    made = [8 * SR]
    out = extend_windowed(
        source,
        30 * SR,
        window=10 * SR,
        stride=6 * SR,
        overlap=2 * SR,
        continue_fn=ideal_engine(long_take, made),
    )
    np.testing.assert_allclose(out[0], long_take[: 30 * SR], atol=1e-5)


def test_seams_between_new_takes_show_no_step_in_level_or_spectrum(long_take):
    source = new_take(long_take, 99)[None, : 8 * SR]
    made, takes = [8 * SR], {}
    out = extend_windowed(
        source,
        38 * SR,
        window=10 * SR,
        stride=6 * SR,
        overlap=2 * SR,
        continue_fn=other_take_engine(long_take, made, takes),
    )
    assert out.shape == (1, 38 * SR)
    seams = [(float(end - 2), float(end)) for end in range(8, 38, 6)]  # overlap before each old end
    music, other = new_take(long_take, 99)[: 38 * SR], new_take(long_take, 555)[: 38 * SR]
    for name, (at_seams, floor) in excess_over_music(out[0], music, other, SR, seams).items():
        assert max(at_seams) <= floor, f"{name}: seams {at_seams}, an unrelated take {floor}"


def test_the_seam_measure_sees_a_step(long_take):
    # The check can fail: the same joins with the new takes 6 dB quieter.
    source = new_take(long_take, 99)[None, : 8 * SR]
    made, takes = [8 * SR], {}
    quiet = other_take_engine(long_take, made, takes)
    out = extend_windowed(
        source,
        20 * SR,
        window=10 * SR,
        stride=6 * SR,
        overlap=2 * SR,
        continue_fn=lambda c, n, i: quiet(c, n, i) * 0.5,
    )
    music, other = new_take(long_take, 99)[: 20 * SR], new_take(long_take, 555)[: 20 * SR]
    at_seams, floor = excess_over_music(out[0], music, other, SR, [(6.0, 8.0), (12.0, 14.0)])["level"]
    assert at_seams[0] > floor


def test_cancel_stops_before_the_next_window():
    cancel = threading.Event()

    def continue_fn(ctx, new, index):
        cancel.set()
        return np.zeros((1, ctx.shape[1] + new), dtype=np.float32)

    with pytest.raises(CancelledError):
        extend_windowed(
            np.zeros((1, 100), np.float32),
            1000,
            window=200,
            stride=100,
            overlap=10,
            continue_fn=continue_fn,
            cancel=cancel,
        )


# ----------------------------------------------------------------- the use case


@pytest.fixture
def store(data_dir: Path):
    store = SessionStore(data_dir)
    yield store
    store.close()


def sketch_service(store: SessionStore, **settings) -> SessionService:
    from core.providers.features import FeatureEmbedder
    from core.providers.sketch import SketchEngine

    return SessionService(
        store,
        SketchEngine(),
        FeatureEmbedder(),
        FakeNamer(),
        settings=Settings(data_dir=store.root, **settings),
    )


def test_extend_stores_a_longer_clip_beside_its_source(store, data_dir):
    service = sketch_service(store)
    session = service.create_initial_batch("dusty lofi keys", BriefParams(duration_sec=4.0), 2, seed=5)
    source = session.batches[0].tracks[0]
    stages: list[tuple[str, int, int]] = []
    batch = service.extend_track(source.id, 37.5, progress=lambda *a: stages.append(a))
    assert batch.kind == BATCH_EXTEND and batch.parent_cluster_id == source.cluster_id
    assert batch.engine == "sketch" and batch.params.duration_sec == 37.5
    (cluster,) = batch.clusters
    assert cluster.parent_cluster_id == source.cluster_id and cluster.track_ids == [batch.tracks[0].id]
    (track,) = batch.tracks
    info = sf.info(str(track.path))
    assert info.frames == round(37.5 * SR) and info.samplerate == SR and info.channels == 1
    assert track.duration_sec == 37.5 and track.recipe == source.recipe
    assert ("generating", 1, 1) in stages
    # The session reopens from disk with the new batch under its source's cluster.
    store.close()
    again = SessionStore(data_dir)
    try:
        stored = again.require_session(session.id)
        assert [b.kind for b in stored.batches] == ["initial", BATCH_EXTEND]
        assert stored.batches[1].parent_cluster_id == source.cluster_id
    finally:
        again.close()


def test_extended_sketch_clip_has_no_seam_where_its_source_ended(store):
    service = sketch_service(store)
    session = service.create_initial_batch("bright house groove", BriefParams(duration_sec=6.0), 1, seed=9)
    source = session.batches[0].tracks[0]
    batch = service.extend_track(source.id, 30.0)
    samples, rate = sf.read(str(batch.tracks[0].path), dtype="float32")
    assert_seamless(samples, rate, [(5.0, 6.0)])


def test_extend_refuses_bad_lengths_with_one_sentence_and_writes_nothing(store):
    service = sketch_service(store)
    session = service.create_initial_batch("ambient pads", BriefParams(duration_sec=3.0), 1, seed=2)
    source = session.batches[0].tracks[0]
    for to, words in (
        (3.0, "already 3.0 s long"),
        (2.0, "already"),
        (601, "at most 600 seconds"),
        ("x", "number"),
    ):
        with pytest.raises(ValidationError, match=words):
            service.extend_track(source.id, to)
    assert len(store.require_session(session.id).batches) == 1


def test_an_engine_without_extend_says_so(store):
    service = SessionService(
        store,
        FakeMusic(),
        FakeEmbedder({200: [1, 0, 0], 400: [0, 1, 0], 800: [0, 0, 1]}),
        FakeNamer(),
        settings=Settings(data_dir=store.root),
    )
    session = service.create_initial_batch("x", BriefParams(duration_sec=0.5), 1)
    with pytest.raises(ValidationError, match="The fake engine cannot extend clips"):
        service.extend_track(session.batches[0].tracks[0].id, 10.0)


def test_cancel_keeps_nothing_half_made(store):
    service = sketch_service(store)
    session = service.create_initial_batch("dark techno", BriefParams(duration_sec=3.0), 1, seed=4)
    before = sorted(p for p in (store.root / "media").rglob("*.wav"))
    cancel = threading.Event()

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "embedding":
            cancel.set()

    with pytest.raises(CancelledError):
        service.extend_track(session.batches[0].tracks[0].id, 20.0, progress=progress, cancel=cancel)
    assert len(store.require_session(session.id).batches) == 1
    assert sorted(p for p in (store.root / "media").rglob("*.wav")) == before


def test_settings_check_stride_and_overlap():
    with pytest.raises(ValidationError, match="extend_stride_sec"):
        Settings(extend_stride_sec=1.0, extend_overlap_sec=2.0)
    with pytest.raises(ValidationError, match="extend_overlap_sec"):
        Settings(extend_overlap_sec=-1.0)


def test_a_duration_past_the_engines_longest_clip_is_one_sentence(store):
    from core.providers.capabilities import MUSICGEN

    music = FakeMusic()
    music.capabilities = MUSICGEN.with_changes(sample_rate=8_000)  # 30 s at most
    service = SessionService(
        store,
        music,
        FakeEmbedder({200: [1, 0, 0], 400: [0, 1, 0], 800: [0, 0, 1]}),
        FakeNamer(),
        settings=Settings(data_dir=store.root),
    )
    with pytest.raises(ValidationError, match="The fake engine makes clips of at most 30 seconds, not 45"):
        service.create_initial_batch("x", BriefParams(duration_sec=45.0), 1)
    assert store.list_sessions() == [] and music.calls == []
    # A stored 10-minute brief (old sessions and long ones open as they are) is fine as data.
    assert BriefParams(duration_sec=600.0).duration_sec == 600.0
