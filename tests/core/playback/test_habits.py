"""The player on ALSA's null device: audition habits (A/B switch, volume, a chosen device and its
fallback).

See tests/core/playback/conftest.py for how the null device is set up.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from core.playback import Player
from tests.core.playback.helpers import (
    RATE,
    Events,
    Recorder,
    after_silence,
    assert_sentence,
    clip,
    expected,
    first_sounding,
    sine,
    wait_for,
)

# ---------------------------------------------------------------------- audition habits


def test_switch_takes_over_at_the_same_position_and_keeps_pause(
    tmp_path: Path, player: Player, recorder: Recorder
) -> None:
    """A/B: the other take comes in where the first one was, on the same stream."""
    a = clip(tmp_path, "a.wav", sine(3.0, 440, 0.3))
    b = clip(tmp_path, "b.wav", sine(3.0, 660, 0.05))
    player.play(a, loop=True)
    player.pause()
    player.seek(1.25, relative=False)
    stream = player._stream
    player.switch(b)
    state = player.state
    assert (state.path, state.paused, state.playing) == (b, True, False)
    assert state.position_sec == pytest.approx(1.25, abs=1 / RATE)
    assert player._stream is stream  # no restart: the same stream went on
    # Back to A, at the same place, and then playing: what reaches the device is A's audio
    # from 1.25 s, loudness-matched like any clip.
    player.switch(a)
    assert player.state.path == a and player.state.position_sec == pytest.approx(1.25, abs=1 / RATE)
    mark = after_silence(recorder)
    player.resume()
    block = first_sounding(recorder, mark)
    start = int(round(1.25 * RATE))
    want = expected(a, player.state.gain_db)[start : start + block.shape[0]]
    np.testing.assert_allclose(block, want, atol=1e-6)


def test_switch_while_playing_continues_from_where_the_first_clip_was(tmp_path: Path, player: Player) -> None:
    a = clip(tmp_path, "a.wav", sine(3.0, 440, 0.3))
    b = clip(tmp_path, "b.wav", sine(3.0, 660, 0.3))
    changes: list[tuple[Path | None, float]] = []  # A's last block, then B's first

    def watch(block: np.ndarray, path: Path | None, position: float) -> None:
        if len(changes) == 1 and changes[0][0] == path:
            changes[0] = (path, position)
        elif len(changes) < 2:
            changes.append((path, position))

    player.monitor = watch
    player.play(a, loop=True)
    wait_for(lambda: player.state.position_sec > 0.5, "A to move on")
    player.switch(b)
    assert player.state.path == b and player.state.playing
    wait_for(lambda: len(changes) >= 2, "B's blocks")
    (first, a_end), (second, b_first) = changes[0], changes[1]
    assert (first, second) == (a, b)
    # B's first block starts on the frame after A's last one (both are 3 s long: modulo
    # the loop), on the same stream: no gap, no restart.
    assert (b_first - a_end) % 3.0 == pytest.approx(1024 / RATE, abs=1 / RATE)


def test_switch_with_nothing_loaded_plays_from_the_start(tmp_path: Path, player: Player) -> None:
    b = clip(tmp_path, "b.wav", sine(1.0, 660, 0.3))
    player.set_loop(True)  # the null device is fast: a 1 s clip could end before we look
    player.switch(b)
    assert player.state.path == b and player.state.playing


def test_volume_scales_what_reaches_the_device_at_once(
    tmp_path: Path, player: Player, recorder: Recorder
) -> None:
    path = clip(tmp_path, "v.wav", sine(2.0, 440, 0.3))
    player.volume_db = -6.0
    assert player.state.volume_db == -6.0
    player.play(path, loop=True)
    player.pause()
    player.seek(0.5, relative=False)
    mark = after_silence(recorder)
    player.resume()
    block = first_sounding(recorder, mark)
    start = int(round(0.5 * RATE))
    want = expected(path, player.state.gain_db)[start : start + block.shape[0]]
    np.testing.assert_allclose(block, want * np.float32(10 ** (-6 / 20)), atol=1e-6)
    # Muted below the lowest step, never louder than the loudness match.
    player.volume_db = -200
    assert player.volume_db == -math.inf
    mark = len(recorder.kept())
    wait_for(lambda: len(recorder.kept()) >= mark + 20, "blocks while muted")
    assert not any(np.any(b) for b, _, _ in recorder.kept(mark + 2))
    player.volume_db = 12
    assert player.volume_db == 0.0


def test_output_devices_lists_the_default_first() -> None:
    from core.playback import output_devices

    devices = output_devices()
    assert devices[0].is_default and devices[0].name == "default"
    assert "sessionlab_broken" in [d.name for d in devices]
    assert all(d.channels > 0 and d.host_api == "ALSA" for d in devices)


def test_a_missing_chosen_device_falls_back_to_the_default_with_one_sentence(
    tmp_path: Path, events: Events
) -> None:
    path = clip(tmp_path, "f.wav", sine(0.2, 440, 0.3))
    player = Player(device="headphones-gone", fallback_to_default=True, on_finished=events.on_finished)
    try:
        player.play(path)
        notice = player.take_notice()
        assert notice is not None
        assert_sentence(notice)
        assert "headphones-gone" in notice and "default" in notice
        assert player.take_notice() is None  # said once
        wait_for(lambda: events.finished, "the clip on the default device")
        player.play(path)
        assert player.take_notice() is None
    finally:
        player.close()
