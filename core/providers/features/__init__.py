"""``features``: the embedded embedder, no model and no weights (numpy only).

Three spaces, one provider:

- ``features-v3`` (``v3.py``, the default): ``v2``'s statistics plus the modulation
  spectrum of the clip's band envelopes and of their onsets (texture and pulse,
  0.5-20 Hz, per register) and its key profile, standardised and weighted with
  constants learned on real music; level-free and start-free. It has no text
  side: ``embed_text`` gives the zero vector, which is similar to nothing.
- ``features-v2`` (``v2.py``): statistics of timbre, motion, spectral shape,
  rhythm, harmony and dynamics, standardised with constants learned on real
  music; level-free and start-free; no text side either. Kept so that sessions
  made with it go on working (``--embedder-model v2``).
- ``features-v1`` (``v1.py``): the first descriptor vector, kept so that sessions
  made with it go on working (choose it with ``--embedder-model v1``). Its named
  descriptors (``describe_audio``, ``descriptor_scores``) are what the ``describe``
  namer and the sketch engine's imitation read, whatever the space in use, and its
  ``embed_text`` maps a brief's words to descriptor directions.

Vectors of different spaces are never compared: each is stored under its space name
(``sessionlab reembed`` moves a session to another).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.audio import read_audio
from core.providers.features import v1, v2, v3
from core.providers.features.v1 import (
    analyse,
    describe_audio,
    descriptor_scores,
    embed_samples,
    standard_scores,
    vector_from_scores,
)
from core.providers.features.v1_bank import tune_allocator
from core.providers.features.v1_constants import (
    CONTRAST_EDGES_HZ,
    DIMENSION,
    FEATURE_NAMES,
    FEATURES,
    GROUP_WEIGHTS,
    VECTOR_WEIGHTS,
    Z_CLIP,
)
from core.providers.features.v1_text import TEXT_CUES, text_scores
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
    "v3",
    "vector_from_scores",
]

VERSIONS = ("v1", "v2", "v3")
DEFAULT_VERSION = "v3"
_MODULES = {"v2": v2, "v3": v3}

_CACHE_SIZE = 512
_cache: OrderedDict[tuple[str, str, int, int], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def _file_vector(version: str, path: Path | str) -> np.ndarray:
    """The features-v2 or -v3 vector of a file, cached by (version, path, mtime, size) like v1's analysis."""
    path = Path(path)
    try:
        stat = os.stat(path)
        key: tuple[str, str, int, int] | None = (version, str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None  # read_audio raises the readable error
    if key is not None:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                return hit.copy()
    samples, rate = read_audio(path)
    vector = _MODULES[version].embed_samples(samples, rate)
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
        module = _MODULES.get(self.version, v1)
        self.space = module.SPACE
        self.dimension = module.DIMENSION
        # Only v1 maps words to directions of its space; v2 and v3 have no text side.
        self.text_side = self.version == "v1"

    def embed_audio(self, audio_path: Path) -> np.ndarray:
        if self.version == "v1":
            raw, _ = v1._analyse_file(audio_path)
            return vector_from_scores(standard_scores(raw))
        return _file_vector(self.version, audio_path)

    def embed_text(self, text: str) -> np.ndarray:
        if self.version == "v1":
            return vector_from_scores(text_scores(text))
        return np.zeros(self.dimension, dtype=np.float32)  # v2 and v3 have no text side

    def describe(self, audio_path: Path) -> dict[str, float]:
        return describe_audio(audio_path)


def create(settings: Settings, model: str | None = None) -> FeatureEmbedder:
    """Registry factory. ``model`` picks the space: ``v1``/``features-v1``, ``v2``/``features-v2``
    or ``v3``/``features-v3`` (the default)."""
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
