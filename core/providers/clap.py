"""CLAP embeddings through transformers (``laion/larger_clap_music`` by default: trained on music;
``laion/clap-htsat-unfused`` and other CLAP checkpoints load through the same classes).

- Space ``clap:{model}``: vectors from another CLAP checkpoint are another space.
- Audio is read mono, resampled with ``core.audio.resample`` (polyphase) to the
  feature extractor's rate (48 kHz for the real models).
- Deterministic: the extractor crops audio longer than its window (10 s) at a
  random offset, and in "fusion" mode marks a random clip as longer. So the
  audio is cut here into whole windows of the extractor's length (the last one
  aligned with the end of the clip), each window is at most the extractor's
  length (it pads a shorter one by its own rule, e.g. repeat-pad), ``is_longer``
  is given as False, the window embeddings are L2-normalised, averaged and
  normalised again. float32.
- ``get_audio_features`` / ``get_text_features`` return a tensor on
  transformers 4.x and an output object with ``.pooler_output`` on 5.x; both
  are handled.
- The model loads once per process, on the first embedding (or ``load()``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.audio import read_audio, resample
from core.errors import ProviderUnavailableError
from core.providers import _torch
from core.providers.base import STAGE_LOADING, ProgressFn
from core.settings import Settings

log = logging.getLogger(__name__)

NAME = "clap"
LABEL = "CLAP"
MODEL_TYPES = ("clap",)
REQUIRED_PACKAGES = ("torch", "transformers", "huggingface_hub")
# Windows embedded per forward pass (a 30 s clip at 10 s windows is 3).
WINDOWS_PER_PASS = 8


@dataclass
class LoadedClap:
    model: Any
    processor: Any
    device: str
    sampling_rate: int
    window: int  # samples per window at sampling_rate
    fusion: bool  # the audio tower fuses 4 mel views (clap-htsat-fused)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _features(output: Any) -> Any:
    """The embedding tensor from get_*_features on transformers 4.x (tensor) or 5.x (output object)."""
    if hasattr(output, "pooler_output") and not hasattr(output, "shape"):
        return output.pooler_output
    if isinstance(output, tuple):
        return output[1] if len(output) > 1 else output[0]
    return output


def window_starts(length: int, window: int) -> list[int]:
    """Start offsets of whole windows covering ``length`` samples; the last ends at the end."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, window))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def _normalise(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


class ClapEmbedder:
    """EmbeddingProvider over transformers' ClapModel."""

    name = NAME

    def __init__(self, settings: Settings, location: _torch.ModelLocation, device: str) -> None:
        self.settings = settings
        self.location = location
        self.model: str | None = location.model
        self.space = f"clap:{location.ref}"
        self.device_setting = device

    def load(self, progress: ProgressFn | None = None) -> LoadedClap:
        """Load (or fetch the already loaded) model, with STAGE_LOADING progress."""
        if progress is not None:
            progress(STAGE_LOADING, 0, 1)
        device = _torch.resolve_device(self.device_setting)
        loaded, _ = _torch.load_once((NAME, self.location.ref, device), lambda: self._load(device))
        if progress is not None:
            progress(STAGE_LOADING, 1, 1)
        return loaded

    def _load(self, device: str) -> LoadedClap:
        from transformers import AutoProcessor, ClapModel

        _torch.quiet_transformers()
        kwargs = self.location.pretrained_kwargs()
        try:
            model = ClapModel.from_pretrained(self.location.ref, **kwargs)
            processor = AutoProcessor.from_pretrained(self.location.ref, **kwargs)
        except (OSError, ValueError, KeyError) as exc:
            raise ProviderUnavailableError(
                f"{LABEL} model {self.location.model} could not be loaded "
                f"({str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__}); "
                "download it again or pass another --embedder-model."
            ) from None
        model.to(device)
        model.eval()
        extractor = processor.feature_extractor
        rate = int(extractor.sampling_rate)
        window = int(getattr(extractor, "nb_max_samples", 0) or extractor.max_length_s * rate)
        fusion = bool(getattr(model.config.audio_config, "enable_fusion", False))
        return LoadedClap(model, processor, device, rate, window, fusion)

    def embed_audio(self, audio_path: Path) -> np.ndarray:
        import torch

        loaded = self.load()
        samples, rate = read_audio(audio_path)
        samples = resample(samples, rate, loaded.sampling_rate)
        windows = [samples[s : s + loaded.window] for s in window_starts(len(samples), loaded.window)]
        vectors = []
        extractor = loaded.processor.feature_extractor
        for first in range(0, len(windows), WINDOWS_PER_PASS):
            part = windows[first : first + WINDOWS_PER_PASS]
            features = extractor(part, sampling_rate=loaded.sampling_rate, return_tensors="pt")
            input_features = features["input_features"]
            if not loaded.fusion and input_features.shape[1] > 1:
                # A "fusion" extractor stacks 4 copies of a short window's mel; a model
                # without fusion takes one.
                input_features = input_features[:, :1]
            input_features = input_features.to(loaded.device, dtype=loaded.model.dtype)
            is_longer = torch.zeros((len(part), 1), dtype=torch.bool, device=loaded.device)
            with loaded.lock, torch.inference_mode():
                output = loaded.model.get_audio_features(input_features=input_features, is_longer=is_longer)
            vectors.append(_features(output).detach().to("cpu", dtype=torch.float32).numpy())
        stacked = np.concatenate(vectors, axis=0)
        norms = np.linalg.norm(stacked, axis=1, keepdims=True)
        stacked = stacked / np.where(norms > 0, norms, 1.0)
        return _normalise(stacked.mean(axis=0))

    def embed_text(self, text: str) -> np.ndarray:
        import torch

        loaded = self.load()
        tokenizer = getattr(loaded.processor, "tokenizer", loaded.processor)
        inputs = tokenizer([text], return_tensors="pt", padding=True, truncation=True)
        inputs = {key: value.to(loaded.device) for key, value in inputs.items()}
        with loaded.lock, torch.inference_mode():
            output = loaded.model.get_text_features(**inputs)
        vector = _features(output).detach().to("cpu", dtype=torch.float32).numpy()[0]
        return _normalise(vector)


def create(settings: Settings, model: str | None = None) -> ClapEmbedder:
    """Check, offline and without importing torch, that CLAP can run here; load nothing yet."""
    _torch.require_packages(NAME, *REQUIRED_PACKAGES)
    device = _torch.check_device("clap_device", settings.clap_device)
    location = _torch.locate_model(LABEL, model or settings.clap_model, MODEL_TYPES)
    return ClapEmbedder(settings, location, device)
