"""What running a local engine (MusicGen, the diffusers engines) shares, once it is loaded.

- ``ChunkedSteps``: a batch made in chunks of clips, one progress bar over every
  step of every chunk, and what went wrong in the chunks that failed: out of
  memory is one sentence of advice (``core.errors.out_of_memory``), a warning
  beside the clips made before it, or an ``OutOfMemoryError`` when none was
  made (routing may then hand the batch to a fallback engine).
- ``remove_clips``: a cancelled batch keeps nothing half-made.
- ``extended_clip``: a clip continued window by window (``core.windowed``) and
  written as one WAV with its recipe; out of memory in a window is advice too.

Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.audio import audio_duration, write_wav_atomic
from core.errors import (
    GenerationFailedError,
    OutOfMemoryError,
    SessionLabError,
    is_out_of_memory,
    out_of_memory,
)
from core.providers._torch import first_line
from core.providers.base import STAGE_GENERATING, ExtendRequest, GeneratedClip, ProgressFn

if TYPE_CHECKING:
    import numpy as np

    from core.windowed import ContinueFn

log = logging.getLogger(__name__)


class ChunkedSteps:
    """A batch made in chunks of at most ``size`` clips, each ``steps`` engine steps long,
    with one progress bar over every step of every chunk (``total = chunks * steps``), and
    what went wrong in the chunks that failed (the first error stands)."""

    def __init__(
        self,
        num_clips: int,
        size: int,
        steps: int,
        progress: ProgressFn | None,
        *,
        who: str = "The engine",
        size_setting: str = "",
    ) -> None:
        self.num_clips = num_clips
        self.size = size
        self.chunks = [(start, min(size, num_clips - start)) for start in range(0, num_clips, size)]
        self.steps = steps
        self.total = len(self.chunks) * steps
        self.done = 0
        self.progress = progress
        self.who = who
        self.size_setting = size_setting  # the setting that caps ``size`` (named in out-of-memory advice)
        self.first_error: SessionLabError | None = None
        if progress is not None:
            progress(STAGE_GENERATING, 0, self.total)

    def step(self) -> None:
        """One engine step done."""
        self.done += 1
        if self.progress is not None:
            self.progress(STAGE_GENERATING, min(self.done, self.total), self.total)

    def skip_to_end_of(self, chunk_index: int) -> None:
        """A chunk failed: the bar goes on from where the next chunk starts."""
        self.done = (chunk_index + 1) * self.steps

    def note(self, error: SessionLabError) -> None:
        """A chunk's clips are lost to ``error`` (the first one noted is what the user is told)."""
        self.first_error = self.first_error or error

    def failed(self, chunk_index: int, exc: BaseException, *, device: str) -> bool:
        """Chunk ``chunk_index`` raised ``exc``: noted as one sentence (``chunk_failure``), the bar
        moved on; True when the batch should stop (out of memory: the next chunk is as large)."""
        error = chunk_failure(
            exc,
            self.who,
            device,
            self.chunks[chunk_index][1],
            chunk_setting=self.size_setting,
            chunk=self.size,
        )
        oom = isinstance(error, OutOfMemoryError)
        log.warning("%s: chunk %d failed: %s", self.who, chunk_index, exc, exc_info=not oom)
        self.note(error)
        self.skip_to_end_of(chunk_index)
        return oom

    def outcome(self, made: int) -> str | None:
        """The warning for a batch of ``made`` clips (None: all were made); with none made, the first
        error is raised (out of memory stays an ``OutOfMemoryError``: routing may hand the batch on)."""
        if not made:
            raise self.first_error or GenerationFailedError(f"{self.who} produced no clip.")
        if self.first_error is None:
            return None
        return f"{made} of {self.num_clips} clips were made. {self.first_error}"


def remove_clips(clips: Sequence[GeneratedClip]) -> None:
    """The files of ``clips`` gone (a cancelled batch keeps nothing half-made)."""
    for clip in clips:
        with contextlib.suppress(OSError):
            clip.audio_path.unlink(missing_ok=True)


def chunk_failure(
    exc: BaseException, who: str, device: str, count: int, *, chunk_setting: str, chunk: int
) -> SessionLabError:
    """What a failed chunk of ``count`` clips tells the user: out of memory as advice (an
    ``OutOfMemoryError``: the next chunk is as large, stop), a domain error as it is, anything
    else as one sentence."""
    if is_out_of_memory(exc):
        error: SessionLabError = out_of_memory(
            who,
            device,
            f"making {count} clips at once" if count > 1 else "making a clip",
            chunk_setting=chunk_setting,
            chunk=chunk,
        )
    elif isinstance(exc, SessionLabError):
        return exc
    else:
        error = GenerationFailedError(f"{who} failed to generate clips: {first_line(exc)}.")
    error.__cause__ = exc
    return error


@contextlib.contextmanager
def memory_advice(who: str, device: str, doing: str, *, shorter: str) -> Iterator[None]:
    """Out of memory inside the block becomes one ``OutOfMemoryError`` of advice; the rest passes."""
    try:
        yield
    except SessionLabError:
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            raise out_of_memory(who, device, doing, shorter=shorter) from exc
        raise


def extended_clip(
    *,
    name: str,
    who: str,
    model: str,
    request: ExtendRequest,
    source: np.ndarray,
    rate: int,
    window: int,
    stride: int,
    overlap: int,
    continue_fn: ContinueFn,
    device: str,
    dtype: str,
    recipe: dict[str, Any],
) -> GeneratedClip:
    """``source`` (channels, n) continued to ``request.to_sec`` window by window (``core.windowed``)
    and written as one WAV at ``rate``; out of memory in a window is one ``OutOfMemoryError`` of advice.

    The clip's recipe holds how it was windowed, and the engine's own ``recipe`` fields.
    """
    from core.windowed import extend_windowed

    with memory_advice(
        who,
        device,
        f"extending a clip to {request.to_sec:g} s",
        shorter="a shorter length to extend to",
    ):
        extended = extend_windowed(
            source,
            int(round(request.to_sec * rate)),
            window=window,
            stride=stride,
            overlap=overlap,
            continue_fn=continue_fn,
            progress=request.progress,
            cancel=request.cancel,
        )
    out_dir = (
        Path(request.out_dir) if request.out_dir else Path(tempfile.mkdtemp(prefix=f"sessionlab-{name}-"))
    )
    samples = extended.T if extended.shape[0] > 1 else extended[0]
    path = write_wav_atomic(out_dir / f"{name}-extend-{uuid.uuid4().hex[:8]}.wav", samples, rate)
    return GeneratedClip(
        audio_path=path,
        duration_sec=audio_duration(path),
        raw_prompt=request.prompt,
        seed=request.seed,
        recipe={
            "engine": name,
            "model": model,
            "extended_from": str(request.source.audio_path),
            "extend_seed": request.seed,
            "to_sec": request.to_sec,
            "window_sec": window / rate,
            "stride_sec": min(stride, window - overlap) / rate,
            "overlap_sec": overlap / rate,
            "device": device,
            "dtype": dtype,
            "sampling_rate": rate,
            "channels": int(extended.shape[0]),
            **recipe,
        },
    )
