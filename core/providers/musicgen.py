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
  transformers' default (bench/engines.py --compare-dynamic runs both).

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
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import audio_duration, read_audio, resample, write_wav_atomic
from core.errors import (
    AudioFileError,
    CancelledError,
    GenerationFailedError,
    ProviderUnavailableError,
)
from core.providers import _runs, _torch
from core.providers.base import (
    STAGE_LOADING,
    ExtendRequest,
    GeneratedClip,
    GenerationRequest,
    ProgressFn,
    ReferenceClip,
    check_batch_args,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import MUSICGEN, Capabilities
from core.settings import Settings

log = logging.getLogger(__name__)

NAME = "musicgen"
LABEL = "MusicGen"
MODEL_TYPES = ("musicgen",)
REQUIRED_PACKAGES = ("torch", "transformers", "huggingface_hub")
# Seconds of each reference given to the model as the start to continue from.
CONTINUATION_PROMPT_SEC = 3.0


@dataclass
class LoadedMusicgen:
    model: Any
    processor: Any
    device: str
    dtype: str  # "float16" | "float32"
    sampling_rate: int
    frame_rate: float
    hop_length: int  # audio samples per codec frame
    num_codebooks: int
    channels: int
    lock: threading.Lock = field(default_factory=threading.Lock)


class _StepWatch:
    """A transformers StoppingCriteria: progress and cancel, once per decoder step."""

    def __init__(
        self,
        cancel: threading.Event | None,
        on_step: Any,
    ) -> None:
        self.cancel = cancel
        self.on_step = on_step
        self.steps = 0
        self.last_step_at: float | None = None
        self.step_ends: list[float] = []  # perf_counter() at the end of each step

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        self.steps += 1
        self.last_step_at = time.perf_counter()
        self.step_ends.append(self.last_step_at)
        if self.cancel is not None and self.cancel.is_set():
            raise CancelledError("Generation was cancelled.")
        self.on_step()
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def _as_criteria(watch: _StepWatch) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Criteria(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return watch(input_ids, scores, **kwargs)

    return StoppingCriteriaList([_Criteria()])


class MusicGenProvider:
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

    # -- loading -----------------------------------------------------------------

    def _load_key(self, device: str, dtype: str) -> tuple[Any, ...]:
        return (NAME, self.location.ref, device, dtype)

    def load(self, progress: ProgressFn | None = None, *, dtype: str | None = None) -> LoadedMusicgen:
        """Load (or fetch the already loaded) model and processor, with STAGE_LOADING progress."""
        if progress is not None:
            progress(STAGE_LOADING, 0, 1)
        device = _torch.resolve_device(self.device_setting)
        if dtype is None:
            dtype = self.dtype or ("float16" if device.startswith("cuda") else "float32")
            if dtype == "float16" and self._half_failed:
                dtype = "float32"
        loaded, _ = _torch.load_once(self._load_key(device, dtype), lambda: self._load(device, dtype))
        if progress is not None:
            progress(STAGE_LOADING, 1, 1)
        return loaded

    def _load(self, device: str, dtype: str) -> LoadedMusicgen:
        import torch
        from transformers import AutoProcessor, MusicgenForConditionalGeneration

        _torch.quiet_transformers()
        kwargs = self.location.pretrained_kwargs()
        try:
            model = MusicgenForConditionalGeneration.from_pretrained(
                self.location.ref, **kwargs, **_torch.dtype_kwargs(getattr(torch, dtype))
            )
            processor = AutoProcessor.from_pretrained(self.location.ref, **kwargs)
        except (OSError, ValueError, KeyError) as exc:
            raise ProviderUnavailableError(
                f"{LABEL} model {self.location.model} could not be loaded ({_torch.first_line(exc)}); "
                "download it again or pass another --model."
            ) from None
        try:
            model.to(device)
        except (RuntimeError, MemoryError) as exc:
            raise _torch.load_failure(exc, LABEL, self.location.model, device, "musicgen_device") from None
        return loaded_from(model, processor, device, dtype)

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

    # -- extend (windowed continuation) --------------------------------------------

    def extend_clip(self, request: ExtendRequest) -> GeneratedClip:
        """The source continued to ``request.to_sec`` window by window (``core.windowed``).

        Like audiocraft's extend stride: each window is prompted with the end of
        what is made so far (``window - stride`` seconds of it, in whole codec
        frames) and adds ``stride`` seconds; MusicGen's output starts with its own
        decoding of the prompt, whose last ``overlap`` seconds are crossfaded with
        the clip's. Window ``w`` runs after ``torch.manual_seed(clip_seed(seed, w))``.
        """
        check_cancel(request.cancel)
        loaded = self.load(request.progress)
        rate, hop = loaded.sampling_rate, loaded.hop_length
        try:
            samples, source_rate = read_audio(request.source.audio_path, mono=loaded.channels == 1)
        except AudioFileError as exc:
            raise GenerationFailedError(f"{LABEL} cannot read the clip to extend: {exc}") from None
        samples = resample(samples, source_rate, rate)
        source = samples[None, :] if samples.ndim == 1 else samples.T
        if source.shape[0] != loaded.channels:
            source = np.repeat(source.mean(axis=0, keepdims=True), loaded.channels, axis=0)
        # One window: what the model makes in one call (its trained context, or fewer
        # positions in a small checkpoint), in whole codec frames.
        positions = int(getattr(loaded.model.decoder.config, "max_position_embeddings", 0) or 0)
        frames = int(self.capabilities.longest_sec * loaded.frame_rate)
        if positions:
            frames = min(frames, positions - loaded.num_codebooks - 2)
        window = frames * hop
        stride = int(round(request.stride_sec * rate))
        overlap = int(round(request.overlap_sec * rate))
        timings: dict[str, float] = {"prepare": 0.0, "generate": 0.0, "decode": 0.0}
        quiet = GenerationRequest(cancel=request.cancel)

        def continue_window(context: np.ndarray, new: int, index: int) -> np.ndarray:
            kept = context.shape[-1] - context.shape[-1] % hop  # whole frames, from the end
            prompts = [context[:, context.shape[-1] - kept :]] if kept else []
            max_new_tokens = math.ceil(new / hop) + 1 + loaded.num_codebooks - 1
            audio, _ = self._generate_chunk(
                loaded,
                request.prompt,
                1,
                0,
                clip_seed(request.seed, index),
                max_new_tokens,
                prompts,
                quiet,
                lambda: check_cancel(request.cancel),
                timings,
            )
            return audio[0, :, : kept + new]

        return _runs.extended_clip(
            name=NAME,
            who=LABEL,
            model=self.location.model,
            request=request,
            source=source,
            rate=rate,
            window=window,
            stride=stride,
            overlap=overlap,
            continue_fn=continue_window,
            device=loaded.device,
            dtype=loaded.dtype,
            recipe={"guidance_scale": self.settings.musicgen_guidance_scale},
        )


def capabilities_of(config: dict[str, Any]) -> Capabilities:
    """MusicGen's declaration, with the rate and channels of this checkpoint's config.json."""
    audio = config.get("audio_encoder") or {}
    decoder = config.get("decoder") or {}
    rate = audio.get("sampling_rate")
    channels = decoder.get("audio_channels")
    return MUSICGEN.with_changes(
        sample_rate=int(rate) if isinstance(rate, int) and rate > 0 else MUSICGEN.sample_rate,
        channels=int(channels) if isinstance(channels, int) and channels > 0 else MUSICGEN.channels,
    )


@contextlib.contextmanager
def _prefill_once(model: Any) -> Any:
    """Run the decoder's prefill once per generate call.

    transformers 5.x's ``MusicgenForConditionalGeneration.generate`` runs
    ``_prefill`` itself, drops the result, and then ``_sample`` runs it again on
    the same inputs. With the decoder's own throw-away cache that only wastes a
    pass over the prompt; with a cache passed in, the second pass would append
    the prompt to it a second time. Here the second call on the same inputs and
    cache gets the first call's outputs. Where a transformers release prefills
    once, nothing is ever reused.
    """
    real = getattr(type(model), "_prefill", None)
    if real is None:
        yield
        return
    last: list[Any] = []  # [(inputs' id, cache's id), outputs] of the prefill just run, once

    def prefill(input_ids: Any, generation_config: Any, model_kwargs: Any, *args: Any, **kwargs: Any) -> Any:
        key = (id(input_ids), id(model_kwargs.get("cache")))
        if last and last[0] == key:
            outputs = last[1]
            last.clear()  # reused once only
            return outputs
        outputs = real(model, input_ids, generation_config, model_kwargs, *args, **kwargs)
        last[:] = [key, outputs]
        return outputs

    model._prefill = prefill
    try:
        yield
    finally:
        del model._prefill


def _static_cache(loaded: LoadedMusicgen, prompt_frames: int, max_new_tokens: int) -> Any:
    """A key/value cache for one generate call, preallocated to the positions the call fills.

    The decoder sees the start token and ``prompt_frames`` codes of audio prompt,
    then feeds back every new token but the last: ``1 + prompt_frames +
    max_new_tokens - 1`` positions, the prefill run once (``_prefill_once``).
    The cross-attention cache (the text, computed once) stays dynamic.
    """
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache, StaticCache

    config = loaded.model.config.decoder
    return EncoderDecoderCache(
        StaticCache(config=config, max_cache_len=prompt_frames + max_new_tokens),
        DynamicCache(config=config),
    )


def loaded_from(model: Any, processor: Any, device: str, dtype: str) -> LoadedMusicgen:
    """Wrap a MusicGen model already on ``device`` (put in eval mode) with the numbers the provider uses."""
    model.eval()
    audio_config = model.config.audio_encoder
    sampling_rate = int(audio_config.sampling_rate)
    hop_length = int(np.prod(audio_config.upsampling_ratios))
    frame_rate = float(getattr(audio_config, "frame_rate", None) or sampling_rate / hop_length)
    return LoadedMusicgen(
        model=model,
        processor=processor,
        device=device,
        dtype=dtype,
        sampling_rate=sampling_rate,
        frame_rate=frame_rate,
        hop_length=hop_length,
        num_codebooks=int(model.config.decoder.num_codebooks),
        channels=int(getattr(model.config.decoder, "audio_channels", 1) or 1),
    )


def create(settings: Settings, model: str | None = None) -> MusicGenProvider:
    """Check, offline and without importing torch, that MusicGen can run here; load nothing yet."""
    _torch.require_packages(NAME, *REQUIRED_PACKAGES)
    device = _torch.check_device("musicgen_device", settings.musicgen_device)
    location = _torch.locate_model(LABEL, model or settings.musicgen_model, MODEL_TYPES)
    return MusicGenProvider(settings, location, device)
