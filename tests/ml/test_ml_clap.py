"""CLAP embedder on a tiny random model, loaded through the same from_pretrained path as a real one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.errors import AudioFileError, ProviderUnavailableError
from core.providers import registry
from core.settings import Settings
from tests.ml.conftest import needs_torch
from tests.ml.tiny_models import CLAP_DIM, CLAP_RATE, CLAP_WINDOW_SEC, install_in_hub_cache

pytestmark = [pytest.mark.ml, needs_torch]


def make(settings: Settings, model: Path | str) -> Any:
    from core.providers import clap

    return clap.create(settings, model=str(model))


def write(path: Path, samples: np.ndarray, rate: int) -> Path:
    sf.write(str(path), samples, rate)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clap-clips")
    rng = np.random.default_rng(0)
    t32 = np.arange(32_000 * 5) / 32_000
    return {
        # 5 s: longer than the tiny extractor's 2 s window, so windows are cut here.
        "noise": write(root / "noise.wav", (rng.standard_normal(t32.size) * 0.2).astype(np.float32), 32_000),
        "tone": write(root / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * t32)).astype(np.float32), 32_000),
        # Shorter than one window, at 44.1 kHz and in stereo.
        "short": write(
            root / "short.wav",
            np.stack([np.sin(2 * np.pi * 330 * np.arange(20_000) / 44_100)] * 2, axis=1) * 0.3,
            44_100,
        ),
    }


def test_embeddings_are_normalised_float32_of_the_model_dimension(
    settings: Settings, tiny_clap: Path, clips: dict[str, Path]
) -> None:
    embedder = make(settings, tiny_clap)
    assert embedder.name == "clap"
    assert embedder.space == f"clap:{tiny_clap.resolve()}"
    for path in clips.values():
        vector = embedder.embed_audio(path)
        assert vector.dtype == np.float32
        assert vector.shape == (CLAP_DIM,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    text = embedder.embed_text("lofi warm beat with soft drums")
    assert text.dtype == np.float32
    assert text.shape == (CLAP_DIM,)
    assert np.linalg.norm(text) == pytest.approx(1.0, abs=1e-5)


def test_embeddings_are_deterministic(settings: Settings, tiny_clap: Path, clips: dict[str, Path]) -> None:
    embedder = make(settings, tiny_clap)
    # The extractor would crop a long clip at a random offset: a changed global
    # numpy seed must not change anything.
    np.random.seed(1)
    first = {name: embedder.embed_audio(path) for name, path in clips.items()}
    np.random.seed(2)
    second = {name: embedder.embed_audio(path) for name, path in clips.items()}
    for name in clips:
        np.testing.assert_array_equal(first[name], second[name])
    assert not np.allclose(first["noise"], first["tone"])
    np.testing.assert_array_equal(
        embedder.embed_text("dark ambient pad"), embedder.embed_text("dark ambient pad")
    )


def test_a_fusion_extractor_on_an_unfused_model(
    settings: Settings, tiny_clap: Path, tmp_path: Path, clips: dict[str, Path]
) -> None:
    # Some CLAP checkpoints ship a "fusion" extractor (4 mel views, a random one
    # marked longer): still deterministic, and the same vector as one view.
    copy = tmp_path / "clap-fusion"
    shutil.copytree(tiny_clap, copy)
    config_path = copy / "processor_config.json"
    config = json.loads(config_path.read_text())
    config["feature_extractor"]["truncation"] = "fusion"
    config_path.write_text(json.dumps(config))
    embedder = make(settings, copy)
    np.random.seed(3)
    first = embedder.embed_audio(clips["noise"])
    np.random.seed(4)
    np.testing.assert_array_equal(first, embedder.embed_audio(clips["noise"]))
    assert first.shape == (CLAP_DIM,)


def test_long_audio_is_cut_into_whole_windows() -> None:
    from core.providers.clap import window_starts

    window = CLAP_WINDOW_SEC * CLAP_RATE
    assert window_starts(10, window) == [0]
    assert window_starts(window, window) == [0]
    assert window_starts(2 * window, window) == [0, window]
    # 5 s at 2 s windows: 0-2, 2-4 and a last one aligned with the end, 3-5.
    assert window_starts(5 * CLAP_RATE, window) == [0, window, 3 * CLAP_RATE]


def test_the_same_sound_at_another_rate_lands_close(
    settings: Settings, tiny_clap: Path, tmp_path: Path
) -> None:
    embedder = make(settings, tiny_clap)
    t16 = np.arange(CLAP_RATE * 3) / CLAP_RATE
    t48 = np.arange(48_000 * 3) / 48_000
    chord = [220.0, 277.2, 329.6]
    at16 = write(tmp_path / "a16.wav", sum(0.2 * np.sin(2 * np.pi * f * t16) for f in chord), CLAP_RATE)
    at48 = write(tmp_path / "a48.wav", sum(0.2 * np.sin(2 * np.pi * f * t48) for f in chord), 48_000)
    noise = write(tmp_path / "n.wav", np.random.default_rng(3).standard_normal(t16.size) * 0.3, CLAP_RATE)
    a, b, n = (embedder.embed_audio(p) for p in (at16, at48, noise))
    assert float(a @ b) > float(a @ n)


def test_unreadable_audio_is_an_audio_file_error(settings: Settings, tiny_clap: Path, tmp_path: Path) -> None:
    embedder = make(settings, tiny_clap)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(AudioFileError):
        embedder.embed_audio(bad)


def test_hub_id_from_the_cache_and_missing_models(
    settings: Settings, tiny_clap: Path, tiny_musicgen: Path, hub_cache: Path, clips: dict[str, Path]
) -> None:
    from core.providers import clap

    with pytest.raises(ProviderUnavailableError) as err:
        clap.create(settings)
    assert "laion/larger_clap_music is not in the Hugging Face cache" in str(err.value)
    with pytest.raises(ProviderUnavailableError, match="not a CLAP model"):
        clap.create(settings, model=str(tiny_musicgen))
    install_in_hub_cache(tiny_clap, hub_cache, "laion/larger_clap_music")
    embedder = registry.create_embedder(settings, "clap")
    assert embedder.space == "clap:laion/larger_clap_music"
    assert embedder.embed_audio(clips["tone"]).shape == (CLAP_DIM,)
    # The general-audio checkpoint stays selectable, in a space of its own.
    install_in_hub_cache(tiny_clap, hub_cache, "laion/clap-htsat-unfused")
    general = registry.create_embedder(settings, "clap", "laion/clap-htsat-unfused")
    assert general.space == "clap:laion/clap-htsat-unfused"
    assert general.embed_audio(clips["tone"]).shape == (CLAP_DIM,)
