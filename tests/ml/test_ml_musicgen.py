"""MusicGen provider on a tiny random model, loaded through the same from_pretrained path as a real one."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.errors import CancelledError, GenerationFailedError, ProviderUnavailableError, ValidationError
from core.providers import registry
from core.providers.base import (
    STAGE_GENERATING,
    STAGE_LOADING,
    GeneratedClip,
    GenerationRequest,
    ReferenceClip,
    clip_seed,
)
from core.settings import Settings
from tests.ml.conftest import needs_torch
from tests.ml.tiny_models import MUSICGEN_RATE, install_in_hub_cache

pytestmark = [pytest.mark.ml, needs_torch]

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "lofi warm beat with soft drums | energy=0.50 | density=0.50 | duration=1.3s"


def make(settings: Settings, model: Path | str, **changes: Any) -> Any:
    from core.providers import musicgen

    return musicgen.create(settings.replace(**changes), model=str(model))


def samples_of(clip: GeneratedClip) -> np.ndarray:
    data, rate = sf.read(str(clip.audio_path), dtype="float32")
    assert rate == MUSICGEN_RATE
    return data


def test_create_checks_offline_and_imports_no_torch(settings: Settings, tiny_musicgen: Path) -> None:
    provider = make(settings, tiny_musicgen)
    assert provider.name == "musicgen"
    assert provider.model == str(tiny_musicgen)
    # In a fresh interpreter: create() answers without importing torch or transformers.
    code = (
        "import sys; from pathlib import Path; from core.settings import Settings; "
        "from core.providers import musicgen, clap; "
        f"musicgen.create(Settings(data_dir=Path({str(settings.data_dir)!r})), model={str(tiny_musicgen)!r}); "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
    # Through the registry, as the CLI and the app build it.
    built = registry.create_music(settings, "musicgen", str(tiny_musicgen))
    assert type(built).__name__ == "MusicGenProvider"


def test_batch_has_exact_durations_progress_and_seeds(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen, musicgen_max_batch=2)
    calls: list[tuple[str, int, int]] = []
    ready: list[int] = []
    request = GenerationRequest(
        seed=11,
        out_dir=tmp_path / "out",
        progress=lambda stage, done, total: calls.append((stage, done, total)),
        on_clip=lambda index, clip: ready.append(index),
    )
    clips = provider.generate_batch(PROMPT, 3, 1.3, request)

    assert len(clips) == 3
    assert ready == [0, 1, 2]
    wanted = round(1.3 * MUSICGEN_RATE)
    for index, clip in enumerate(clips):
        assert clip.audio_path.parent == tmp_path / "out"
        assert samples_of(clip).shape == (wanted,)
        assert clip.duration_sec == pytest.approx(1.3, abs=1e-9)
        assert clip.raw_prompt == PROMPT
        assert clip.seed == clip_seed(11, index)
        assert clip.recipe is not None
        assert clip.recipe["torch_seed"] == clip_seed(11, (index // 2) * 2)
        assert (clip.recipe["chunk_start"], clip.recipe["chunk_size"]) == ((0, 2) if index < 2 else (2, 1))
    # Clips of one batch differ from each other.
    audio = [samples_of(c) for c in clips]
    assert not np.array_equal(audio[0], audio[1])
    assert not np.array_equal(audio[1], audio[2])

    assert calls[:2] == [(STAGE_LOADING, 0, 1), (STAGE_LOADING, 1, 1)]
    steps = [c for c in calls if c[0] == STAGE_GENERATING]
    total = steps[0][2]
    max_new_tokens = clips[0].recipe["max_new_tokens"]
    assert total == 2 * max_new_tokens  # two chunks, one call per decoder step
    assert [done for _, done, _ in steps] == list(range(total + 1))
    assert {t for _, _, t in steps} == {total}


def test_one_batched_generate_call_per_chunk(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = make(settings, tiny_musicgen, musicgen_max_batch=6)
    loaded = provider.load()
    seen: list[dict[str, Any]] = []
    real_generate = loaded.model.generate

    def recording_generate(**kwargs: Any) -> Any:
        seen.append(
            {"rows": kwargs["input_ids"].shape[0], **{k: kwargs.get(k) for k in ("num_return_sequences",)}}
        )
        return real_generate(**kwargs)

    monkeypatch.setattr(loaded.model, "generate", recording_generate)
    clips = provider.generate_batch(PROMPT, 4, 0.5, GenerationRequest(seed=3, out_dir=tmp_path))
    assert len(clips) == 4
    assert seen == [{"rows": 4, "num_return_sequences": None}]


def test_each_call_fills_its_own_preallocated_cache_exactly(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A static cache written in place keeps the step cost flat (no per-step copy of the
    # whole cache); sized to the call, it neither overflows nor leaves slots unused.
    provider = make(settings, tiny_musicgen, musicgen_max_batch=2)
    loaded = provider.load()
    caches: list[Any] = []
    real_generate = loaded.model.generate

    def recording_generate(**kwargs: Any) -> Any:
        caches.append(kwargs.get("cache"))
        return real_generate(**kwargs)

    monkeypatch.setattr(loaded.model, "generate", recording_generate)
    parents = provider.generate_batch(PROMPT, 3, 0.7, GenerationRequest(seed=4, out_dir=tmp_path / "a"))
    references = [ReferenceClip(parents[0].audio_path)]
    clips = provider.generate_batch(
        PROMPT, 1, 0.5, GenerationRequest(seed=4, out_dir=tmp_path / "b", references=references)
    )
    assert samples_of(clips[0]).shape == (round(0.5 * MUSICGEN_RATE),)
    assert len(caches) == 3 and len({id(c) for c in caches}) == 3  # two chunks, one continuation
    steps = [parents[0].recipe["max_new_tokens"]] * 2 + [clips[0].recipe["max_new_tokens"]]
    prompt_frames = [0, 0, round(clips[0].recipe["prompt_sec"] * MUSICGEN_RATE) // 160]
    for cache, new_tokens, frames in zip(caches, steps, prompt_frames, strict=True):
        layers = cache.self_attention_cache.layers
        assert {type(layer).__name__ for layer in layers} == {"StaticLayer"}
        assert {layer.max_cache_len for layer in layers} == {frames + new_tokens}
        assert {int(layer.get_seq_length()) for layer in layers} == {frames + new_tokens}
    assert len(provider.last_step_sec) == clips[0].recipe["max_new_tokens"]

    # transformers' default cache, for comparison in bench/engines.py, still works.
    provider.kv_cache = "dynamic"
    (clip,) = provider.generate_batch(PROMPT, 1, 0.3, GenerationRequest(seed=4, out_dir=tmp_path / "c"))
    assert caches[-1] is None and samples_of(clip).shape == (round(0.3 * MUSICGEN_RATE),)


def test_same_seed_same_audio_and_other_seeds_differ(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen, musicgen_max_batch=2)

    def batch(seed: int, name: str) -> list[np.ndarray]:
        clips = provider.generate_batch(PROMPT, 3, 0.6, GenerationRequest(seed=seed, out_dir=tmp_path / name))
        return [samples_of(c) for c in clips]

    first, again, other = batch(5, "a"), batch(5, "b"), batch(6, "c")
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, c) for a, c in zip(first, other, strict=True))


def test_cancel_mid_generation_raises_and_writes_nothing(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen, musicgen_max_batch=2)
    cancel = threading.Event()
    steps: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == STAGE_GENERATING:
            steps.append(done)
            if done == 5:
                cancel.set()

    out = tmp_path / "out"
    with pytest.raises(CancelledError):
        provider.generate_batch(
            PROMPT, 3, 1.0, GenerationRequest(seed=1, out_dir=out, progress=progress, cancel=cancel)
        )
    assert max(steps) == 5  # stopped at the next step
    assert not out.exists() or list(out.iterdir()) == []


def test_cancel_in_second_chunk_deletes_the_first_chunks_clips(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen, musicgen_max_batch=1)
    cancel = threading.Event()
    ready: list[Path] = []

    def on_clip(index: int, clip: GeneratedClip) -> None:
        ready.append(clip.audio_path)
        cancel.set()

    out = tmp_path / "out"
    with pytest.raises(CancelledError):
        provider.generate_batch(
            PROMPT, 3, 0.4, GenerationRequest(seed=1, out_dir=out, cancel=cancel, on_clip=on_clip)
        )
    assert len(ready) == 1
    assert list(out.iterdir()) == []


def test_cancel_before_start_raises(settings: Settings, tiny_musicgen: Path, tmp_path: Path) -> None:
    provider = make(settings, tiny_musicgen)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        provider.generate_batch(PROMPT, 2, 1.0, GenerationRequest(out_dir=tmp_path / "o", cancel=cancel))
    assert not (tmp_path / "o").exists()


def test_continuation_keeps_the_requested_length(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen, musicgen_max_batch=3)
    parents = provider.generate_batch(PROMPT, 2, 1.1, GenerationRequest(seed=2, out_dir=tmp_path / "parents"))
    # A reference at another rate and in stereo, and one that is not audio: both handled.
    stereo = tmp_path / "stereo-44k.wav"
    t = np.arange(int(44_100 * 2.5)) / 44_100
    sf.write(
        str(stereo),
        np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1) * 0.3,
        44_100,
    )
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all")
    references = [ReferenceClip(p.audio_path, p.seed, p.recipe) for p in parents]
    references += [ReferenceClip(stereo), ReferenceClip(broken)]
    calls: list[tuple[str, int, int]] = []
    request = GenerationRequest(
        seed=9, out_dir=tmp_path / "more", references=references, progress=lambda *a: calls.append(a)
    )
    clips = provider.generate_batch(PROMPT, 4, 0.9, request)

    assert len(clips) == 4
    for clip in clips:
        assert samples_of(clip).shape == (round(0.9 * MUSICGEN_RATE),)
        assert clip.recipe["prompt_sec"] > 0
    used = [clip.recipe["reference"] for clip in clips]
    # The readable references, in turn (the broken one is skipped).
    assert used == [
        str(parents[0].audio_path),
        str(parents[1].audio_path),
        str(stereo),
        str(parents[0].audio_path),
    ]
    # The prompt is at most the shortest reference, in whole codec frames.
    assert clips[0].recipe["prompt_sec"] * MUSICGEN_RATE % 160 == 0
    assert clips[0].recipe["prompt_sec"] <= 1.1
    # Same seed and references: same audio.
    again = provider.generate_batch(
        PROMPT, 4, 0.9, GenerationRequest(seed=9, out_dir=tmp_path / "again", references=references)
    )
    for a, b in zip(clips, again, strict=True):
        np.testing.assert_array_equal(samples_of(a), samples_of(b))


def test_stereo_models_write_stereo_and_continue_from_mono(
    settings: Settings, tiny_musicgen_stereo: Path, tiny_musicgen: Path, tmp_path: Path
) -> None:
    provider = make(settings, tiny_musicgen_stereo)
    (first,) = provider.generate_batch(PROMPT, 1, 0.7, GenerationRequest(seed=1, out_dir=tmp_path / "a"))
    data, rate = sf.read(str(first.audio_path))
    assert data.shape == (round(0.7 * MUSICGEN_RATE), 2) and rate == MUSICGEN_RATE
    mono = make(settings, tiny_musicgen).generate_batch(
        PROMPT, 1, 0.6, GenerationRequest(out_dir=tmp_path / "m")
    )
    references = [ReferenceClip(first.audio_path), ReferenceClip(mono[0].audio_path)]
    clips = provider.generate_batch(
        PROMPT, 2, 0.5, GenerationRequest(seed=2, out_dir=tmp_path / "b", references=references)
    )
    for clip in clips:
        assert sf.read(str(clip.audio_path))[0].shape == (round(0.5 * MUSICGEN_RATE), 2)
        assert clip.recipe["prompt_sec"] == 0.6


def test_no_guidance_and_odd_durations(settings: Settings, tiny_musicgen: Path, tmp_path: Path) -> None:
    provider = make(settings, tiny_musicgen, musicgen_guidance_scale=1.0)
    for seconds in (0.01, 0.333, 2.0):
        (clip,) = provider.generate_batch(PROMPT, 1, seconds, GenerationRequest(out_dir=tmp_path))
        assert samples_of(clip).shape == (round(seconds * MUSICGEN_RATE),)


def test_float16_nans_fall_back_to_float32(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    copy = tmp_path / "model"
    shutil.copytree(tiny_musicgen, copy)
    provider = make(settings, copy, musicgen_max_batch=1)
    provider.dtype = "float16"  # what CUDA gets; CPU runs float16 too, slowly
    loaded = provider.load()
    assert loaded.model.dtype == torch.float16
    # A float16 codec that overflows: NaN weights in its decoder.
    next(loaded.model.audio_encoder.decoder.parameters()).data.fill_(float("nan"))
    with caplog.at_level(logging.WARNING, logger="core.providers.musicgen"):
        clips = provider.generate_batch(PROMPT, 2, 0.3, GenerationRequest(seed=2, out_dir=tmp_path / "out"))
    assert len(clips) == 2
    assert [c.recipe["dtype"] for c in clips] == ["float32", "float32"]
    assert all(np.isfinite(samples_of(c)).all() and np.abs(samples_of(c)).max() > 0 for c in clips)
    assert len([r for r in caplog.records if "NaN" in r.getMessage()]) == 1  # once, then float32 stays
    assert provider.load().dtype == "float32"


def test_a_failed_chunk_is_skipped_and_all_failing_is_one_sentence(
    settings: Settings, tiny_musicgen: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_musicgen, copy)
    provider = make(settings, copy, musicgen_max_batch=1)
    loaded = provider.load()

    def break_the_codec(index: int, clip: GeneratedClip) -> None:
        next(loaded.model.audio_encoder.decoder.parameters()).data.fill_(float("nan"))

    clips = provider.generate_batch(
        PROMPT, 3, 0.3, GenerationRequest(out_dir=tmp_path / "out", on_clip=break_the_codec)
    )
    assert len(clips) == 1
    assert provider.last_warning == (
        "1 of 3 clips were made. MusicGen produced invalid audio (NaN) even in float32."
    )
    with pytest.raises(
        GenerationFailedError, match=r"^MusicGen produced invalid audio \(NaN\) even in float32\.$"
    ):
        provider.generate_batch(PROMPT, 2, 0.3, GenerationRequest(out_dir=tmp_path / "none"))
    assert list((tmp_path / "none").iterdir()) == []


def test_bad_arguments_are_validation_errors(settings: Settings, tiny_musicgen: Path, tmp_path: Path) -> None:
    provider = make(settings, tiny_musicgen)
    with pytest.raises(ValidationError):
        provider.generate_batch(PROMPT, 0, 1.0, GenerationRequest(out_dir=tmp_path))
    with pytest.raises(ValidationError):
        provider.generate_batch(PROMPT, 1, float("nan"), GenerationRequest(out_dir=tmp_path))


def test_hub_id_is_loaded_from_the_cache_offline(
    settings: Settings, tiny_musicgen: Path, hub_cache: Path, tmp_path: Path
) -> None:
    from core.providers import musicgen

    install_in_hub_cache(tiny_musicgen, hub_cache, "facebook/musicgen-small")
    provider = musicgen.create(settings)  # the default model id, from the settings
    assert provider.model == "facebook/musicgen-small"
    assert provider.location.local is False
    (clip,) = provider.generate_batch(PROMPT, 1, 0.5, GenerationRequest(out_dir=tmp_path))
    assert samples_of(clip).shape == (round(0.5 * MUSICGEN_RATE),)


def test_missing_models_are_one_sentence(settings: Settings, tiny_clap: Path, tmp_path: Path) -> None:
    from core.providers import musicgen

    with pytest.raises(ProviderUnavailableError) as err:
        musicgen.create(settings)
    message = str(err.value)
    assert "facebook/musicgen-small is not in the Hugging Face cache" in message
    assert "hf download facebook/musicgen-small" in message
    assert "\n" not in message

    with pytest.raises(ProviderUnavailableError, match="does not exist"):
        musicgen.create(settings, model=str(tmp_path / "nowhere" / "model"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProviderUnavailableError, match="needs a config.json"):
        musicgen.create(settings, model=str(empty))
    with pytest.raises(ProviderUnavailableError, match="not a MusicGen model"):
        musicgen.create(settings, model=str(tiny_clap))
    # Through the registry too: the same sentence, nothing written.
    with pytest.raises(ProviderUnavailableError, match="not in the Hugging Face cache"):
        registry.create_music(settings, "musicgen", "someone/missing-model")
    assert not settings.data_dir.exists()


def test_device_setting_is_checked(settings: Settings, tiny_musicgen: Path, tmp_path: Path) -> None:
    import torch

    from core.providers import musicgen

    with pytest.raises(ProviderUnavailableError, match="musicgen_device must be"):
        musicgen.create(settings.replace(musicgen_device="gpu0"), model=str(tiny_musicgen))
    if not torch.cuda.is_available():
        provider = musicgen.create(settings.replace(musicgen_device="cuda"), model=str(tiny_musicgen))
        with pytest.raises(ProviderUnavailableError, match="no CUDA GPU"):
            provider.generate_batch(PROMPT, 1, 0.2, GenerationRequest(out_dir=tmp_path))
