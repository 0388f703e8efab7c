"""Stable Audio through diffusers: Stable Audio 3 on a CUDA GPU, Stable Audio Open on a CPU.

The model: ``stable_audio_model`` or ``--model`` (any hub id or directory); when
unset, ``stabilityai/stable-audio-3-medium`` where a CUDA GPU is visible and
``stabilityai/stable-audio-open-small`` elsewhere (the first of them that is in
the cache). The pipeline class follows the model's ``model_index.json``:
``StableAudio3Pipeline`` (or its audio-to-audio / inpaint siblings, which load
the same components) or ``StableAudioPipeline`` (Stable Audio Open 1.0 and
Small).

More like this:
- Stable Audio 3: a true variation of each reference clip (clip i varies
  reference i mod k) through ``StableAudio3AudioToAudioPipeline``, which
  shares the loaded components. ``init_noise_level`` follows the
  ``variation_strength`` setting: close 0.3 ... loose 0.9.
- Stable Audio Open has no audio-to-audio: its ``initial_audio_waveforms``
  only adds the encoded audio to noise at the sampler's full noise level, where
  it is drowned. It makes the brief again with new seeds and the similarity
  filter keeps the clips near the cluster; its capabilities say so
  (``more_like == "prompt"``).

Everything else (chunks, seeds, progress, cancel, out of memory, lengths) is
``core.providers._diffusers``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.errors import ProviderUnavailableError, ValidationError
from core.providers import _diffusers, _torch, diffusers_loading
from core.providers.base import (
    ExtendRequest,
    GeneratedClip,
    GenerationRequest,
    ProgressFn,
)
from core.providers.capabilities import (
    STABLE_AUDIO_3,
    STABLE_AUDIO_OPEN,
    Capabilities,
    chosen_strength,
    strength_fraction,
)
from core.settings import Settings

NAME = "stable-audio"
LABEL = "Stable Audio"
SA3_MEDIUM = "stabilityai/stable-audio-3-medium"
OPEN_SMALL = "stabilityai/stable-audio-open-small"
SA3_CLASSES = ("StableAudio3Pipeline", "StableAudio3AudioToAudioPipeline", "StableAudio3InpaintPipeline")
OPEN_CLASSES = ("StableAudioPipeline",)
# Checkpoints too large to be of use without a CUDA GPU.
CUDA_ONLY = ("stabilityai/stable-audio-3-medium", "stabilityai/stable-audio-3-medium-base")
NOISE_CLOSE, NOISE_LOOSE = 0.3, 0.9


def capabilities_of(location: diffusers_loading.PipelineLocation) -> Capabilities:
    """What this checkpoint can do, from its JSON files (offline)."""
    vae = location.config("vae")
    rate = int(vae.get("sampling_rate") or 44_100)
    channels = int(vae.get("audio_channels") or 2)
    if location.class_name in OPEN_CLASSES:
        hop = math.prod(vae.get("downsampling_ratios") or [2048])
        frames = int(location.config("transformer").get("sample_size") or 1024)
        return STABLE_AUDIO_OPEN.with_changes(
            sample_rate=rate, channels=channels, longest_sec=round(frames * hop / rate, 2)
        )
    longest = float(location.config("duration_embedder").get("max_val") or STABLE_AUDIO_3.longest_sec)
    # Inpainting (extend) feeds the DiT the mask and the masked latents: a checkpoint
    # built without that pathway cannot extend.
    transformer = location.config("transformer")
    latent = int(vae.get("latent_dim") or transformer.get("io_channels") or 0)
    can_inpaint = int(transformer.get("local_add_cond_dim") or 0) == latent + 1
    return STABLE_AUDIO_3.with_changes(
        sample_rate=rate,
        channels=channels,
        longest_sec=longest,
        needs_cuda=location.model in CUDA_ONLY,
        extend_sec=STABLE_AUDIO_3.extend_sec if can_inpaint else 0.0,
    )


def _rate_and_channels(pipe: Any) -> tuple[int, int]:
    return int(pipe.vae.config.sampling_rate), int(pipe.vae.config.audio_channels)


class StableAudioProvider:
    """MusicProvider over diffusers' Stable Audio 3 and Stable Audio Open pipelines."""

    name = NAME

    def __init__(self, settings: Settings, location: diffusers_loading.PipelineLocation, device: str) -> None:
        self.settings = settings
        self.location = location
        self.model: str | None = location.model
        self.device_setting = device
        self.capabilities = capabilities_of(location)
        self.is_open = location.class_name in OPEN_CLASSES
        self.dtype: str | None = None  # None: half precision on CUDA, float32 elsewhere
        self.last_timings: dict[str, float] = {}
        self.last_warning: str | None = None

    def load(self, progress: ProgressFn | None = None) -> diffusers_loading.LoadedPipeline:
        device = _torch.resolve_device(self.device_setting)
        if self.capabilities.needs_cuda and not device.startswith("cuda"):
            raise ProviderUnavailableError(
                f"{self.location.model} needs a CUDA GPU and this machine runs on {device}; set "
                f"stable_audio_model to {OPEN_SMALL} here."
            )
        return diffusers_loading.load_pipeline(
            LABEL,
            self.location,
            self.device_setting,
            progress,
            dtype=self.dtype,
            rate_and_channels=_rate_and_channels,
        )

    def steps(self, pipe: Any) -> int:
        """Denoising steps: the setting, else the model's own default."""
        if self.settings.diffusers_steps:
            return self.settings.diffusers_steps
        if self.is_open:  # Open Small is distilled for 8 steps; Open 1.0 wants 100
            return 8 if "small" in self.location.model.lower() else 100
        # Stable Audio 3: 8 ping-pong steps for the distilled checkpoint, 100 Euler steps for the base.
        return 8 if pipe.scheduler.config.get("stochastic_sampling") else 100

    def noise_level(self, asked: str | None = None) -> float:
        """``init_noise_level`` for ``asked`` (a call's own strength), else the setting's."""
        fraction = strength_fraction(chosen_strength(asked, self.settings))
        return NOISE_CLOSE + (NOISE_LOOSE - NOISE_CLOSE) * fraction

    def generate_batch(
        self,
        prompt: str,
        num_clips: int,
        duration_sec: float,
        request: GenerationRequest | None = None,
    ) -> list[GeneratedClip]:
        request, loaded, references = _diffusers.prepare_batch(
            self, self.location.model, request, num_clips, duration_sec
        )
        pipe = loaded.pipe
        import torch

        steps = self.steps(pipe)
        level = self.noise_level(request.strength)

        def call(seeds: list[int], rows: list[int], watch: _diffusers.StepWatch) -> np.ndarray:
            prompts = [prompt] * len(seeds)
            generator = _diffusers.generators(seeds)
            if self.is_open:
                out = pipe(
                    prompts,
                    audio_end_in_s=duration_sec,
                    num_inference_steps=steps,
                    generator=generator,
                    callback=watch.legacy,
                    callback_steps=1,
                ).audios
            elif references:
                variation = loaded.extra.get("a2a")
                if variation is None:
                    from diffusers import StableAudio3AudioToAudioPipeline

                    variation = StableAudio3AudioToAudioPipeline(**pipe.components)
                    variation.set_progress_bar_config(disable=True)
                    loaded.extra["a2a"] = variation
                audio = np.stack([references[index % len(references)][1] for index in rows])
                out = variation(
                    prompts,
                    duration=duration_sec,
                    audio=torch.from_numpy(audio).to(loaded.device),
                    init_noise_level=level,
                    num_inference_steps=steps,
                    generator=generator,
                    callback_on_step_end=watch.on_step_end,
                ).audios
            else:
                out = pipe(
                    prompts,
                    duration=duration_sec,
                    num_inference_steps=steps,
                    generator=generator,
                    callback_on_step_end=watch.on_step_end,
                ).audios
            return _diffusers.as_numpy(out)

        fields = {"steps": steps}
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
            variation={"init_noise_level": level},
        )

    def extend_clip(self, request: ExtendRequest) -> GeneratedClip:
        """Stable Audio 3: the clip continued by inpainting past its end (core.providers.diffusers_extend)."""
        from core.providers import diffusers_extend

        if not self.capabilities.extend_sec:
            raise ValidationError(f"{self.location.model} cannot extend clips (it has no inpainting).")

        def call(
            loaded: Any, audio: np.ndarray, start: float, total: float, seed: int, watch: Any
        ) -> np.ndarray:
            import torch

            inpaint = loaded.extra.get("inpaint")
            if inpaint is None:
                from diffusers import StableAudio3InpaintPipeline

                inpaint = StableAudio3InpaintPipeline(**loaded.pipe.components)
                inpaint.set_progress_bar_config(disable=True)
                loaded.extra["inpaint"] = inpaint
            out = inpaint(
                [request.prompt],
                duration=total,
                audio=torch.from_numpy(audio[None]).to(loaded.device),
                mask_start_seconds=start,
                mask_end_seconds=total,
                num_inference_steps=self.steps(loaded.pipe),
                generator=_diffusers.generators([seed]),
                callback_on_step_end=watch.on_step_end,
            ).audios
            return _diffusers.as_numpy(out)[0]

        return diffusers_extend.extend_clip(self, request, name=NAME, label=LABEL, mode="inpaint", call=call)


def default_models(device_setting: str) -> list[str]:
    """The models to try when none is set, best first for this machine."""
    cuda = device_setting.startswith("cuda") or (
        device_setting == "auto" and diffusers_loading.nvidia_visible()
    )
    return [SA3_MEDIUM, OPEN_SMALL] if cuda else [OPEN_SMALL]


def create(settings: Settings, model: str | None = None) -> StableAudioProvider:
    """Check, offline and without importing torch, that Stable Audio can run here; load nothing yet."""
    _torch.require_packages(NAME, *diffusers_loading.REQUIRED_PACKAGES)
    device = _torch.check_device("diffusers_device", settings.diffusers_device)
    chosen = (model or settings.stable_audio_model or "").strip()
    if not chosen:
        candidates = default_models(device)
        chosen = next(
            (m for m in candidates if diffusers_loading.find_pipeline(m) is not None), candidates[0]
        )
    location = diffusers_loading.locate_pipeline(LABEL, chosen, SA3_CLASSES + OPEN_CLASSES)
    scheduler = location.components().get("scheduler", ("", ""))[1]
    if scheduler == "CosineDPMSolverMultistepScheduler":  # Stable Audio Open's own sampler
        _torch.require_packages(NAME, "torchsde")
    return StableAudioProvider(settings, location, device)
