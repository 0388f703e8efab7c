"""Shared plumbing for the engines that run through diffusers (stable-audio, ace-step).

Nothing here imports torch or diffusers at module level: ``create()`` of a
provider answers offline, in milliseconds, from the JSON files of the model.

- ``locate_pipeline``: a directory or a Hugging Face cache entry with a
  ``model_index.json`` whose ``_class_name`` the provider can run, and weights
  for each of its model components. Loaded with ``local_files_only``.
- ``load_pipeline``: once per process per (model, class, device, dtype), under
  its own progress stage (STAGE_LOADING). Device: CUDA, then Apple MPS, then
  CPU; half precision on CUDA only (bfloat16 where the GPU has it, else
  float16); float32 on MPS and CPU.
- ``generate_clips``: the chunk loop every engine shares. ONE batched pipeline
  call per chunk of at most ``diffusers_max_batch`` clips, with a list of
  per-clip ``torch.Generator`` seeded with ``clip_seed(batch_seed, i)`` (and
  the global torch seed set to the chunk's first clip seed, for the draws a
  pipeline makes without a generator, such as a VAE's posterior sample), so
  every clip's seed is recorded and the same batch seed, clip count and
  ``diffusers_max_batch`` give the same audio again. Progress and cancel once
  per denoising step through the pipeline's step callback (cancel raises
  ``CancelledError`` from it; clips already written by the call are deleted).
  Out of memory is one sentence of advice: a warning beside the clips made before
  it, or an ``OutOfMemoryError`` (which routing may hand to a fallback engine)
  when no clip was made. Clips are trimmed to
  exactly ``round(seconds * rate)`` samples and written at the engine's own
  rate and channels.
- ``prepare_batch`` / ``run_batch``: what a provider's ``generate_batch`` does
  around ``generate_clips`` (check, load, read references; recipe, timings, warning).
- ``reference_audio``: a reference clip read, resampled with soxr on the CPU,
  mixed to the model's channels and cut or padded to a length. Not
  ``torchaudio.functional.resample`` on the model's device, as diffusers'
  examples do: no torchaudio runs beside torch 2.13 (checked 2026-11-30: PyPI
  has no 2.12 or 2.13; its 2.11.1 wheel is built against CUDA torch and fails
  to load ``libc10_cuda.so`` beside the CPU torch).
- ``blended_references``: a blend's references (``GenerationRequest.blend_with``
  given to an engine with audio-to-audio): one clip of each parent, read as
  ``reference_audio``, loudness-matched and summed (``core.audio.mix_matched``);
  the engine varies that mix.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import audio_duration, mix_matched, read_audio, write_wav_atomic
from core.errors import (
    AudioFileError,
    CancelledError,
    GenerationFailedError,
    ProviderUnavailableError,
    ValidationError,
)
from core.providers import _runs, _torch
from core.providers.base import (
    STAGE_LOADING,
    GeneratedClip,
    GenerationRequest,
    ProgressFn,
    ReferenceClip,
    check_batch_args,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import chosen_strength

log = logging.getLogger(__name__)

REQUIRED_PACKAGES = ("torch", "diffusers", "transformers", "huggingface_hub")
WEIGHT_FILES = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "diffusion_pytorch_model.bin",
    *_torch.WEIGHT_FILES,
)


@dataclass(frozen=True)
class PipelineLocation:
    """Where a diffusers pipeline's files are: ``ref`` is what from_pretrained gets."""

    model: str  # as the user named it
    ref: str  # a directory path, or a hub id
    local: bool
    index: dict[str, Any]  # model_index.json
    cache_dir: Path | None = None

    @property
    def class_name(self) -> str:
        return str(self.index.get("_class_name") or "")

    def components(self) -> dict[str, tuple[str, str]]:
        """Component name -> (library, class) for the components that are present."""
        found = {}
        for key, value in self.index.items():
            if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
                continue
            if value[0] is None or value[1] is None:
                continue
            found[key] = (str(value[0]), str(value[1]))
        return found

    def config(self, component: str, filename: str = "config.json") -> dict[str, Any]:
        """A component's JSON config ({} when absent or unreadable); offline."""
        path = _file(self, f"{component}/{filename}")
        if path is None:
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def pretrained_kwargs(self) -> dict[str, Any]:
        if self.local:
            return {}
        return {"cache_dir": str(self.cache_dir), "local_files_only": True}


def _file(location: PipelineLocation, name: str) -> Path | None:
    if location.local:
        path = Path(location.ref) / name
        return path if path.is_file() else None
    return _torch._cached_file(location.ref, name, location.cache_dir or _torch.hub_cache_dir())


def _has_weights(location: PipelineLocation, component: str) -> bool:
    return any(_file(location, f"{component}/{name}") is not None for name in WEIGHT_FILES)


def _read_index(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _carries_weights(library: str, cls: str) -> bool:
    """Schedulers, tokenizers and feature extractors have no weight files; models do."""
    if cls.endswith("Scheduler"):
        return False
    return not (
        library == "transformers" and ("Tokenizer" in cls or cls.endswith(("Processor", "Extractor")))
    )


def find_pipeline(model: str) -> PipelineLocation | None:
    """Locate a diffusers pipeline offline; None when neither a usable directory nor cached."""
    path = Path(model).expanduser()
    if path.is_dir():
        index = _read_index(path / "model_index.json")
        if index is None:
            return None
        location = PipelineLocation(model, str(path.resolve()), True, index)
    else:
        if _torch.looks_like_path(model) or _torch.missing_packages("huggingface_hub"):
            return None
        cache_dir = _torch.hub_cache_dir()
        index = _read_index(_torch._cached_file(model, "model_index.json", cache_dir))
        if index is None:
            return None
        location = PipelineLocation(model, model, False, index, cache_dir)
    weighted = [
        name for name, (library, cls) in location.components().items() if _carries_weights(library, cls)
    ]
    if any(not _has_weights(location, name) for name in weighted):
        return None
    return location


def locate_pipeline(label: str, model: str, class_names: Sequence[str]) -> PipelineLocation:
    """Like ``find_pipeline`` but raises ProviderUnavailableError: what is missing and how to get it."""
    model = _torch.model_named(label, model)
    location = find_pipeline(model)
    if location is None:
        raise _torch.not_found(
            label,
            model,
            "a saved diffusers pipeline: it needs a model_index.json and the weights of each component",
        )
    if location.class_name not in class_names:
        raise ProviderUnavailableError(
            f"{model} is a {location.class_name or 'unknown'} pipeline, not a {label} one "
            f"({' or '.join(class_names)})."
        )
    return location


def nvidia_visible() -> bool:
    """A cheap guess, without importing torch, that a CUDA GPU is here (for choosing a default model)."""
    return Path("/proc/driver/nvidia/version").exists()


def choose_dtype(device: str) -> str:
    """Half precision on CUDA (bfloat16 where supported, else float16); float32 on MPS and CPU."""
    if not device.startswith("cuda"):
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


@dataclass
class LoadedPipeline:
    pipe: Any
    location: PipelineLocation
    device: str
    dtype: str
    sample_rate: int
    channels: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    extra: dict[str, Any] = field(default_factory=dict)  # per-engine derived pipelines (a2a, ...)


def quiet_diffusers() -> None:
    """No progress bars or advice on stderr: they would tear through the terminal UI."""
    from diffusers.utils import logging as df_logging

    df_logging.set_verbosity_error()
    df_logging.disable_progress_bar()
    _torch.quiet_transformers()


def load_pipeline(
    label: str,
    location: PipelineLocation,
    device_setting: str,
    progress: ProgressFn | None = None,
    *,
    dtype: str | None = None,
    rate_and_channels: Callable[[Any], tuple[int, int]],
) -> LoadedPipeline:
    """The pipeline of ``location``, loaded once per process, with STAGE_LOADING progress."""
    if progress is not None:
        progress(STAGE_LOADING, 0, 1)
    device = _torch.resolve_device(device_setting)
    dtype = dtype or choose_dtype(device)
    key = ("diffusers", location.ref, location.class_name, device, dtype)

    def load() -> LoadedPipeline:
        import torch
        from diffusers import DiffusionPipeline

        quiet_diffusers()
        try:
            pipe = DiffusionPipeline.from_pretrained(
                location.ref, dtype=getattr(torch, dtype), **location.pretrained_kwargs()
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderUnavailableError(
                f"{label} model {location.model} could not be loaded ({first_line(exc)}); "
                "download it again or pass another --model."
            ) from None
        try:
            pipe.to(device)
        except (RuntimeError, MemoryError) as exc:
            raise _torch.load_failure(exc, label, location.model, device, "diffusers_device") from None
        pipe.set_progress_bar_config(disable=True)
        rate, channels = rate_and_channels(pipe)
        return LoadedPipeline(pipe, location, device, dtype, int(rate), int(channels))

    loaded, _ = _torch.load_once(key, load)
    if progress is not None:
        progress(STAGE_LOADING, 1, 1)
    return loaded


class StepWatch:
    """Progress and cancel once per denoising step, as a diffusers step callback."""

    def __init__(self, cancel: threading.Event | None, on_step: Callable[[], None]) -> None:
        self.cancel = cancel
        self.on_step = on_step
        self.steps = 0
        self.last_step_at: float | None = None

    def _step(self) -> None:
        self.steps += 1
        self.last_step_at = time.perf_counter()
        if self.cancel is not None and self.cancel.is_set():
            raise CancelledError("Generation was cancelled.")
        self.on_step()

    def on_step_end(self, pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``callback_on_step_end``: returns the tensors unchanged."""
        self._step()
        return kwargs

    def legacy(self, step: int, timestep: Any, latents: Any) -> None:
        """The older ``callback(step, timestep, latents)`` (StableAudioPipeline)."""
        self._step()


def reference_audio(reference: ReferenceClip, rate: int, channels: int, length: int) -> np.ndarray:
    """A reference as float32 (channels, length) at ``rate``: resampled with soxr, mixed, cut or padded.

    Raises AudioFileError when the file cannot be read.
    """
    import soxr

    samples, source_rate = read_audio(reference.audio_path, mono=False)
    frames = samples[:, None] if samples.ndim == 1 else samples  # (frames, channels)
    if source_rate != rate:
        frames = soxr.resample(np.ascontiguousarray(frames, dtype=np.float32), source_rate, rate)
        frames = frames[:, None] if frames.ndim == 1 else frames
    if frames.shape[1] != channels:
        mono = frames.mean(axis=1, keepdims=True)
        frames = np.repeat(mono, channels, axis=1)
    frames = frames[:length]
    if frames.shape[0] < length:
        frames = np.pad(frames, ((0, length - frames.shape[0]), (0, 0)))
    return np.ascontiguousarray(frames.T, dtype=np.float32)


def readable_references(
    references: Sequence[ReferenceClip], rate: int, channels: int, length: int
) -> list[tuple[ReferenceClip, np.ndarray]]:
    """Each reference that can be read, as ``reference_audio``; the others are skipped with a log line."""
    found = []
    for reference in references:
        try:
            found.append((reference, reference_audio(reference, rate, channels, length)))
        except AudioFileError as exc:
            log.warning("skipping reference %s: %s", reference.audio_path, exc)
    if references and not found:
        log.warning("no reference clip could be read; generating from the prompt alone")
    return found


@dataclass(frozen=True)
class BlendReference(ReferenceClip):
    """A clip of the first parent of a blend, mixed with ``blend_with``, a clip of the second."""

    blend_with: Path | None = None


def blended_references(
    references: Sequence[ReferenceClip],
    blend_with: Sequence[ReferenceClip],
    rate: int,
    channels: int,
    length: int,
) -> list[tuple[ReferenceClip, np.ndarray]]:
    """A blend's references: pair i is ``references[i % a]`` with ``blend_with[i % b]`` (of the
    readable ones; max(a, b) pairs), each pair loudness-matched and mixed at ``rate``, as
    (channels, length) float32. If one side has nothing readable, the other side's clips alone."""
    firsts = readable_references(references, rate, channels, length)
    seconds = readable_references(blend_with, rate, channels, length)
    if not firsts or not seconds:
        log.warning("a blend with one side unreadable: varying the other side's clips alone")
        return firsts or seconds
    mixed: list[tuple[ReferenceClip, np.ndarray]] = []
    for i in range(max(len(firsts), len(seconds))):
        (first, a), (second, b) = firsts[i % len(firsts)], seconds[i % len(seconds)]
        audio = mix_matched([a.T, b.T], rate).T
        pair = BlendReference(first.audio_path, first.seed, first.recipe, blend_with=second.audio_path)
        mixed.append((pair, np.ascontiguousarray(audio, dtype=np.float32)))
    return mixed


# (seeds, rows, watch) -> audio (rows, channels, samples) as float32 numpy
ChunkCall = Callable[[list[int], list[int], StepWatch], np.ndarray]


@dataclass
class BatchResult:
    clips: list[GeneratedClip]
    warning: str | None  # why fewer clips than asked were made, else None
    timings: dict[str, float]


def generate_clips(
    *,
    name: str,
    label: str,
    loaded: LoadedPipeline,
    prompt: str,
    num_clips: int,
    duration_sec: float,
    request: GenerationRequest,
    max_batch: int,
    steps_per_chunk: int,
    call: ChunkCall,
    recipe: Callable[[int], dict[str, Any]],
) -> BatchResult:
    """The chunk loop: batched calls, per-clip seeds, progress, cancel, OOM advice, exact lengths.

    ``call`` makes the audio of one chunk; ``recipe(index)`` adds the engine's
    own fields to clip ``index``'s recipe.
    """
    import torch

    started = time.perf_counter()
    timings = {"generate": 0.0, "decode": 0.0, "write": 0.0}
    out_dir = (
        Path(request.out_dir) if request.out_dir else Path(tempfile.mkdtemp(prefix=f"sessionlab-{name}-"))
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = int(round(duration_sec * loaded.sample_rate))
    counter = _runs.ChunkedSteps(
        num_clips, max_batch, steps_per_chunk, request.progress, who=label, size_setting="diffusers_max_batch"
    )
    chunks, on_step = counter.chunks, counter.step
    batch_tag = uuid.uuid4().hex[:8]
    clips: list[GeneratedClip] = []
    try:
        for chunk_index, (start, count) in enumerate(chunks):
            check_cancel(request.cancel)
            rows = list(range(start, start + count))
            seeds = [clip_seed(request.seed, index) for index in rows]
            watch = StepWatch(request.cancel, on_step)
            call_started = time.perf_counter()
            try:
                with loaded.lock, torch.inference_mode():
                    torch.manual_seed(seeds[0])
                    audio = call(seeds, rows, watch)
            except CancelledError:
                raise
            except Exception as exc:
                if counter.failed(chunk_index, exc, device=loaded.device):
                    break  # out of memory: the next chunk is as large
                continue
            finished = time.perf_counter()
            last_step = watch.last_step_at or finished
            timings["generate"] += last_step - call_started
            timings["decode"] += finished - last_step
            if not np.isfinite(audio).all():
                counter.note(GenerationFailedError(f"{label} produced invalid audio (NaN)."))
                continue
            write_started = time.perf_counter()
            for row, index in enumerate(rows):
                samples = audio[row, :, :target]
                if samples.shape[-1] < target:  # the pipeline rounds down; keep the promised length
                    samples = np.pad(samples, ((0, 0), (0, target - samples.shape[-1])))
                path = out_dir / f"{name}-{batch_tag}-{index:02d}.wav"
                write_wav_atomic(path, samples.T if samples.shape[0] > 1 else samples[0], loaded.sample_rate)
                clip = GeneratedClip(
                    audio_path=path,
                    duration_sec=audio_duration(path),
                    raw_prompt=prompt,
                    seed=seeds[row],
                    recipe={
                        "engine": name,
                        "model": loaded.location.model,
                        "pipeline": type(loaded.pipe).__name__,
                        "batch_seed": request.seed,
                        "torch_seed": seeds[0],
                        "chunk_start": start,
                        "chunk_size": count,
                        "row": row,
                        "max_batch": max_batch,
                        "duration_sec": duration_sec,
                        "device": loaded.device,
                        "dtype": loaded.dtype,
                        "sampling_rate": loaded.sample_rate,
                        "channels": loaded.channels,
                        **recipe(index),
                    },
                )
                clips.append(clip)
                if request.on_clip is not None:
                    request.on_clip(index, clip)
            timings["write"] += time.perf_counter() - write_started
    except CancelledError:
        _runs.remove_clips(clips)
        raise
    finally:
        timings["total"] = time.perf_counter() - started
    return BatchResult(clips, counter.outcome(len(clips)), timings)


def prepare_batch(
    provider: Any, who: str, request: GenerationRequest | None, num_clips: int, duration_sec: float
) -> tuple[GenerationRequest, LoadedPipeline, list[tuple[ReferenceClip, np.ndarray]]]:
    """What a provider's ``generate_batch`` starts with: its arguments checked (one sentence naming
    ``who`` when the clip is longer than it makes), the request (a default one for none), the
    loaded pipeline (cancel checked before and after loading) and the references it can use
    (none unless it makes variations), read at ``duration_sec``; clears ``last_warning``."""
    request = request or GenerationRequest()
    check_batch_args(num_clips, duration_sec)
    if duration_sec > provider.capabilities.longest_sec:
        raise ValidationError(
            f"{who} makes clips of at most {provider.capabilities.longest_sec:g} s, not {duration_sec:g} s."
        )
    check_cancel(request.cancel)
    provider.last_warning = None
    loaded = provider.load(request.progress)
    check_cancel(request.cancel)
    references: list[tuple[ReferenceClip, np.ndarray]] = []
    if request.references and provider.capabilities.variation:
        target = int(round(duration_sec * loaded.sample_rate))
        if request.blend_with:  # a blend: each clip varies a mix of one clip of each parent
            references = blended_references(
                request.references, request.blend_with, loaded.sample_rate, loaded.channels, target
            )
        else:
            references = readable_references(request.references, loaded.sample_rate, loaded.channels, target)
    return request, loaded, references


def run_batch(
    provider: Any,
    *,
    label: str,
    loaded: LoadedPipeline,
    call: ChunkCall,
    prompt: str,
    num_clips: int,
    duration_sec: float,
    request: GenerationRequest,
    fields: dict[str, Any],
    references: Sequence[tuple[ReferenceClip, np.ndarray]],
    variation: dict[str, Any],
) -> list[GeneratedClip]:
    """``generate_clips`` for the provider's ``generate_batch``, in chunks of its
    ``diffusers_max_batch``; its timings and warning kept on the provider
    (``last_timings``, ``last_warning``).

    Each clip's recipe gets the engine's ``fields`` (``steps`` among them) and, where
    ``references`` were given, the one it started from (taken in turn; a blend's mix
    names both its clips: ``reference`` and ``blend_with``), the engine's ``variation``
    fields and the strength used (the request's own, else the ``variation_strength`` setting).
    """

    def recipe(index: int) -> dict[str, Any]:
        if not references:
            return dict(fields)
        reference = references[index % len(references)][0]
        blended = {"blend_with": str(reference.blend_with)} if isinstance(reference, BlendReference) else {}
        return {
            **fields,
            "reference": str(reference.audio_path),
            **blended,
            **variation,
            "variation_strength": chosen_strength(request.strength, provider.settings),
        }

    result = generate_clips(
        name=provider.name,
        label=label,
        loaded=loaded,
        prompt=prompt,
        num_clips=num_clips,
        duration_sec=duration_sec,
        request=request,
        max_batch=provider.settings.diffusers_max_batch,
        steps_per_chunk=fields["steps"],
        call=call,
        recipe=recipe,
    )
    provider.last_timings = result.timings
    provider.last_warning = result.warning
    return result.clips


def generators(seeds: Sequence[int]) -> list[Any]:
    """One CPU generator per clip: the same noise on every device (diffusers moves it)."""
    import torch

    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def as_numpy(audio: Any) -> np.ndarray:
    import torch

    return audio.detach().to("cpu", dtype=torch.float32).numpy()


first_line = _torch.first_line
