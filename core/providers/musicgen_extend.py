"""Extending a clip with MusicGen (``core.providers.musicgen``): windowed continuation,
each window one generate call prompted with the end of what is made so far."""

from __future__ import annotations

import math

import numpy as np

from core.audio import read_audio, resample
from core.errors import AudioFileError, GenerationFailedError
from core.providers import _runs
from core.providers.base import ExtendRequest, GeneratedClip, GenerationRequest, check_cancel, clip_seed
from core.providers.musicgen_loading import LABEL, NAME


class MusicGenExtend:
    """The extend method of MusicGenProvider (it loads through MusicGenLoading and generates
    each window with the provider's ``_generate_chunk``)."""

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
