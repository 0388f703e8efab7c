"""The player on ALSA's null device: the device, and playing (position, pause, seek, loop, stop,
end).

See tests/core/playback/conftest.py for how the null device is set up.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.playback import Player, check_audio_output
from tests.core.playback.helpers import (
    RATE,
    Events,
    Recorder,
    after_silence,
    clip,
    expected,
    first_sounding,
    sine,
    wait_for,
)

# ---------------------------------------------------------------------- the device


def test_null_device_is_an_output_and_a_stream_opens() -> None:
    import sounddevice as sd

    default = sd.query_devices(kind="output")
    assert default["name"] == "default" and default["max_output_channels"] >= 2
    assert check_audio_output() is None


# ---------------------------------------------------------------------- playing


def test_play_writes_the_clip_to_the_device_and_finishes(
    tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    path = clip(tmp_path, "a.wav", sine(1.0, 440, 0.25))
    player.play(path)
    first = player.state
    assert first.path == path and first.duration_sec == pytest.approx(1.0)
    assert not first.paused and 0.0 <= first.position_sec <= 1.0

    wait_for(lambda: events.finished, "on_finished")
    assert events.finished == [path]
    assert all(t is not threading.main_thread() for t in events.threads)
    state = player.state
    assert (state.playing, state.paused, state.path) == (False, False, path)
    assert state.position_sec == pytest.approx(state.duration_sec)

    want = expected(path, state.gain_db)
    got = recorder.audio(path)
    assert got.shape[0] >= want.shape[0]  # whole blocks: the last one is padded with silence
    np.testing.assert_allclose(got[: want.shape[0]], want, atol=1e-6)
    assert not np.any(got[want.shape[0] :])
    positions = [pos for _, p, pos in recorder.kept() if p == path]
    assert positions == sorted(positions) and positions[-1] == pytest.approx(1.0)
    assert not any(name == "MainThread" for name in recorder.threads)  # the PortAudio thread


def test_position_advances_while_playing(tmp_path: Path, player: Player, recorder: Recorder) -> None:
    path = clip(tmp_path, "long.wav", sine(3.0, 330, 0.2))
    player.play(path, loop=True)
    seen = {player.state.position_sec}
    wait_for(lambda: seen.add(player.state.position_sec) or len(seen) >= 3, "the position to move")
    assert recorder.count > 0 and player.state.playing


def test_pause_holds_the_position_and_resume_continues_from_it(
    tmp_path: Path, player: Player, recorder: Recorder
) -> None:
    path = clip(tmp_path, "p.wav", sine(2.0, 440, 0.3))
    player.play(path, loop=True)
    wait_for(lambda: recorder.count >= 5, "blocks")
    player.pause()
    held = player.state
    assert (held.playing, held.paused) == (False, True)
    mark = after_silence(recorder)
    # The stream keeps running while paused (the callback writes silence) ...
    wait_for(lambda: len(recorder.kept()) >= mark + 50, "callbacks while paused")
    assert player.state.position_sec == held.position_sec
    assert not any(np.any(block) for block, _, _ in recorder.kept(mark))

    mark = len(recorder.kept())
    player.resume()
    assert (player.state.playing, player.state.paused) == (True, False)
    wait_for(lambda: player.state.position_sec != held.position_sec, "the position to move again")
    block = first_sounding(recorder, mark)
    start = int(round(held.position_sec * RATE))
    want = expected(path, held.gain_db)[start : start + block.shape[0]]
    np.testing.assert_allclose(block, want, atol=1e-6)


def test_toggle_pause_returns_the_new_paused_flag(tmp_path: Path, player: Player, recorder: Recorder) -> None:
    assert player.toggle_pause() is False  # nothing loaded: nothing happens
    path = clip(tmp_path, "t.wav", sine(1.0, 440, 0.3))
    player.play(path, loop=True)
    assert player.toggle_pause() is True and player.state.paused
    assert player.toggle_pause() is False and player.state.playing


def test_seek_relative_absolute_and_clamped(tmp_path: Path, player: Player, recorder: Recorder) -> None:
    path = clip(tmp_path, "s.wav", sine(2.0, 440, 0.3))
    player.play(path, loop=True)
    player.pause()
    one_frame = 1 / RATE
    player.seek(0.5, relative=False)
    assert player.state.position_sec == pytest.approx(0.5, abs=one_frame)
    player.seek(0.25)
    assert player.state.position_sec == pytest.approx(0.75, abs=one_frame)
    player.seek(-10)
    assert player.state.position_sec == 0.0
    player.seek(1000)
    assert player.state.position_sec == pytest.approx(2.0)
    player.seek(-0.5)
    assert player.state.position_sec == pytest.approx(1.5, abs=one_frame)
    player.seek(-3, relative=False)
    assert player.state.position_sec == 0.0
    player.seek(99, relative=False)
    assert player.state.position_sec == pytest.approx(2.0)

    # Playing resumes exactly where the seek put it.
    player.seek(1.25, relative=False)
    mark = after_silence(recorder)
    player.resume()
    block = first_sounding(recorder, mark)
    start = int(round(1.25 * RATE))
    want = expected(path, player.state.gain_db)[start : start + block.shape[0]]
    np.testing.assert_allclose(block, want, atol=1e-6)


def test_loop_wraps_seamlessly_until_loop_is_turned_off(
    tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    path = clip(tmp_path, "l.wav", sine(0.25, 500, 0.3))
    player.play(path, loop=True)
    frames = int(0.25 * RATE)
    wait_for(lambda: recorder.audio(path).shape[0] >= 3 * frames, "three laps")
    state = player.state
    assert state.playing and state.loop and events.finished == []
    positions = [pos for _, p, pos in recorder.kept() if p == path]
    assert any(b < a for a, b in zip(positions, positions[1:], strict=False)), "the position never wrapped"
    want = expected(path, state.gain_db)
    np.testing.assert_allclose(recorder.audio(path)[: 3 * frames], np.tile(want, (3, 1)), atol=1e-6)

    player.set_loop(False)
    wait_for(lambda: events.finished, "the end once loop is off")
    assert events.finished == [path]
    assert not player.state.playing and player.state.position_sec == pytest.approx(0.25)


def test_a_second_play_stops_the_first(
    tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    a = clip(tmp_path, "a.wav", sine(1.0, 440, 0.3))
    b = clip(tmp_path, "b.wav", sine(0.5, 880, 0.1))
    player.play(a, loop=True)
    wait_for(lambda: recorder.count >= 3, "blocks of a")
    mark = len(recorder.kept())
    player.play(b, loop=False)
    assert player.state.path == b
    wait_for(lambda: events.finished, "the end of b")
    assert events.finished == [b]  # a was stopped, not finished
    paths = [p for _, p, _ in recorder.kept(mark)]
    switch = paths.index(b)
    assert set(paths[:switch]) <= {a} and set(paths[switch:]) == {b}  # nothing of a once b started
    want = expected(b, player.state.gain_db)
    np.testing.assert_allclose(recorder.audio(b, mark)[: want.shape[0]], want, atol=1e-6)


def test_ended_clip_plays_again_on_resume(tmp_path: Path, player: Player, events: Events) -> None:
    path = clip(tmp_path, "e.wav", sine(0.3, 440, 0.3))
    player.play(path)
    wait_for(lambda: len(events.finished) == 1, "the first end")
    assert player.toggle_pause() is False
    wait_for(lambda: len(events.finished) == 2, "the second end")
    assert events.finished == [path, path]


def test_stop_unloads_the_clip(tmp_path: Path, player: Player, events: Events, recorder: Recorder) -> None:
    path = clip(tmp_path, "x.wav", sine(1.0, 440, 0.3))
    player.play(path, loop=True)
    wait_for(lambda: recorder.count >= 3, "blocks")
    player.stop()
    state = player.state
    assert (state.path, state.playing, state.paused, state.position_sec) == (None, False, False, 0.0)
    player.seek(0.5)  # nothing loaded: no effect, no error
    assert player.state.position_sec == 0.0
    assert events.finished == [] and events.errors == []


def test_on_finished_may_start_the_next_clip(tmp_path: Path, events: Events) -> None:
    """Handlers run off PortAudio's thread, so calling the player from them cannot deadlock."""
    first = clip(tmp_path, "1.wav", sine(0.2, 440, 0.3))
    second = clip(tmp_path, "2.wav", sine(0.2, 660, 0.3))
    done = threading.Event()

    def advance(path: Path) -> None:
        events.on_finished(path)
        if path == first:
            player.play(second)
        else:
            done.set()

    player = Player(on_finished=advance, on_error=events.on_error)
    try:
        player.play(first)
        wait_for(done.is_set, "the second clip to finish")
        assert events.finished == [first, second]
    finally:
        player.close()
