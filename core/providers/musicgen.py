"""MusicGen through transformers: ``facebook/musicgen-small`` by default, any id or directory.

How a batch is made
- The model loads once per process (keyed by model, device and dtype), lazily,
  inside ``generate_batch`` and under its own progress stage (STAGE_LOADING).
- Device: CUDA, then Apple MPS, then CPU (``musicgen_device`` overrides). On
  CUDA the model runs in float16; if a chunk comes back with NaNs it is made
  again, same seed, with a float32 copy of the model, which this provider then
  keeps using (the float16 copy is dropped). ``provider.dtype`` forces one.
- All clips of a batch go through ONE batched ``generate`` call with
  ``text=[prompt] * n`` (``num_return_sequences`` garbles MusicGen's output),
  in chunks of at most ``musicgen_max_batch`` clips. Running out of GPU memory
  is reported as advice to lower that setting.
- Exact durations: enough frames are generated for the length asked
  (frame and sampling rates come from the model's config, plus one token per
  codebook delay), and the audio is trimmed to ``round(seconds * rate)`` samples.
- Seeds: chunk ``c`` starting at clip ``s`` runs after ``torch.manual_seed(
  clip_seed(batch_seed, s))``. A clip's recipe records that seed, the chunk and
  its row, so the same batch seed, clip count and ``musicgen_max_batch`` give
  the same audio again (bit for bit on CPU).
- More-like (``request.references``): continuation. Each clip is prompted with
  the last few seconds of one reference (clip i uses reference i mod k),
  resampled to the model's rate; the output, which starts with the prompt
  audio, is cut so each clip has exactly the requested length of new music.

Step cost
- Each generate call gets its own key/value cache, a transformers
  ``StaticCache`` sized to exactly the positions that call fills (prompt codes,
  start token and new tokens). The default ``DynamicCache`` appends each step's
  keys and values with ``torch.cat``, copying the whole cache of every layer at
  every step: at musicgen-small's sizes a 6 x 10 s batch copied ~1.2 GB per step
  by its end, and the step time tripled over the clip. The static cache writes
  one position in place; attention runs over the cache's full (masked) length,
  the same cost at every step (about a sixth of a step for a 6 x 10 s batch on
  a CPU: bench/musicgen_steps.py). ``provider.kv_cache = "dynamic"`` restores
  transformers' default (bench/engines.py --compare-dynamic runs both). The
  per-step watch, the static cache and the prefill-once patch are in
  ``core.providers.musicgen_decoding``.

Progress semantics
- ``(STAGE_LOADING, 0, 1)`` then ``(STAGE_LOADING, 1, 1)`` around the load
  (both even when the model is already loaded).
- ``(STAGE_GENERATING, done, total)`` once per decoder step, counted over the
  whole batch: ``total = chunks * steps_per_chunk``; it is NOT a clip count.
  Clips become available per chunk, through ``request.on_clip(index, clip)``,
  as soon as each WAV is on disk.
- Cancel (``request.cancel``) is checked at every step: the step raises
  ``core.errors.CancelledError`` (returning True from a StoppingCriteria
  mid-way crashes generate), and any clip already written by this call is
  deleted.

Where the code is: loading and the loaded checkpoint's numbers in
``musicgen_loading``, the decoder-step plumbing in ``musicgen_decoding``,
extend in ``musicgen_extend``; batches and continuation here.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import audio_duration, read_audio, resample, write_wav_atomic
from core.errors import (
    AudioFileError,
    CancelledError,
    GenerationFailedError,
)
from core.providers import _runs, _torch
from core.providers.base import (
    GeneratedClip,
    GenerationRequest,
    ReferenceClip,
    check_batch_args,
    check_cancel,
    clip_seed,
)
from core.providers.musicgen_decoding import _as_criteria, _prefill_once, _static_cache, _StepWatch
from core.providers.musicgen_extend import MusicGenExtend

# loaded_from is re-exported: bench/engines.py takes it from here.
from core.providers.musicgen_loading import (  # noqa: F401
    LABEL,
    MODEL_TYPES,
    NAME,
    REQUIRED_PACKAGES,
    LoadedMusicgen,
    MusicGenLoading,
    capabilities_of,
    loaded_from,
)
from core.settings import Settings

log = logging.getLogger(__name__)

# Seconds of each reference given to the model as the start to continue from.
CONTINUATION_PROMPT_SEC = 3.0


class MusicGenProvider(MusicGenLoading, MusicGenExtend):
    """MusicProvider over transformers' MusicgenForConditionalGeneration."""

    name = NAME

    def __init__(self, settings: Settings, location: _torch.ModelLocation, device: str) -> None:
        self.settings = settings
        self.location = location
        self.model: str | None = location.model
        self.device_setting = device
        self.capabilities = capabilities_of(location.config)
        # Seconds spent in each part of the last generate_batch call (see bench/musicgen.py).
        self.last_timings: dict[str, float] = {}
        # None: float16 on CUDA, float32 elsewhere; or "float16" / "float32" / "bfloat16".
        self.dtype: str | None = None
        self._half_failed = False  # float16 gave NaNs once: float32 from then on
        # Why the last batch has fewer clips than asked (e.g. out of memory), else None.
        self.last_warning: str | None = None
        # "static": one preallocated key/value cache per call (see "Step cost"); "dynamic": transformers' default.
        self.kv_cache = "static"
        # Seconds of each decoder step of the last generate call (the first step includes the prompt's pass).
        self.last_step_sec: list[float] = []

    # -- generating --------------------------------------------------------------

    def generate_batch(
        self,
        prompt: str,
        num_clips: int,
        duration_sec: float,
        request: GenerationRequest | None = None,
    ) -> list[GeneratedClip]:
        request = request or GenerationRequest()
        check_batch_args(num_clips, duration_sec)
        check_cancel(request.cancel)
        started = time.perf_counter()
        timings = {"load": 0.0, "prepare": 0.0, "generate": 0.0, "decode": 0.0, "write": 0.0}
        self.last_timings = timings
        self.last_warning = None

        loaded = self.load(request.progress)
        timings["load"] = time.perf_counter() - started
        check_cancel(request.cancel)

        out_dir = (
            Path(request.out_dir) if request.out_dir else Path(tempfile.mkdtemp(prefix="sessionlab-mg-"))
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        target = int(round(duration_sec * loaded.sampling_rate))
        # Codec frames that cover the target, one spare, plus the codebook delay pattern.
        frames = math.ceil(target / loaded.hop_length) + 1
        max_new_tokens = frames + loaded.num_codebooks - 1
        continued = self._continuation_prompts(request.references, loaded)
        prompts = [samples for _, samples in continued]
        prompt_samples = prompts[0].shape[-1] if prompts else 0

        chunk_size = self.settings.musicgen_max_batch
        counter = _runs.ChunkedSteps(
            num_clips,
            chunk_size,
            max_new_tokens,
            request.progress,
            who=LABEL,
            size_setting="musicgen_max_batch",
        )
        chunks, on_step = counter.chunks, counter.step

        batch_tag = uuid.uuid4().hex[:8]
        clips: list[GeneratedClip] = []
        try:
            for chunk_index, (start, count) in enumerate(chunks):
                check_cancel(request.cancel)
                seed = clip_seed(request.seed, start)
                try:
                    audio, loaded = self._generate_chunk(
                        loaded, prompt, count, start, seed, max_new_tokens, prompts, request, on_step, timings
                    )
                except CancelledError:
                    raise
                except Exception as exc:
                    if counter.failed(chunk_index, exc, device=loaded.device):
                        break  # out of memory: the next chunk is as large
                    continue
                write_started = time.perf_counter()
                for row in range(count):
                    index = start + row
                    samples = audio[row, :, prompt_samples : prompt_samples + target]
                    if samples.shape[-1] < target:  # never expected; keep the promised length
                        samples = np.pad(samples, ((0, 0), (0, target - samples.shape[-1])))
                    path = out_dir / f"musicgen-{batch_tag}-{index:02d}.wav"
                    write_wav_atomic(
                        path, samples.T if loaded.channels > 1 else samples[0], loaded.sampling_rate
                    )
                    reference = continued[index % len(continued)][0] if continued else None
                    clip = GeneratedClip(
                        audio_path=path,
                        duration_sec=audio_duration(path),
                        raw_prompt=prompt,
                        seed=clip_seed(request.seed, index),
                        recipe={
                            "engine": NAME,
                            "model": self.location.model,
                            "batch_seed": request.seed,
                            "torch_seed": seed,
                            "chunk_start": start,
                            "chunk_size": count,
                            "row": row,
                            "max_batch": chunk_size,
                            "duration_sec": duration_sec,
                            "max_new_tokens": max_new_tokens,
                            "guidance_scale": self.settings.musicgen_guidance_scale,
                            "device": loaded.device,
                            "dtype": loaded.dtype,
                            "sampling_rate": loaded.sampling_rate,
                            "reference": str(reference.audio_path) if reference is not None else None,
                            "prompt_sec": prompt_samples / loaded.sampling_rate,
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
        self.last_warning = counter.outcome(len(clips))
        return clips

    def _generate_chunk(
        self,
        loaded: LoadedMusicgen,
        prompt: str,
        count: int,
        start: int,
        seed: int,
        max_new_tokens: int,
        prompts: list[np.ndarray],
        request: GenerationRequest,
        on_step: Any,
        timings: dict[str, float],
    ) -> tuple[np.ndarray, LoadedMusicgen]:
        """One batched generate call for ``count`` clips: audio (count, channels, samples) and the model used.

        A float16 model whose output has NaNs is dropped for the rest of the
        process and the chunk is made again, same seed, in float32.
        """
        import torch

        for attempt in range(2):
            prepare_started = time.perf_counter()
            inputs = self._inputs(loaded, prompt, count, start, prompts)
            watch = _StepWatch(request.cancel, on_step if attempt == 0 else (lambda: None))
            timings["prepare"] += time.perf_counter() - prepare_started
            generate_started = time.perf_counter()
            with loaded.lock:
                torch.manual_seed(seed)
                guidance = self.settings.musicgen_guidance_scale
                cache = {}
                if self.kv_cache == "static":
                    prompt_frames = prompts[0].shape[-1] // loaded.hop_length if prompts else 0
                    cache["cache"] = _static_cache(loaded, prompt_frames, max_new_tokens)
                with _prefill_once(loaded.model):
                    output = loaded.model.generate(
                        **inputs,
                        **cache,
                        do_sample=True,
                        guidance_scale=guidance if guidance > 1 else None,
                        max_new_tokens=max_new_tokens,
                        stopping_criteria=_as_criteria(watch),
                    )
            finished = time.perf_counter()
            self.last_step_sec = list(np.diff([generate_started, *watch.step_ends]))
            last_step = watch.last_step_at or finished
            timings["generate"] += last_step - generate_started
            timings["decode"] += finished - last_step
            audio = output.detach().to("cpu", dtype=torch.float32).numpy()
            if np.isfinite(audio).all():
                return audio, loaded
            if loaded.dtype != "float16" or attempt > 0:
                raise GenerationFailedError(f"{LABEL} produced invalid audio (NaN) even in float32.")
            log.warning("musicgen float16 output has NaNs; making the chunk again in float32")
            self._half_failed = True
            _torch.forget(self._load_key(loaded.device, loaded.dtype))
            del output
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            loaded = self.load(None, dtype="float32")
        raise AssertionError("unreachable")

    def _inputs(
        self, loaded: LoadedMusicgen, prompt: str, count: int, start: int, prompts: list[np.ndarray]
    ) -> dict[str, Any]:
        # Tokenizer and feature extractor are called directly: the processor's
        # joint call passes text-only kwargs to the feature extractor on some
        # transformers releases.
        processor = loaded.processor
        tokenizer = getattr(processor, "tokenizer", processor)
        inputs = dict(tokenizer([prompt] * count, return_tensors="pt", padding=True))
        if prompts:
            rows = [prompts[(start + row) % len(prompts)] for row in range(count)]
            audio = processor.feature_extractor(
                [r if loaded.channels > 1 else r[0] for r in rows],
                sampling_rate=loaded.sampling_rate,
                return_tensors="pt",
            )
            inputs["input_values"] = audio["input_values"]
            if "padding_mask" in audio:
                inputs["padding_mask"] = audio["padding_mask"]
        model_dtype = loaded.model.dtype
        return {
            key: (
                value.to(loaded.device, dtype=model_dtype)
                if key == "input_values"
                else value.to(loaded.device)
            )
            for key, value in inputs.items()
        }

    def _continuation_prompts(
        self, references: Any, loaded: LoadedMusicgen
    ) -> list[tuple[ReferenceClip, np.ndarray]]:
        """Each readable reference with its end as (channels, samples), all of one length in whole frames."""
        clips: list[tuple[ReferenceClip, np.ndarray]] = []
        for reference in references or ():
            try:
                samples, rate = read_audio(reference.audio_path, mono=loaded.channels == 1)
            except AudioFileError as exc:
                log.warning("skipping reference %s: %s", reference.audio_path, exc)
                continue
            samples = resample(samples, rate, loaded.sampling_rate)
            if samples.ndim == 1:
                samples = samples[None, :]
            else:
                samples = samples.T
                if samples.shape[0] != loaded.channels:
                    samples = np.repeat(samples.mean(axis=0, keepdims=True), loaded.channels, axis=0)
            if loaded.channels > 1 and samples.shape[0] == 1:
                samples = np.repeat(samples, loaded.channels, axis=0)
            clips.append((reference, samples.astype(np.float32)))
        if not clips:
            if references:
                log.warning("no reference clip could be read; generating from the prompt alone")
            return []
        wanted = int(CONTINUATION_PROMPT_SEC * loaded.sampling_rate)
        length = min(wanted, *(c.shape[-1] for _, c in clips))
        length -= length % loaded.hop_length
        if length < loaded.hop_length:
            log.warning("reference clips are too short to continue; generating from the prompt alone")
            return []
        return [(reference, c[:, -length:]) for reference, c in clips]


def create(settings: Settings, model: str | None = None) -> MusicGenProvider:
    """Check, offline and without importing torch, that MusicGen can run here; load nothing yet."""
    _torch.require_packages(NAME, *REQUIRED_PACKAGES)
    device = _torch.check_device("musicgen_device", settings.musicgen_device)
    location = _torch.locate_model(LABEL, model or settings.musicgen_model, MODEL_TYPES)
    return MusicGenProvider(settings, location, device)
