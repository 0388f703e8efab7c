"""ACE-Step 1.5 through diffusers' ``AceStepPipeline``: stereo 48 kHz, tempo, key and lyrics as inputs.

The model: ``ace_step_model`` or ``--model`` (any hub id or directory whose
``model_index.json`` names ``AceStepPipeline``).

- From scratch: ``task_type="text2music"``.
- More like this: ``task_type="cover"`` with each reference clip as the source
  audio (clip i covers reference i mod k), ``audio_cover_strength`` from the
  ``variation_strength`` setting (close 1.0 ... loose 0.2: lower blends in more
  of the text-only prediction). Only checkpoints that ship the audio tokenizer
  and detokenizer can cover; the capabilities of the others say "prompt".
- Tempo, key, time signature and lyrics: read from the brief's parameters when
  it has them (``bpm``, ``key``, ``time_signature``, ``lyrics`` attributes of
  ``request.params``) and passed as the pipeline's own ``bpm``, ``keyscale``,
  ``timesignature`` and ``lyrics`` inputs.

The output is peak-normalised to -1 dBFS by the pipeline, as the reference
implementation does. Everything else (chunks, seeds, progress, cancel, out of
memory, lengths) is ``core.providers._diffusers``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.providers import _diffusers, _torch, diffusers_loading
from core.providers.base import (
    ExtendRequest,
    GeneratedClip,
    GenerationRequest,
    ProgressFn,
)
from core.providers.capabilities import ACE_STEP, Capabilities, chosen_strength, strength_fraction
from core.settings import Settings

NAME = "ace-step"
LABEL = "ACE-Step"
CLASSES = ("AceStepPipeline",)
COVER_CLOSE, COVER_LOOSE = 1.0, 0.2
DEFAULT_STEPS = 8  # the turbo checkpoints' schedule


def capabilities_of(location: diffusers_loading.PipelineLocation) -> Capabilities:
    vae = location.config("vae")
    components = location.components()
    can_cover = "audio_tokenizer" in components and "audio_token_detokenizer" in components
    return ACE_STEP.with_changes(
        sample_rate=int(vae.get("sampling_rate") or 48_000),
        channels=int(vae.get("audio_channels") or 2),
        variation=can_cover,
        variation_strength=can_cover,
        more_like="variation" if can_cover else "prompt",
    )


def brief_inputs(params: Any) -> dict[str, Any]:
    """The pipeline's tempo, key, time signature and lyrics inputs from the brief's parameters (if any)."""
    inputs: dict[str, Any] = {}
    bpm = getattr(params, "bpm", None)
    if bpm is not None:
        inputs["bpm"] = int(round(float(bpm)))
    key = getattr(params, "key", None)
    if key:
        inputs["keyscale"] = str(key)
    meter = getattr(params, "time_signature", None)
    if meter:
        inputs["timesignature"] = str(meter).split("/")[0]  # "3/4" -> "3", as ACE-Step writes it
    lyrics = getattr(params, "lyrics", None)
    if lyrics:
        inputs["lyrics"] = str(lyrics)
    return inputs


def _rate_and_channels(pipe: Any) -> tuple[int, int]:
    return int(pipe.sample_rate), int(pipe.vae.config.audio_channels)


class AceStepProvider:
    """MusicProvider over diffusers' AceStepPipeline."""

    name = NAME

    def __init__(self, settings: Settings, location: diffusers_loading.PipelineLocation, device: str) -> None:
        self.settings = settings
        self.location = location
        self.model: str | None = location.model
        self.device_setting = device
        self.capabilities = capabilities_of(location)
        self.dtype: str | None = None
        self.last_timings: dict[str, float] = {}
        self.last_warning: str | None = None

    def load(self, progress: ProgressFn | None = None) -> diffusers_loading.LoadedPipeline:
        return diffusers_loading.load_pipeline(
            LABEL,
            self.location,
            self.device_setting,
            progress,
            dtype=self.dtype,
            rate_and_channels=_rate_and_channels,
        )

    def cover_strength(self, asked: str | None = None) -> float:
        """``audio_cover_strength`` for ``asked`` (a call's own strength), else the setting's."""
        fraction = strength_fraction(chosen_strength(asked, self.settings))
        return COVER_CLOSE + (COVER_LOOSE - COVER_CLOSE) * fraction

    def generate_batch(
        self,
        prompt: str,
        num_clips: int,
        duration_sec: float,
        request: GenerationRequest | None = None,
    ) -> list[GeneratedClip]:
        request, loaded, references = _diffusers.prepare_batch(self, LABEL, request, num_clips, duration_sec)
        pipe = loaded.pipe
        import torch

        steps = self.settings.diffusers_steps or DEFAULT_STEPS
        strength = self.cover_strength(request.strength)
        inputs = brief_inputs(request.params)

        def call(seeds: list[int], rows: list[int], watch: _diffusers.StepWatch) -> np.ndarray:
            count = len(seeds)
            kwargs: dict[str, Any] = {
                "prompt": [prompt] * count,
                "audio_duration": duration_sec,
                "num_inference_steps": steps,
                "generator": _diffusers.generators(seeds),
                "callback_on_step_end": watch.on_step_end,
                **{k: v for k, v in inputs.items() if k != "lyrics"},
                "lyrics": [inputs.get("lyrics", "")] * count,
            }
            if references:
                audio = np.stack([references[index % len(references)][1] for index in rows])
                kwargs.update(
                    task_type="cover",
                    src_audio=torch.from_numpy(audio).to(loaded.device),
                    audio_cover_strength=strength,
                )
            return _diffusers.as_numpy(pipe(**kwargs).audios)

        fields = {"steps": steps, "task_type": "cover" if references else "text2music", **inputs}
        return _diffusers.run_batch(
            self,
            label=LABEL,
            loaded=loaded,
            call=call,
            prompt=prompt,
            num_clips=num_clips,
            duration_sec=duration_sec,
            request=request,
            fields=fields,
            references=references,
            variation={"audio_cover_strength": strength},
        )

    def extend_clip(self, request: ExtendRequest) -> GeneratedClip:
        """ACE-Step: the clip continued by repainting past its end (core.providers.diffusers_extend)."""
        from core.providers import diffusers_extend

        steps = self.settings.diffusers_steps or DEFAULT_STEPS
        inputs = brief_inputs(request.params)

        def call(
            loaded: Any, audio: np.ndarray, start: float, total: float, seed: int, watch: Any
        ) -> np.ndarray:
            import torch

            torch.manual_seed(seed)  # repaint draws some of its noise outside the generator
            out = loaded.pipe(
                prompt=[request.prompt],
                audio_duration=total,
                num_inference_steps=steps,
                generator=_diffusers.generators([seed]),
                callback_on_step_end=watch.on_step_end,
                task_type="repaint",
                src_audio=torch.from_numpy(audio[None]).to(loaded.device),
                repainting_start=start,
                repainting_end=total,
                **{k: v for k, v in inputs.items() if k != "lyrics"},
                lyrics=[inputs.get("lyrics", "")],
            ).audios
            return _diffusers.as_numpy(out)[0]

        return diffusers_extend.extend_clip(self, request, name=NAME, label=LABEL, mode="repaint", call=call)


def create(settings: Settings, model: str | None = None) -> AceStepProvider:
    """Check, offline and without importing torch, that ACE-Step can run here; load nothing yet."""
    _torch.require_packages(NAME, *diffusers_loading.REQUIRED_PACKAGES)
    device = _torch.check_device("diffusers_device", settings.diffusers_device)
    location = diffusers_loading.locate_pipeline(LABEL, model or settings.ace_step_model, CLASSES)
    return AceStepProvider(settings, location, device)
