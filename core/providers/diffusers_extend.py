"""Extend a clip with a diffusers engine: inpainting past its end (Stable Audio 3) or repaint (ACE-Step).

Each window gives the pipeline the end of what is made so far followed by
silence, and asks it to fill everything after ``mask_start`` (Stable Audio 3's
``StableAudio3InpaintPipeline``, ``mask_start_seconds``) or to repaint from
there (ACE-Step's ``task_type="repaint"``, ``repainting_start``). The windows
are joined by ``core.windowed``; one window covers the engine's longest clip,
so most extensions are one call (a window adds at least half of it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from core.audio import audio_duration
from core.errors import AudioFileError, GenerationFailedError
from core.providers import _diffusers, _runs, diffusers_loading, diffusers_references
from core.providers.base import ExtendRequest, GeneratedClip, check_cancel, clip_seed

# (loaded pipeline, audio (channels, n): context then silence, seconds where the new part
# starts, total seconds, seed, step watch) -> the pipeline's audio (channels, >= n)
WindowCall = Callable[
    [diffusers_loading.LoadedPipeline, np.ndarray, float, float, int, _diffusers.StepWatch], np.ndarray
]


def extend_clip(
    provider: Any, request: ExtendRequest, *, name: str, label: str, mode: str, call: WindowCall
) -> GeneratedClip:
    """``request.source`` continued to ``request.to_sec`` by ``call``, window by window; one WAV written."""
    check_cancel(request.cancel)
    loaded = provider.load(request.progress)
    rate, channels = loaded.sample_rate, loaded.channels
    try:
        length = int(round(audio_duration(request.source.audio_path) * rate))
        source = diffusers_references.reference_audio(request.source, rate, channels, length)
    except (AudioFileError, RuntimeError, OSError) as exc:
        raise GenerationFailedError(f"{label} cannot read the clip to extend: {exc}") from None
    window = int(provider.capabilities.longest_sec * rate)
    stride = max(int(round(request.stride_sec * rate)), window // 2)
    overlap = int(round(request.overlap_sec * rate))

    def continue_window(context: np.ndarray, new: int, index: int) -> np.ndarray:
        total = context.shape[1] + new
        audio = np.zeros((channels, total), dtype=np.float32)
        audio[:, : context.shape[1]] = context
        watch = _diffusers.StepWatch(request.cancel, lambda: None)
        with loaded.lock:
            out = call(
                loaded, audio, context.shape[1] / rate, total / rate, clip_seed(request.seed, index), watch
            )
        out = np.asarray(out, dtype=np.float32).reshape(-1, out.shape[-1])[:, :total]
        if out.shape[1] < total:
            out = np.pad(out, ((0, 0), (0, total - out.shape[1])))
        return out

    return _runs.extended_clip(
        name=name,
        who=label,
        model=provider.location.model,
        request=request,
        source=source,
        rate=rate,
        window=window,
        stride=stride,
        overlap=overlap,
        continue_fn=continue_window,
        device=loaded.device,
        dtype=loaded.dtype,
        recipe={"mode": mode},
    )
