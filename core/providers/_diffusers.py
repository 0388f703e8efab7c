"""The chunk loop every engine that runs through diffusers (stable-audio, ace-step) shares.
Finding and loading the pipeline: ``core.providers.diffusers_loading``; the reference
clips a variation starts from: ``core.providers.diffusers_references``.

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
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import audio_duration, write_wav_atomic
from core.errors import CancelledError, GenerationFailedError, ValidationError
from core.providers import _runs
from core.providers.base import (
    GeneratedClip,
    GenerationRequest,
    ReferenceClip,
    check_batch_args,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import chosen_strength
from core.providers.diffusers_loading import LoadedPipeline
from core.providers.diffusers_references import BlendReference, blended_references, readable_references


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
