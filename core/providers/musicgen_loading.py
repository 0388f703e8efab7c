"""Loading MusicGen (``core.providers.musicgen``): the model and processor, once per process
and keyed by model, device and dtype, and the numbers of a loaded checkpoint the provider uses."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import ProviderUnavailableError
from core.providers import _torch
from core.providers.base import STAGE_LOADING, ProgressFn
from core.providers.capabilities import MUSICGEN, Capabilities

NAME = "musicgen"
LABEL = "MusicGen"
MODEL_TYPES = ("musicgen",)
REQUIRED_PACKAGES = ("torch", "transformers", "huggingface_hub")


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


class MusicGenLoading:
    """The loading methods of MusicGenProvider (it holds ``location``, ``device_setting``,
    ``dtype`` and ``_half_failed``)."""

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
