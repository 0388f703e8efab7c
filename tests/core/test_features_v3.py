"""Space ``features-v3`` of the embedded embedder (the default): level-free, start-free
(as v2 is: both tested here), its own space; its modulation spectrum hears the rate a sound pulses at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.audio import read_audio, write_wav_atomic
from core.errors import ValidationError
from core.models import BriefParams
from core.prompt import render_prompt
from core.providers import features, registry, sketch
from core.providers.base import EmbeddingProvider
from core.providers.describe import DescribeNamer
from core.providers.features import v2, v3
from core.service import SessionService
from core.settings import Settings
from core.similarity import cosine_similarity
from core.store import SessionStore
from tests.core.feature_clips import BRIEFS, SR


def test_v3_is_the_default_and_every_space_is_chosen_by_name(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    default = registry.create_embedder(settings)
    assert isinstance(default, EmbeddingProvider)
    assert (default.name, default.space, default.dimension) == ("features", "features-v3", v3.DIMENSION)
    assert features.DEFAULT_VERSION == "v3"
    for model, space in (
        ("v3", "features-v3"),
        ("features-v3", "features-v3"),
        ("v2", "features-v2"),
        ("V1", "features-v1"),
    ):
        assert registry.create_embedder(settings, "features", model).space == space
    with pytest.raises(ValidationError, match="versions v1, v2, v3"):
        features.create(settings, model="v4")
    # no v3 vector can pass for one of another space
    assert len({v3.DIMENSION, v2.DIMENSION, features.DIMENSION}) == 3
    assert len(v3.NAMES) == len(set(v3.NAMES)) == v3.CENTRES.shape[0] == v3.VECTOR_WEIGHTS.shape[0]
    assert set(v3.GROUPS) == set(v3.GROUP_WEIGHTS)
    assert np.all(v3.SCALES > 0) and np.all(v3.VECTOR_WEIGHTS > 0)


def test_vectors_are_unit_float32_deterministic_and_cached_per_file(tmp_path: Path, renders) -> None:
    embedder = features.FeatureEmbedder()
    path = write_wav_atomic(tmp_path / "a.wav", renders[BRIEFS[1]][0][: 10 * SR])
    vector = embedder.embed_audio(path)
    assert vector.dtype == np.float32 and vector.shape == (v3.DIMENSION,)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(vector, v3.embed_samples(*read_audio(path)))  # the uncached path
    vector[0] = 99.0  # a caller's change does not reach the cache
    assert np.array_equal(embedder.embed_audio(path), embedder.embed_audio(path))
    assert embedder.embed_audio(path)[0] != 99.0
    # one file, two spaces: the cache keeps them apart
    assert features.FeatureEmbedder(version="v2").embed_audio(path).shape == (v2.DIMENSION,)
    assert embedder.embed_audio(path).shape == (v3.DIMENSION,)


@pytest.mark.parametrize("space", [v2, v3], ids=["v2", "v3"])
def test_level_does_not_move_a_clip(renders, space) -> None:
    clip = renders[BRIEFS[2]][0][: 10 * SR]
    loud = space.embed_samples(clip)
    for gain_db in (-30.0, -12.0, 6.0):
        quiet = space.embed_samples(np.clip(clip * 10 ** (gain_db / 20), -1, 1))
        assert cosine_similarity(loud, quiet) > 0.995, gain_db


@pytest.mark.parametrize("space", [v2, v3], ids=["v2", "v3"])
def test_where_an_excerpt_starts_moves_it_less_than_another_brief(renders, space) -> None:
    """Two 10 s excerpts of one render, 3.3 s apart, are nearer each other than to any
    excerpt of another brief, by a clear margin."""
    vectors = {
        brief: [space.embed_samples(audio[int(start * SR) : int((start + 10) * SR)]) for start in (0.0, 3.3)]
        for brief, (audio, _) in renders.items()
    }
    for brief, (a, b) in vectors.items():
        same = cosine_similarity(a, b)
        others = [cosine_similarity(a, v) for other, pair in vectors.items() if other != brief for v in pair]
        assert same > max(others) + 0.15, (brief, same, max(others))


def test_the_modulation_spectrum_hears_the_rate_a_tone_pulses_at() -> None:
    """A 1 kHz tone swelling 2 or 9 times a second: its band's modulation peaks in the
    modulation band that holds that rate, at any level."""
    t = np.arange(10 * SR) / SR
    band = int(np.searchsorted(v3.MOD_BAND_EDGES_HZ, 1000.0)) - 1
    names = [f"modulation_{band}_{r}" for r in range(len(v3.MOD_RATE_EDGES_HZ) - 1)]
    rows = [v3.NAMES.index(name) for name in names]
    for rate_hz in (2.0, 9.0):
        expected = int(np.searchsorted(v3.MOD_RATE_EDGES_HZ, rate_hz)) - 1
        tone = np.sin(2 * np.pi * 1000.0 * t) * (1.0 + 0.8 * np.sin(2 * np.pi * rate_hz * t))
        for gain in (0.5, 0.01):
            raw = v3.raw_features((gain * tone / 1.8).astype(np.float32))
            assert int(np.argmax(raw[rows])) == expected, (rate_hz, gain, raw[rows].round(1))


def test_rates_and_channels_do_not_change_the_space(renders) -> None:
    from core.audio import resample

    clip = renders[BRIEFS[0]][0][: 10 * SR]
    at_48k = resample(clip, SR, 48_000)
    stereo = np.stack([at_48k, at_48k], axis=1)
    assert cosine_similarity(v3.embed_samples(clip), v3.embed_samples(stereo, 48_000)) > 0.98


def test_silence_and_short_clips_give_finite_vectors_and_no_text_side() -> None:
    for samples in (
        np.zeros(10 * SR, dtype=np.float32),
        np.zeros(100, dtype=np.float32),
        np.random.default_rng(0).normal(0, 0.1, 3000).astype(np.float32),  # under 0.1 s
    ):
        vector = v3.embed_samples(samples)
        assert vector.shape == (v3.DIMENSION,) and np.all(np.isfinite(vector))
    embedder = features.FeatureEmbedder()
    assert not embedder.text_side and not np.any(embedder.embed_text("fast aggressive techno"))


@pytest.mark.parametrize(
    ("old", "new", "space"),
    [("v1", "v2", "features-v2"), ("v2", None, "features-v3")],
    ids=["v1-to-v2", "v2-to-default-v3"],
)
def test_an_older_session_goes_on_in_a_newer_space_its_own(
    tmp_path: Path, old: str, new: str | None, space: str
) -> None:
    """A session made in an older space opens and grows with a newer one (None: the
    default, v3): more-like embeds the parent's clips anew in the new space and leaves
    the stored vectors of the old one as they were."""
    settings = Settings(data_dir=tmp_path)
    params = BriefParams(energy=0.5, density=0.5, duration_sec=3.0)
    store = SessionStore(tmp_path)
    try:

        def service(version: str | None) -> SessionService:
            return SessionService(
                store,
                sketch.SketchEngine(),
                features.FeatureEmbedder(settings, version),
                DescribeNamer(),
                settings=settings,
            )

        session = service(old).create_initial_batch(render_prompt(BRIEFS[1], params), params, 4)
        track_ids = [t.id for t in session.tracks]
        before = store.get_embeddings(track_ids, f"features-{old}")
        assert set(before) == set(track_ids) and not store.get_embeddings(track_ids, space)
        parent = session.batches[0].clusters[0]
        batch = service(new).more_like_cluster(session.id, parent.id, 2)
        assert batch.embedder == space
        assert store.get_centroid(session.id, parent.id, space) is not None
        after = store.get_embeddings(track_ids, f"features-{old}")
        assert all(np.array_equal(before[i], after[i]) for i in track_ids)
        assert set(store.get_embeddings(parent.track_ids, space)) == set(parent.track_ids)
    finally:
        store.close()
