"""The embedded ``features`` embedder on real WAV files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio import write_wav_atomic
from core.errors import AudioFileError, ValidationError
from core.providers import features, registry, sketch
from core.providers.base import EmbeddingProvider
from core.settings import Settings
from core.similarity import cosine_similarity

SR = 32_000


@pytest.fixture(scope="module")
def embedder() -> features.FeatureEmbedder:
    return features.FeatureEmbedder(version="v1")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    out = {}
    for name, brief in (("ambient", "slow dark ambient pad"), ("techno", "fast aggressive techno")):
        samples = sketch.render_recipe(sketch.design_recipe(brief, 0.5, 0.5, 5), 6.0)
        out[name] = write_wav_atomic(root / f"{name}.wav", samples)
    return out


def tone(freqs: list[float], seconds: float, rate: int = SR, amplitude: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


def click_track(bpm: float, seconds: float, rate: int = SR) -> np.ndarray:
    out = np.zeros(int(seconds * rate), dtype=np.float32)
    hit = tone([55.0, 110.0], 0.12, rate, 0.4) * np.exp(-np.arange(int(0.12 * rate)) / (0.03 * rate))
    step = 60.0 / bpm * rate
    for k in range(int(out.shape[0] / step)):
        start = int(k * step)
        out[start : start + hit.shape[0]] += hit[: out.shape[0] - start]
    return out


def test_registry_and_protocol(tmp_path: Path) -> None:
    provider = registry.create_embedder(Settings(data_dir=tmp_path), "features", "v1")
    assert isinstance(provider, features.FeatureEmbedder) and isinstance(provider, EmbeddingProvider)
    assert (provider.name, provider.space) == ("features", "features-v1") and provider.text_side
    with pytest.raises(ValidationError):
        features.create(Settings(data_dir=tmp_path), model="laion/clap")


def test_vectors_are_fixed_length_unit_float32_and_deterministic(embedder, clips) -> None:
    for path in clips.values():
        vector = embedder.embed_audio(path)
        assert vector.dtype == np.float32 and vector.shape == (features.DIMENSION,)
        assert np.all(np.isfinite(vector))
        assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
        samples = sf.read(str(path), dtype="float32")[0]
        again = features.embed_samples(samples)  # no cache on this path
        assert np.array_equal(vector, again)


def test_every_group_counts(clips) -> None:
    samples = sf.read(str(clips["techno"]), dtype="float32")[0]
    raw, _ = features.analyse(samples)
    weighted = features.standard_scores(raw) * features.VECTOR_WEIGHTS
    groups = {group for group, _, _ in features.FEATURES.values()}
    share = {g: 0.0 for g in groups}
    for name, value in zip(features.FEATURE_NAMES, weighted, strict=True):
        share[features.FEATURES[name][0]] += value**2
    total = sum(share.values())
    # no group (let alone one descriptor) carries most of the vector
    assert max(share.values()) / total < 0.6
    assert max(weighted**2) / total < 0.35


def test_silence_and_tiny_clips_give_valid_vectors(embedder, tmp_path: Path) -> None:
    cases = {
        "silence": np.zeros(SR, dtype=np.float32),
        "short": tone([440.0], 0.2),
        "tiny": tone([440.0], 10 / SR),
        "quiet": tone([220.0], 1.0, amplitude=1e-6),
    }
    vectors = {}
    for name, samples in cases.items():
        path = write_wav_atomic(tmp_path / f"{name}.wav", samples)
        vectors[name] = embedder.embed_audio(path)
        assert np.all(np.isfinite(vectors[name])), name
        assert float(np.linalg.norm(vectors[name])) == pytest.approx(1.0, abs=1e-5), name
        described = features.describe_audio(path)
        assert all(math.isfinite(v) for v in described.values()), name
    assert features.describe_audio(tmp_path / "silence.wav")["silent"] == 1.0
    assert features.describe_audio(tmp_path / "short.wav")["silent"] == 0.0


def test_other_rates_and_stereo_are_read(embedder, clips, tmp_path: Path) -> None:
    samples = sf.read(str(clips["ambient"]), dtype="float32")[0]
    native = embedder.embed_audio(clips["ambient"])
    from core.audio import resample

    for rate in (16_000, 44_100, 48_000):
        path = write_wav_atomic(tmp_path / f"r{rate}.wav", resample(samples, SR, rate), rate)
        assert cosine_similarity(embedder.embed_audio(path), native) > 0.9, rate
    stereo = tmp_path / "stereo.wav"
    sf.write(str(stereo), np.stack([samples, samples], axis=1), SR, subtype="PCM_16")
    assert cosine_similarity(embedder.embed_audio(stereo), native) > 0.99


def test_unreadable_files_raise_a_readable_error(embedder, tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF this is not a wave file")
    with pytest.raises(AudioFileError, match="junk.wav"):
        embedder.embed_audio(junk)
    with pytest.raises(AudioFileError, match="missing.wav"):
        features.describe_audio(tmp_path / "missing.wav")


def test_a_rewritten_file_is_analysed_again(embedder, tmp_path: Path) -> None:
    path = write_wav_atomic(tmp_path / "clip.wav", tone([220.0], 1.0))
    first = embedder.embed_audio(path)
    write_wav_atomic(path, click_track(120, 3.0))
    assert cosine_similarity(embedder.embed_audio(path), first) < 0.9


def test_named_descriptors_measure_what_they_say(tmp_path: Path) -> None:
    def describe(name: str, samples: np.ndarray) -> dict[str, float]:
        return features.describe_audio(write_wav_atomic(tmp_path / f"{name}.wav", samples))

    for bpm in (90.0, 120.0, 140.0):
        described = describe(f"click{bpm}", click_track(bpm, 8.0))
        assert described["tempo_bpm"] == pytest.approx(bpm, rel=0.04)
        assert described["pulse_clarity"] > 0.3
        assert described["onset_rate"] == pytest.approx(bpm / 60, rel=0.25)
    low = describe("low", tone([110.0, 220.0], 2.0))
    high = describe("high", tone([1760.0, 3520.0], 2.0))
    noise = describe("noise", np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32) * 0.1)
    assert low["brightness"] < 400 < 1500 < high["brightness"]
    assert noise["noisiness"] > 10 * high["noisiness"]
    assert low["low_end"] > high["low_end"]
    # C minor and C major triads, two seconds each
    minor = describe("minor", tone([261.63, 311.13, 392.0, 523.25], 4.0, amplitude=0.1))
    major = describe("major", tone([261.63, 329.63, 392.0, 523.25], 4.0, amplitude=0.1))
    assert minor["minorness"] > 0 > major["minorness"]
    assert major["key"] == 0.0
    loud = describe("loud", tone([220.0], 2.0, amplitude=0.5))
    assert loud["loudness_db"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.2)


def test_text_maps_words_to_the_directions_they_imply(embedder, clips) -> None:
    ambient = embedder.embed_audio(clips["ambient"])
    techno = embedder.embed_audio(clips["techno"])
    dark = embedder.embed_text("slow dark ambient drone")
    fast = embedder.embed_text("fast aggressive techno")
    for vector in (dark, fast):
        assert vector.dtype == np.float32 and vector.shape == (features.DIMENSION,)
        assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    assert cosine_similarity(dark, ambient) > cosine_similarity(dark, techno)
    assert cosine_similarity(fast, techno) > cosine_similarity(fast, ambient)
    assert cosine_similarity(dark, fast) < 0
    # "dark" means a low centroid, "fast" a high tempo
    assert features.text_scores("dark")[features.FEATURE_NAMES.index("centroid")] < 0
    assert features.text_scores("fast")[features.FEATURE_NAMES.index("tempo")] > 0
    # the energy of a rendered prompt counts; text with no cue says nothing
    calm = features.text_scores("x | energy=0.10 | density=0.50 | duration=10.0s")
    assert calm[features.FEATURE_NAMES.index("tempo")] < 0
    assert not np.any(embedder.embed_text("qwerty zxcv"))
