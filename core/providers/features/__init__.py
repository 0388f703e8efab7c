"""``features``: the embedded embedder, no model and no weights (numpy only).

Two spaces, one provider:

- ``features-v2`` (``v2.py``, the default): statistics of timbre, motion, spectral
  shape, rhythm, harmony and dynamics, standardised with constants learned on
  real music; level-free and start-free. It has no text side: ``embed_text``
  gives the zero vector, which is similar to nothing.
- ``features-v1`` (``v1.py``): the first descriptor vector, kept so that sessions
  made with it go on working (choose it with ``--embedder-model v1``). Its named
  descriptors (``describe_audio``, ``descriptor_scores``) are what the ``describe``
  namer and the sketch engine's imitation read, whatever the space in use, and its
  ``embed_text`` maps a brief's words to descriptor directions.

Vectors of the two spaces are never compared: each is stored under its space name.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.audio import read_audio
from core.providers.features import v1, v2
from core.providers.features.v1 import (
    CONTRAST_EDGES_HZ,
    DIMENSION,
    FEATURE_NAMES,
    FEATURES,
    GROUP_WEIGHTS,
    TEXT_CUES,
    VECTOR_WEIGHTS,
    Z_CLIP,
    analyse,
    describe_audio,
    descriptor_scores,
    embed_samples,
    standard_scores,
    text_scores,
    tune_allocator,
    vector_from_scores,
)
from core.settings import Settings

__all__ = [
    "CONTRAST_EDGES_HZ",
    "DEFAULT_VERSION",
    "DIMENSION",
    "FEATURE_NAMES",
    "FEATURES",
    "GROUP_WEIGHTS",
    "TEXT_CUES",
    "VECTOR_WEIGHTS",
    "VERSIONS",
    "Z_CLIP",
    "FeatureEmbedder",
    "analyse",
    "create",
    "describe_audio",
    "descriptor_scores",
    "embed_samples",
    "standard_scores",
    "text_scores",
    "tune_allocator",
    "v1",
    "v2",
    "vector_from_scores",
]

VERSIONS = ("v1", "v2")
DEFAULT_VERSION = "v1"

_CACHE_SIZE = 512
_cache: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def _v2_file(path: Path | str) -> np.ndarray:
    """The features-v2 vector of a file, cached by (path, mtime, size) like v1's analysis."""
    path = Path(path)
    try:
        stat = os.stat(path)
        key: tuple[str, int, int] | None = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None  # read_audio raises the readable error
    if key is not None:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                return hit.copy()
    samples, rate = read_audio(path)
    vector = v2.embed_samples(samples, rate)
    if key is not None:
        with _cache_lock:
            _cache[key] = vector
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return vector.copy()


class FeatureEmbedder:
    """The embedded embedding provider (``EmbeddingProvider``), in the space of ``version``."""

    name = "features"

    def __init__(self, settings: Settings | None = None, version: str | None = None) -> None:
        self.settings = settings
        self.version = version or DEFAULT_VERSION
        if self.version not in VERSIONS:
            raise ValueError(f"unknown features version {self.version!r}")
        self.space = v1.SPACE if self.version == "v1" else v2.SPACE
        self.dimension = v1.DIMENSION if self.version == "v1" else v2.DIMENSION

    def embed_audio(self, audio_path: Path) -> np.ndarray:
        if self.version == "v1":
            raw, _ = v1._analyse_file(audio_path)
            return vector_from_scores(standard_scores(raw))
        return _v2_file(audio_path)

    def embed_text(self, text: str) -> np.ndarray:
        if self.version == "v1":
            return vector_from_scores(text_scores(text))
        return np.zeros(self.dimension, dtype=np.float32)  # v2 has no text side

    def describe(self, audio_path: Path) -> dict[str, float]:
        return describe_audio(audio_path)


def create(settings: Settings, model: str | None = None) -> FeatureEmbedder:
    """Registry factory. ``model`` picks the space: ``v1``/``features-v1`` or ``v2``/``features-v2``."""
    if model:
        version = model.strip().lower().removeprefix("features-")
        if version not in VERSIONS:
            from core.errors import ValidationError
            from core.text import shown

            raise ValidationError(
                f"The features embedder has the versions {', '.join(VERSIONS)}, not {shown(model)!r}."
            )
        return FeatureEmbedder(settings, version)
    return FeatureEmbedder(settings)
