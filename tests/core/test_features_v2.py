"""Space ``features-v2`` of the embedded embedder: level-free, start-free, its own space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.audio import write_wav_atomic
from core.errors import ValidationError
from core.models import BriefParams
from core.prompt import render_prompt
from core.providers import features, registry, sketch
from core.providers.base import EmbeddingProvider, GenerationRequest
from core.providers.features import v2
from core.settings import Settings
from core.similarity import cosine_similarity
from tests.core.feature_clips import BRIEFS, SR


def test_versions_are_chosen_by_model_name(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    for model, space in (("v2", "features-v2"), ("features-v2", "features-v2"), ("v1", "features-v1")):
        provider = registry.create_embedder(settings, "features", model)
        assert isinstance(provider, EmbeddingProvider)
        assert provider.space == space
    with pytest.raises(ValidationError, match="versions v1, v2, v3"):
        features.create(settings, model="laion/clap")
    assert v2.DIMENSION != features.DIMENSION  # a v2 vector can never pass for a v1 one
    assert len(v2.NAMES) == len(set(v2.NAMES)) == v2.CENTRES.shape[0] == v2.VECTOR_WEIGHTS.shape[0]
    assert np.all(v2.SCALES > 0) and np.all(v2.VECTOR_WEIGHTS > 0)


def test_vectors_are_unit_float32_deterministic_and_cached_per_file(tmp_path: Path, renders) -> None:
    embedder = features.FeatureEmbedder(version="v2")
    path = write_wav_atomic(tmp_path / "a.wav", renders[BRIEFS[1]][0][: 10 * SR])
    vector = embedder.embed_audio(path)
    assert vector.dtype == np.float32 and vector.shape == (v2.DIMENSION,)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    vector[0] = 99.0  # a caller's change does not reach the cache
    assert np.array_equal(embedder.embed_audio(path), embedder.embed_audio(path))
    assert embedder.embed_audio(path)[0] != 99.0


def test_rates_and_channels_do_not_change_the_space(renders) -> None:
    from core.audio import resample

    clip = renders[BRIEFS[0]][0][: 10 * SR]
    at_48k = resample(clip, SR, 48_000)
    stereo = np.stack([at_48k, at_48k], axis=1)
    assert cosine_similarity(v2.embed_samples(clip), v2.embed_samples(stereo, 48_000)) > 0.98


def test_silence_and_short_clips_give_finite_vectors() -> None:
    for samples in (np.zeros(10 * SR, dtype=np.float32), np.zeros(100, dtype=np.float32)):
        vector = v2.embed_samples(samples)
        assert vector.shape == (v2.DIMENSION,) and np.all(np.isfinite(vector))
    assert not np.any(features.FeatureEmbedder(version="v2").embed_text("fast aggressive techno"))


def test_three_briefs_in_one_batch_come_apart(tmp_path: Path) -> None:
    """Two clips of one arrangement of a brief (clips 0 and 3 of its batch: the seed picks
    one of three arrangements) are nearer each other than any clip of another brief is,
    by a margin."""
    params = BriefParams(energy=0.5, density=0.5, duration_sec=10.0)
    engine = sketch.SketchEngine()
    embedder = features.FeatureEmbedder(version="v2")
    vectors = []
    for k, brief in enumerate(BRIEFS):
        request = GenerationRequest(params=params, seed=20 + k, out_dir=tmp_path / str(k))
        for clip in engine.generate_batch(render_prompt(brief, params), 4, 10.0, request)[::3]:
            vectors.append(embedder.embed_audio(clip.audio_path))
    for i in range(6):
        sibling = i + 1 if i % 2 == 0 else i - 1
        same = cosine_similarity(vectors[i], vectors[sibling])
        others = max(cosine_similarity(vectors[i], vectors[j]) for j in range(6) if j // 2 != i // 2)
        assert same > others + 0.1, (i, same, others)
