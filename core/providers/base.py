"""What every provider promises (seed 000's Protocols, extended for a local studio).

Keyword-only extras beyond the seed's signatures are part of the contract: a
provider must accept them, and may ignore the ones it has no use for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.models import BriefParams
from core.providers.capabilities import Capabilities

# (stage, done, total): "loading model", "generating", "embedding", ...
ProgressFn = Callable[[str, int, int], None]

STAGE_LOADING = "loading model"
STAGE_GENERATING = "generating"
STAGE_EMBEDDING = "embedding"
STAGE_CLUSTERING = "clustering"
STAGE_NAMING = "naming"
STAGE_SAVING = "saving"


@dataclass
class GeneratedClip:
    """A clip a music provider wrote to a temporary file."""

    audio_path: Path
    duration_sec: float  # measured from the audio, not the request
    raw_prompt: str
    seed: int | None = None
    recipe: dict[str, Any] | None = None  # enough to make it again or vary it


@dataclass(frozen=True)
class ReferenceClip:
    """A member of the parent cluster, given to a provider for more-like."""

    audio_path: Path
    seed: int | None = None
    recipe: dict[str, Any] | None = None


@dataclass
class GenerationRequest:
    """Everything beyond the seed's (prompt, num_clips, duration_sec)."""

    params: BriefParams = field(default_factory=BriefParams)
    seed: int = 0  # batch seed; clip i uses a seed derived from it
    out_dir: Path | None = None  # where to write clips (a temp dir on the media fs)
    references: Sequence[ReferenceClip] = ()  # empty: from scratch; else near these
    progress: ProgressFn | None = None
    cancel: threading.Event | None = None
    # Called as soon as each clip is on disk, so it can be auditioned before the
    # batch is clustered.
    on_clip: Callable[[int, GeneratedClip], None] | None = None
    # A blend (given only to an engine whose ``blends`` attribute is true, which blends the
    # two recipes, or whose capabilities have ``variation``, which varies a loudness-matched
    # mix of the two clips): clip i starts from references[i] and blend_with[i] together
    # (each list taken in turn).
    blend_with: Sequence[ReferenceClip] = ()


@dataclass
class ExtendRequest:
    """One clip continued past its end to ``to_sec`` (a provider's optional ``extend_clip``).

    The provider writes ONE clip of exactly ``round(to_sec * rate)`` samples into
    ``out_dir`` at its own rate and channels, reports ``(STAGE_GENERATING, windows
    done, windows)`` and leaves nothing behind when cancelled.
    """

    source: ReferenceClip
    to_sec: float
    prompt: str = ""
    params: BriefParams = field(default_factory=BriefParams)
    seed: int = 0
    out_dir: Path | None = None
    stride_sec: float = 18.0  # new seconds each window adds (settings.extend_stride_sec)
    overlap_sec: float = 2.0  # seconds crossfaded at each seam (settings.extend_overlap_sec)
    progress: ProgressFn | None = None
    cancel: threading.Event | None = None


def clip_seed(batch_seed: int, index: int) -> int:
    """The seed of clip ``index`` of a batch: stable and distinct per clip."""
    return (batch_seed * 1_000_003 + index * 7919 + 17) % (2**31 - 1)


def check_batch_args(num_clips: int, duration_sec: float) -> None:
    """The engine-side guard of a batch request (the service validates the user's input first)."""
    import math

    from core.errors import ValidationError

    if num_clips < 1:
        raise ValidationError(f"The number of clips must be at least 1, not {num_clips}.")
    if not (duration_sec > 0 and math.isfinite(duration_sec)):
        raise ValidationError(f"The clip duration must be a positive number of seconds, not {duration_sec}.")


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        from core.errors import CancelledError

        raise CancelledError("Generation was cancelled.")


@runtime_checkable
class MusicProvider(Protocol):
    name: str  # registry name, e.g. "sketch"
    model: str | None  # model id or path, None for the embedded engine
    capabilities: Capabilities  # what it can do (core.providers.capabilities)

    def generate_batch(
        self,
        prompt: str,
        num_clips: int,
        duration_sec: float,
        request: GenerationRequest | None = None,
    ) -> list[GeneratedClip]:
        """Generate up to num_clips clips; skip failed ones; raise only if all fail."""
        ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    name: str
    space: str  # e.g. "features-v1"; vectors of different spaces are never compared

    def embed_audio(self, audio_path: Path) -> np.ndarray:
        """Return a 1-D float32 L2-normalised embedding; raise on I/O or model error."""
        ...

    def embed_text(self, text: str) -> np.ndarray:
        """Return a 1-D float32 embedding in the same space as embed_audio."""
        ...


@dataclass(frozen=True)
class NamingContext:
    """What a namer may look at beyond the prompts."""

    audio_paths: Sequence[Path] = ()
    embeddings: Sequence[np.ndarray] = ()
    taken: frozenset[str] = frozenset()  # labels already used in this batch


@runtime_checkable
class ClusterNamingProvider(Protocol):
    name: str

    def name_cluster(self, prompts: list[str], context: NamingContext | None = None) -> str:
        """Return a 1-3 word ASCII label; the caller falls back on failure."""
        ...
