"""core.audio.mix_matched: the mix an audio-to-audio engine varies for a blend."""

from __future__ import annotations

import numpy as np
import pytest

from core.audio import integrated_lufs, mix_matched, peak_dbfs
from core.audio.loudness import MIX_LUFS

RATE = 32_000


def sine(hz: float, amplitude: float, seconds: float = 1.0, channels: int = 0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return wave if not channels else np.repeat(wave[:, None], channels, axis=1)


@pytest.mark.parametrize("channels", [0, 2])
def test_each_clip_is_brought_to_the_same_loudness_before_the_sum(channels: int) -> None:
    loud, quiet = sine(440, 0.9, channels=channels), sine(97, 0.01, channels=channels)
    mixed = mix_matched([loud, quiet], RATE)
    assert mixed.shape == loud.shape and mixed.dtype == np.float32
    basis = np.stack([loud.ravel(), quiet.ravel()], axis=1).astype(np.float64)
    gains, *_ = np.linalg.lstsq(basis, mixed.ravel().astype(np.float64), rcond=None)
    np.testing.assert_allclose(basis @ gains, mixed.ravel(), atol=1e-6)
    parts = [integrated_lufs(g * clip, RATE) for g, clip in zip(gains, (loud, quiet), strict=True)]
    assert parts[0] == pytest.approx(parts[1], abs=0.05)
    assert parts[0] <= MIX_LUFS + 0.05  # at the target, or under it where the peak had to come down
    assert peak_dbfs(mixed) <= -1.0 + 1e-4


def test_a_silent_clip_is_left_silent_and_the_other_still_matched() -> None:
    clip = sine(220, 0.5)
    mixed = mix_matched([clip, np.zeros_like(clip)], RATE)
    assert integrated_lufs(mixed, RATE) == pytest.approx(MIX_LUFS, abs=0.05)


def test_clips_of_other_lengths_or_channels_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        mix_matched([sine(220, 0.5), sine(220, 0.5, seconds=0.5)], RATE)
    with pytest.raises(ValueError, match="same length"):
        mix_matched([sine(220, 0.5), sine(220, 0.5, channels=2)], RATE)
