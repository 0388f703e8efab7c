"""Stable Audio (3 and Open) and ACE-Step on tiny random pipelines, loaded through from_pretrained."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.errors import (
    CancelledError,
    OutOfMemoryError,
    ProviderUnavailableError,
    ValidationError,
)
from core.providers import registry
from core.providers.base import (
    STAGE_GENERATING,
    STAGE_LOADING,
    GeneratedClip,
    GenerationRequest,
    MusicProvider,
    ReferenceClip,
    clip_seed,
)
from core.settings import Settings
from tests.ml.conftest import needs_diffusers
from tests.ml.tiny_diffusers import ACE_RATE, SA_RATE
from tests.ml.tiny_models import install_in_hub_cache

pytestmark = [pytest.mark.ml, needs_diffusers]

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "lofi warm beat with soft drums"
ENGINES = ["stable_audio_3", "stable_audio_open", "ace_step"]
RATES = {"stable_audio_3": SA_RATE, "stable_audio_open": SA_RATE, "ace_step": ACE_RATE}
NAMES = {"stable_audio_3": "stable-audio", "stable_audio_open": "stable-audio", "ace_step": "ace-step"}
STEPS = {"stable_audio_3": 8, "stable_audio_open": 3, "ace_step": 8}


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, request.getfixturevalue(f"tiny_{request.param}")


def make(settings: Settings, kind: str, model: Path | str, **changes: Any) -> Any:
    if kind == "stable_audio_open":
        changes.setdefault("diffusers_steps", STEPS[kind])  # 100 by default for Open 1.0
    return registry.create_music(settings.replace(**changes), NAMES[kind], str(model))


def samples_of(clip: GeneratedClip, rate: int) -> np.ndarray:
    data, found = sf.read(str(clip.audio_path), dtype="float32", always_2d=True)
    assert found == rate
    return data


def test_clips_keep_the_engines_rate_channels_and_exact_lengths(
    settings: Settings, engine: tuple[str, Path], tmp_path: Path
) -> None:
    kind, model = engine
    provider = make(settings, kind, model, diffusers_max_batch=2)
    assert isinstance(provider, MusicProvider)
    assert provider.capabilities.sample_rate == RATES[kind] and provider.capabilities.channels == 2
    calls: list[tuple[str, int, int]] = []
    ready: list[int] = []
    clips = provider.generate_batch(
        PROMPT,
        3,
        0.73,
        GenerationRequest(
            seed=4,
            out_dir=tmp_path,
            progress=lambda *a: calls.append(a),
            on_clip=lambda i, c: ready.append(i),
        ),
    )
    assert len(clips) == 3 and ready == [0, 1, 2]
    for index, clip in enumerate(clips):
        data = samples_of(clip, RATES[kind])
        assert data.shape == (round(0.73 * RATES[kind]), 2)
        assert np.isfinite(data).all() and np.abs(data).max() > 0
        assert clip.seed == clip_seed(4, index) and clip.recipe["engine"] == NAMES[kind]
        assert clip.recipe["sampling_rate"] == RATES[kind] and clip.recipe["channels"] == 2
        assert abs(clip.duration_sec - 0.73) < 1 / RATES[kind]
    # Loading first, then one report per denoising step over two chunks (2 + 1 clips).
    assert calls[:2] == [(STAGE_LOADING, 0, 1), (STAGE_LOADING, 1, 1)]
    steps = [c for c in calls if c[0] == STAGE_GENERATING]
    total = 2 * STEPS[kind]
    assert steps == [(STAGE_GENERATING, done, total) for done in range(total + 1)]


def test_one_batched_call_per_chunk_with_a_generator_per_clip(
    settings: Settings, engine: tuple[str, Path], tmp_path: Path
) -> None:
    kind, model = engine
    provider = make(settings, kind, model, diffusers_max_batch=3)
    loaded = provider.load()
    seen: list[list[int]] = []
    cls = type(loaded.pipe)
    real_call = cls.__call__

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append([g.initial_seed() for g in kwargs["generator"]])
        return real_call(self, *args, **kwargs)

    cls.__call__ = recording  # type: ignore[method-assign]
    try:
        provider.generate_batch(PROMPT, 4, 0.3, GenerationRequest(seed=2, out_dir=tmp_path))
    finally:
        cls.__call__ = real_call  # type: ignore[method-assign]
    assert seen == [[clip_seed(2, i) for i in range(3)], [clip_seed(2, 3)]]


def test_same_seed_same_audio_other_seed_other_audio(
    settings: Settings, engine: tuple[str, Path], tmp_path: Path
) -> None:
    kind, model = engine
    provider = make(settings, kind, model, diffusers_max_batch=2)

    def batch(seed: int, name: str) -> list[np.ndarray]:
        clips = provider.generate_batch(PROMPT, 2, 0.4, GenerationRequest(seed=seed, out_dir=tmp_path / name))
        return [samples_of(c, RATES[kind]) for c in clips]

    first, again, other = batch(5, "a"), batch(5, "b"), batch(6, "c")
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])  # each clip its own seed
    assert all(not np.array_equal(a, c) for a, c in zip(first, other, strict=True))


def test_cancel_at_a_step_writes_nothing(
    settings: Settings, engine: tuple[str, Path], tmp_path: Path
) -> None:
    kind, model = engine
    provider = make(settings, kind, model, diffusers_max_batch=1)
    cancel = threading.Event()
    steps: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == STAGE_GENERATING:
            steps.append(done)
            if done == STEPS[kind] + 2:  # inside the second chunk, after the first clip was written
                cancel.set()

    out = tmp_path / "out"
    with pytest.raises(CancelledError):
        provider.generate_batch(
            PROMPT, 3, 0.3, GenerationRequest(seed=1, out_dir=out, progress=progress, cancel=cancel)
        )
    assert max(steps) == STEPS[kind] + 2  # stopped at the next step
    assert list(out.iterdir()) == []


CPU_ALLOCATOR = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 4294967296 bytes."


@pytest.mark.parametrize("kind_of_error", ["cuda", "cpu"])
def test_out_of_memory_is_one_sentence_of_advice(
    settings: Settings,
    engine: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind_of_error: str,
) -> None:
    import torch

    kind, model = engine
    provider = make(settings, kind, model, diffusers_max_batch=2)
    loaded = provider.load()

    def no_memory(*args: Any, **kwargs: Any) -> Any:
        if kind_of_error == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        raise RuntimeError(CPU_ALLOCATOR)

    monkeypatch.setattr(loaded.pipe.transformer, "forward", no_memory)
    with pytest.raises(OutOfMemoryError) as err:
        provider.generate_batch(PROMPT, 3, 0.3, GenerationRequest(out_dir=tmp_path / "o"))
    label = "ACE-Step" if kind == "ace_step" else "Stable Audio"
    assert str(err.value) == (
        f"{label} ran out of memory on cpu making 2 clips at once; try fewer clips at once "
        "(lower diffusers_max_batch, now 2), a shorter clip or a smaller model."
    )
    assert list((tmp_path / "o").iterdir()) == []


def test_out_of_memory_after_some_clips_keeps_them_and_says_why(
    settings: Settings, tiny_stable_audio_3: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = make(settings, "stable_audio_3", tiny_stable_audio_3, diffusers_max_batch=2)
    loaded = provider.load()
    forward = loaded.pipe.transformer.forward
    calls: list[int] = []

    def runs_out_in_the_second_chunk(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > STEPS["stable_audio_3"]:
            raise RuntimeError(CPU_ALLOCATOR)
        return forward(*args, **kwargs)

    monkeypatch.setattr(loaded.pipe.transformer, "forward", runs_out_in_the_second_chunk)
    clips = provider.generate_batch(PROMPT, 3, 0.3, GenerationRequest(out_dir=tmp_path / "o"))
    assert len(clips) == 2 and sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        c.audio_path.name for c in clips
    )
    assert provider.last_warning.startswith("2 of 3 clips were made. Stable Audio ran out of memory on cpu")


def two_references(provider: Any, tmp_path: Path) -> list[ReferenceClip]:
    """A clip of this engine and a mono 22.05 kHz tone: references at any rate and channel count."""
    (own,) = provider.generate_batch(PROMPT, 1, 0.5, GenerationRequest(seed=11, out_dir=tmp_path / "ref"))
    tone = tmp_path / "tone.wav"
    t = np.arange(int(22_050 * 0.8)) / 22_050
    sf.write(str(tone), (0.4 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 22_050)
    return [ReferenceClip(own.audio_path, own.seed, own.recipe), ReferenceClip(tone)]


@pytest.mark.parametrize("kind", ["stable_audio_3", "ace_step"])
def test_variation_is_made_from_each_reference(
    settings: Settings, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Each clip is the model's variation of one reference, at the strength set.

    Not asserted: that a variation sounds nearer to its reference than to an
    unrelated clip. With random weights the VAE's encoder is no inverse of its
    decoder and the DiT's velocity is noise, so distances between decoded clips
    say nothing about the reference (measured: the nearest clip is the
    reference about as often as chance). What is asserted instead is what the
    provider controls: the reference audio, resampled to the model's rate and
    channels and cut to the clip's length, is what the pipeline receives, with
    the mode and strength asked for.
    """
    from diffusers import AceStepPipeline, StableAudio3AudioToAudioPipeline

    from core.providers.diffusers_references import reference_audio

    model = request.getfixturevalue(f"tiny_{kind}")
    provider = make(settings, kind, model, diffusers_max_batch=4, variation_strength="close")
    assert provider.capabilities.variation and provider.capabilities.more_like == "variation"
    references = two_references(provider, tmp_path)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    request_refs = [*references, ReferenceClip(broken)]
    cls = StableAudio3AudioToAudioPipeline if kind == "stable_audio_3" else AceStepPipeline
    seen: list[dict[str, Any]] = []
    real_call = cls.__call__

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_call(self, *args, **kwargs)

    cls.__call__ = recording  # type: ignore[method-assign]
    try:
        varied = provider.generate_batch(
            PROMPT, 3, 0.5, GenerationRequest(seed=3, out_dir=tmp_path / "v", references=request_refs)
        )
    finally:
        cls.__call__ = real_call  # type: ignore[method-assign]
    (call,) = seen
    given = (call["audio"] if kind == "stable_audio_3" else call["src_audio"]).numpy()
    length = round(0.5 * RATES[kind])
    expected = [reference_audio(r, RATES[kind], 2, length) for r in (*references, references[0])]
    np.testing.assert_array_equal(given, np.stack(expected))
    if kind == "stable_audio_3":
        assert call["init_noise_level"] == 0.3
    else:
        assert (call["task_type"], call["audio_cover_strength"]) == ("cover", 1.0)
    plain = provider.generate_batch(PROMPT, 3, 0.5, GenerationRequest(seed=3, out_dir=tmp_path / "p"))
    # Each clip varies one readable reference in turn; the strength is recorded.
    assert [c.recipe["reference"] for c in varied] == [
        str(r.audio_path) for r in (*references, references[0])
    ]
    assert all(c.recipe["variation_strength"] == "close" for c in varied)
    for clip in varied:
        assert samples_of(clip, RATES[kind]).shape == (round(0.5 * RATES[kind]), 2)
    # Same seeds: the reference changes the audio, and another reference changes it again.
    v = [samples_of(c, RATES[kind]) for c in varied]
    p = [samples_of(c, RATES[kind]) for c in plain]
    assert not np.array_equal(v[0], p[0]) and not np.array_equal(v[1], p[1])
    assert not np.array_equal(v[0], v[1])
    # And a variation regenerates exactly.
    again = provider.generate_batch(
        PROMPT, 3, 0.5, GenerationRequest(seed=3, out_dir=tmp_path / "a", references=request_refs)
    )
    for a, b in zip(varied, again, strict=True):
        np.testing.assert_array_equal(samples_of(a, RATES[kind]), samples_of(b, RATES[kind]))
    # A more-like call's own strength overrides the setting, in the pipeline and the recipe.
    seen.clear()
    cls.__call__ = recording  # type: ignore[method-assign]
    try:
        asked = provider.generate_batch(
            PROMPT,
            1,
            0.5,
            GenerationRequest(seed=3, out_dir=tmp_path / "l", references=references, strength="loose"),
        )
    finally:
        cls.__call__ = real_call  # type: ignore[method-assign]
    (call,) = seen
    level = call["init_noise_level"] if kind == "stable_audio_3" else call["audio_cover_strength"]
    assert level == pytest.approx(0.9 if kind == "stable_audio_3" else 0.2)
    assert asked[0].recipe["variation_strength"] == "loose"
    # The strength setting reaches the pipeline.
    loose = make(settings, kind, model, variation_strength="loose")
    if kind == "stable_audio_3":
        assert (provider.noise_level(), loose.noise_level()) == (0.3, pytest.approx(0.9))
        assert varied[0].recipe["init_noise_level"] == 0.3
    else:
        assert (provider.cover_strength(), loose.cover_strength()) == (1.0, pytest.approx(0.2))
        assert varied[0].recipe["task_type"] == "cover" and varied[0].recipe["audio_cover_strength"] == 1.0


def test_stable_audio_open_says_it_cannot_vary(
    settings: Settings, tiny_stable_audio_open: Path, tmp_path: Path
) -> None:
    provider = make(settings, "stable_audio_open", tiny_stable_audio_open)
    caps = provider.capabilities
    assert caps.more_like == "prompt" and not caps.variation
    # Its longest clip comes from the checkpoint: 64 latent frames of 2048 samples at 44.1 kHz.
    assert caps.longest_sec == round(64 * 2048 / SA_RATE, 2)
    references = [ReferenceClip(tmp_path / "never-read.wav")]
    clips = provider.generate_batch(
        PROMPT, 1, 0.3, GenerationRequest(seed=1, out_dir=tmp_path / "o", references=references)
    )
    assert "reference" not in clips[0].recipe
    with pytest.raises(ValidationError, match="at most 2.97 s"):
        provider.generate_batch(PROMPT, 1, 5.0, GenerationRequest(out_dir=tmp_path / "x"))


def test_ace_step_takes_tempo_key_meter_and_lyrics(
    settings: Settings, tiny_ace_step: Path, tmp_path: Path
) -> None:
    from core.providers.ace_step import brief_inputs

    provider = make(settings, "ace_step", tiny_ace_step)
    caps = provider.capabilities
    assert caps.tempo_input and caps.key_input and caps.lyrics_input
    params = SimpleNamespace(bpm=96.4, key="F# minor", time_signature="3/4", lyrics="[verse]\nsoft")
    assert brief_inputs(params) == {
        "bpm": 96,
        "keyscale": "F# minor",
        "timesignature": "3",
        "lyrics": "[verse]\nsoft",
    }
    clips = provider.generate_batch(
        PROMPT,
        1,
        0.3,
        GenerationRequest(seed=1, out_dir=tmp_path, params=params),  # type: ignore[arg-type]
    )
    assert clips[0].recipe["bpm"] == 96 and clips[0].recipe["keyscale"] == "F# minor"
    plain = provider.generate_batch(PROMPT, 1, 0.3, GenerationRequest(seed=1, out_dir=tmp_path / "p"))
    assert not np.array_equal(samples_of(clips[0], ACE_RATE), samples_of(plain[0], ACE_RATE))


def test_ace_step_without_audio_tokenizer_cannot_cover(tmp_path: Path, settings: Settings) -> None:
    from tests.ml.tiny_diffusers import build_tiny_ace_step

    model = build_tiny_ace_step(tmp_path / "no-cover", cover=False)
    caps = make(settings, "ace_step", model).capabilities
    assert not caps.variation and caps.more_like == "prompt"


def test_create_is_offline_imports_no_torch_and_missing_models_are_one_sentence(
    settings: Settings, tiny_stable_audio_3: Path, tmp_path: Path
) -> None:
    code = (
        "import sys; from pathlib import Path; from core.settings import Settings; "
        "from core.providers import stable_audio; "
        f"p = stable_audio.create(Settings(data_dir=Path({str(tmp_path)!r})), model={str(tiny_stable_audio_3)!r}); "
        "print(p.capabilities.sample_rate, sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["44100", "[]"]
    with pytest.raises(ProviderUnavailableError, match=r"not in the Hugging Face cache.*hf download"):
        registry.create_music(settings, "ace-step")
    with pytest.raises(ProviderUnavailableError, match="is a StableAudio3Pipeline pipeline, not a ACE-Step"):
        registry.create_music(settings, "ace-step", str(tiny_stable_audio_3))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProviderUnavailableError, match="needs a model_index.json"):
        registry.create_music(settings, "stable-audio", str(empty))


def test_hub_default_is_found_in_the_cache_and_listed(
    settings: Settings, tiny_stable_audio_3: Path, hub_cache: Path, tmp_path: Path
) -> None:
    from core.providers.inventory import list_providers
    from core.providers.stable_audio import OPEN_SMALL, SA3_MEDIUM

    statuses = {s.name: s for s in list_providers(settings)}
    assert statuses["stable-audio"].present is False and "hf download" in statuses["stable-audio"].detail
    # Laid out as a download under the CPU default's id (the tiny one is a Stable Audio 3).
    snapshot = install_in_hub_cache(tiny_stable_audio_3, hub_cache, OPEN_SMALL)
    for sub in tiny_stable_audio_3.iterdir():
        if sub.is_dir():
            install_sub = snapshot / sub.name
            install_sub.mkdir(exist_ok=True)
            for item in sub.iterdir():
                (install_sub / item.name).write_bytes(item.read_bytes())
    provider = registry.create_music(settings, "stable-audio")
    assert provider.model in (OPEN_SMALL, SA3_MEDIUM) and provider.location.local is False
    statuses = {s.name: s for s in list_providers(settings)}
    assert statuses["stable-audio"].present is True and statuses["stable-audio"].usable
    (clip,) = provider.generate_batch(PROMPT, 1, 0.3, GenerationRequest(out_dir=tmp_path))
    assert samples_of(clip, SA_RATE).shape == (round(0.3 * SA_RATE), 2)
