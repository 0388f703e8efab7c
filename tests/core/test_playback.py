"""The audition player on a real PortAudio stream: ALSA's null device.

ALSA_CONFIG_PATH points alsa-lib at tests/asound-null.conf (default PCM = null)
plus tests/asound-broken.conf (a PCM whose pipe breaks mid-play) for this
module's process only; nothing on the machine changes. The null plugin is not
clocked, it takes samples thousands of times faster than real time: the tests
wait on what the callback did (frames, events), never on the wall clock.

What the device received is read back through ``Player.monitor``, which gets a
copy of every block the callback wrote.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from core.audio import integrated_loudness, read_audio, write_wav_atomic
from core.errors import PlaybackError
from core.playback import CEILING_DBFS, DEVICE_LOST, Player, check_audio_output
from tests.audio_device import BROKEN_CONF, NULL_CONF, null_audio, rescan_portaudio

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
RATE = 32_000
DEADLINE = 20.0  # seconds; generous, only reached when something is wrong
CEILING = 10 ** (CEILING_DBFS / 20)
MAX_KEPT_BLOCKS = 3000  # the null device is fast: keep the first blocks, count the rest


@pytest.fixture(scope="module", autouse=True)
def null_audio_device() -> Iterator[None]:
    with null_audio():
        yield


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.002)


class Recorder:
    """Player.monitor: what the callback wrote, block by block."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.blocks: list[tuple[np.ndarray, Path | None, float]] = []
        self._count = 0
        self.threads: set[str] = set()

    def __call__(self, block: np.ndarray, path: Path | None, position: float) -> None:
        with self._lock:
            self._count += 1
            if len(self.blocks) < MAX_KEPT_BLOCKS:
                self.blocks.append((block, path, position))
            self.threads.add(threading.current_thread().name)

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def kept(self, start: int = 0) -> list[tuple[np.ndarray, Path | None, float]]:
        with self._lock:
            return list(self.blocks[start:])

    def audio(self, path: Path, start: int = 0) -> np.ndarray:
        parts = [block for block, p, _ in self.kept(start) if p == path]
        return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)


class Events:
    def __init__(self) -> None:
        self.finished: list[Path] = []
        self.errors: list[str] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def on_finished(self, path: Path) -> None:
        with self._lock:
            self.finished.append(path)
            self.threads.append(threading.current_thread())

    def on_error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)
            self.threads.append(threading.current_thread())


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def player(events: Events, recorder: Recorder) -> Iterator[Player]:
    p = Player(on_finished=events.on_finished, on_error=events.on_error)
    p.monitor = recorder
    yield p
    p.close()


def sine(seconds: float, freq: float, amp: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def clip(tmp_path: Path, name: str, samples: np.ndarray, rate: int = RATE) -> Path:
    return write_wav_atomic(tmp_path / name, samples, rate)


def expected(path: Path, gain_db: float) -> np.ndarray:
    """What the device should get: the file's samples times the gain, on both channels."""
    data, _ = read_audio(path, mono=False)
    scaled = (data * np.float32(10 ** (gain_db / 20))).astype(np.float32)
    return np.repeat(scaled, 2, axis=1) if scaled.shape[1] == 1 else scaled


def first_sounding(recorder: Recorder, start: int) -> np.ndarray:
    """The first block with sound recorded at or after ``start`` (waits for it)."""
    found: list[np.ndarray] = []

    def look() -> bool:
        found.extend(block for block, _, _ in recorder.kept(start) if np.any(block))
        return bool(found)

    wait_for(look, "a sounding block")
    return found[0]


def after_silence(recorder: Recorder) -> int:
    """Once paused, wait for a silent block: every block recorded after it is post-pause too."""
    start = len(recorder.kept())
    wait_for(lambda: any(not np.any(b) for b, _, _ in recorder.kept(start)), "a silent block")
    return len(recorder.kept())


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


# ---------------------------------------------------------------------- loudness


def _play_through(player: Player, events: Events, recorder: Recorder, path: Path) -> np.ndarray:
    mark = len(recorder.kept())
    count = len(events.finished)
    player.play(path, loop=False)
    wait_for(lambda: len(events.finished) > count, f"the end of {path.name}")
    frames = int(round(player.state.duration_sec * player_rate(recorder, path, mark)))
    return recorder.audio(path, mark)[:frames]


def player_rate(recorder: Recorder, path: Path, mark: int) -> float:
    """The stream's rate, from the monitor: frames written per second of position."""
    kept = [(block, pos) for block, p, pos in recorder.kept(mark) if p == path]
    block, pos = kept[0]
    return block.shape[0] / pos


def test_clips_at_very_different_levels_play_at_the_same_loudness(
    tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    rng = np.random.default_rng(4)
    quiet = (0.004 * rng.standard_normal(RATE * 3)).astype(np.float32)
    loud = sine(3.0, 220, 0.45) + sine(3.0, 330, 0.3)
    paths = [clip(tmp_path, "quiet.wav", quiet), clip(tmp_path, "loud.wav", loud)]
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    source = [integrated_loudness(read_audio(p)[0], RATE) for p in paths]
    assert source[1] - source[0] > 25  # really very different levels

    gains = []
    for path in paths:
        out = _play_through(player, events, recorder, path)
        # A mono clip goes to both channels; its loudness is that of one of them (BS.1770 mono).
        np.testing.assert_array_equal(out[:, 0], out[:, 1])
        assert integrated_loudness(out[:, 0], RATE) == pytest.approx(-18.0, abs=0.5)
        assert float(np.max(np.abs(out))) <= CEILING + 1e-6
        gains.append(player.state.gain_db)
    assert gains[0] - gains[1] == pytest.approx(source[1] - source[0], abs=0.5)
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths] == digests  # files untouched


def test_stereo_clip_is_matched_on_both_channels(
    tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    stereo = np.column_stack([sine(2.0, 300, 0.05), sine(2.0, 500, 0.02)])
    path = clip(tmp_path, "stereo.wav", stereo)
    out = _play_through(player, events, recorder, path)
    assert not np.allclose(out[:, 0], out[:, 1])
    assert integrated_loudness(out, RATE) == pytest.approx(-18.0, abs=0.5)


def test_peaks_never_pass_the_ceiling_even_when_the_target_needs_more(
    tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    clicks = np.zeros(RATE * 2, np.float32)
    clicks[:: RATE // 4] = 0.5  # quiet on average, sharp peaks: the ceiling wins over the target
    path = clip(tmp_path, "clicks.wav", clicks)
    out = _play_through(player, events, recorder, path)
    peak = float(np.max(np.abs(out)))
    assert peak <= CEILING + 1e-6 and peak == pytest.approx(CEILING, rel=1e-3)
    assert integrated_loudness(out[:, 0], RATE) < -18.0 - 1.0
    assert player.state.gain_db == pytest.approx(20 * math.log10(CEILING / 0.5), abs=0.01)


def test_a_rate_the_device_refuses_is_resampled_to_its_default(
    tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    import sounddevice as sd

    odd_rate = 882_000  # ALSA's null PCM takes 1 kHz to 384 kHz
    with pytest.raises(sd.PortAudioError):
        sd.check_output_settings(channels=2, dtype="float32", samplerate=odd_rate)
    device_rate = sd.query_devices(kind="output")["default_samplerate"]

    path = clip(tmp_path, "odd.wav", sine(0.5, 1000, 0.1, rate=odd_rate), rate=odd_rate)
    mark = len(recorder.kept())
    player.play(path)
    wait_for(lambda: events.finished, "the end")
    assert player.state.duration_sec == pytest.approx(0.5, abs=2 / device_rate)
    assert player_rate(recorder, path, mark) == pytest.approx(device_rate)
    out = recorder.audio(path, mark)[: int(0.5 * device_rate)]
    assert integrated_loudness(out[:, 0], int(device_rate)) == pytest.approx(-18.0, abs=0.5)
    assert float(np.max(np.abs(out))) <= CEILING + 1e-6


def test_the_gain_is_cached_per_file_version(tmp_path: Path, player: Player, events: Events) -> None:
    path = clip(tmp_path, "c.wav", sine(1.0, 440, 0.1))
    first = player.prepare(path)
    player.play(path)
    assert player.state.gain_db == first
    # Clips are immutable in the studio; should a file change anyway, its size or mtime does too.
    clip(tmp_path, "c.wav", sine(1.5, 440, 0.1 * 10 ** (10 / 20)))
    player.play(path)
    assert player.state.gain_db == pytest.approx(first - 10, abs=0.1)


# ---------------------------------------------------------------------- failures


def assert_sentence(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert message.endswith(".") and not message.endswith(".)."), message


def test_an_unreadable_file_is_one_sentence_and_the_player_goes_on(
    tmp_path: Path, player: Player, events: Events
) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x01not really audio" * 10)
    with pytest.raises(PlaybackError) as info:
        player.play(junk)
    assert_sentence(str(info.value))
    assert "junk.wav" in str(info.value)
    with pytest.raises(PlaybackError, match="no such file"):
        player.play(tmp_path / "missing.wav")
    assert player.state.path is None and not player.state.playing

    good = clip(tmp_path, "good.wav", sine(0.2, 440, 0.3))
    player.play(good)
    wait_for(lambda: events.finished, "the good clip to finish")
    assert events.errors == []


def test_an_unknown_device_is_one_sentence_and_the_player_goes_on(tmp_path: Path, events: Events) -> None:
    path = clip(tmp_path, "d.wav", sine(0.2, 440, 0.3))
    message = check_audio_output("no-such-device")
    assert message is not None
    assert_sentence(message)
    assert "no-such-device" in message

    player = Player(device="no-such-device", on_finished=events.on_finished, on_error=events.on_error)
    try:
        with pytest.raises(PlaybackError) as info:
            player.play(path)
        assert_sentence(str(info.value))
        assert "no-such-device" in str(info.value)
        with pytest.raises(PlaybackError):
            player.play(path)  # asked again: the same sentence, no crash
        assert not player.state.playing

        player.device = 999
        with pytest.raises(PlaybackError, match="999"):
            player.play(path)

        player.device = None
        player.play(path)
        wait_for(lambda: events.finished, "the clip on the default device")
        assert events.errors == []
    finally:
        player.close()


def test_a_device_that_appears_later_is_found_on_the_next_play(
    tmp_path: Path, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After "not found", the next play re-scans PortAudio's device list (headphones plugged in)."""
    late = tmp_path / "late.conf"
    late.write_text("# nothing yet\n")
    monkeypatch.setenv("ALSA_CONFIG_PATH", f"{NULL_CONF}:{BROKEN_CONF}:{late}")
    path = clip(tmp_path, "late.wav", sine(0.2, 440, 0.3))
    player = Player(device="sessionlab_late", on_finished=events.on_finished, on_error=events.on_error)
    try:
        with pytest.raises(PlaybackError, match="sessionlab_late"):
            player.play(path)
        late.write_text("pcm.sessionlab_late {\n    type null\n}\n")
        player.play(path)
        wait_for(lambda: events.finished, "the clip on the new device")
        assert events.finished == [path] and events.errors == []
    finally:
        player.close()
        monkeypatch.undo()
        rescan_portaudio()


def test_a_device_lost_mid_play_reports_one_sentence_and_the_player_recovers(
    tmp_path: Path, events: Events
) -> None:
    long = clip(tmp_path, "long.wav", sine(2.0, 440, 0.3))  # 2 s stereo float32: more than the pipe takes
    short = clip(tmp_path, "short.wav", sine(0.25, 440, 0.3))  # 64 kB: fits
    player = Player(device="sessionlab_broken", on_finished=events.on_finished, on_error=events.on_error)
    try:
        player.play(long, loop=True)
        wait_for(lambda: events.errors, "on_error")
        assert events.errors == [DEVICE_LOST]
        assert_sentence(events.errors[0])
        assert all(t is not threading.main_thread() for t in events.threads)
        state = player.state
        assert (state.playing, state.paused, state.path) == (False, False, long)
        assert 0 < state.position_sec < state.duration_sec

        player.play(short, loop=False)  # a fresh stream on the same device
        wait_for(lambda: events.finished, "the short clip to finish")
        assert events.finished == [short] and len(events.errors) == 1

        player.play(long, loop=True)  # and it can fail again, reported again
        wait_for(lambda: len(events.errors) == 2, "the second on_error")
    finally:
        player.close()


def test_an_error_inside_the_callback_is_reported_and_the_player_recovers(
    tmp_path: Path, player: Player, events: Events
) -> None:
    path = clip(tmp_path, "m.wav", sine(1.0, 440, 0.3))

    def failing_monitor(block: np.ndarray, p: Path | None, position: float) -> None:
        raise RuntimeError("meter exploded")

    player.monitor = failing_monitor
    player.play(path, loop=True)
    wait_for(lambda: events.errors, "on_error")
    assert len(events.errors) == 1 and "meter exploded" in events.errors[0]
    assert_sentence(events.errors[0])
    assert not player.state.playing

    player.monitor = None
    player.play(path, loop=False)
    wait_for(lambda: events.finished, "the clip to finish")
    assert events.finished == [path]


def _run_isolated(code: str, env_changes: dict[str, str]) -> dict[str, object]:
    import os

    env = {**os.environ, **env_changes}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


PROBE = """
    import json, sys
    from pathlib import Path
    {prelude}
    from core.errors import PlaybackError
    from core.playback import Player, check_audio_output
    out = {{"check": check_audio_output()}}
    try:
        Player().play(Path({clip!r}))
        out["play"] = None
    except PlaybackError as exc:
        out["play"] = str(exc)
    out["sounddevice_loaded"] = "sounddevice" in sys.modules
    print(json.dumps(out))
"""


@pytest.mark.parametrize(
    ("case", "prelude", "alsa_config", "needle"),
    [
        # What `import sounddevice` does when libportaudio is not installed: find_library finds nothing.
        (
            "no PortAudio",
            "import ctypes.util; ctypes.util.find_library = lambda name: None",
            None,
            "PortAudio",
        ),
        # alsa-lib would abort() the whole process (SIGABRT) when ALSA_CONFIG_PATH names no file.
        ("no ALSA config", "", "/nonexistent/asound.conf", "ALSA_CONFIG_PATH"),
        # A broken configuration (a user's ~/.asoundrc): Pa_Initialize fails inside `import sounddevice`.
        ("broken ALSA config", "", "BROKEN", "could not be started"),
    ],
)
def test_no_audio_system_is_one_sentence_not_a_traceback(
    tmp_path: Path, case: str, prelude: str, alsa_config: str | None, needle: str
) -> None:
    path = clip(tmp_path, "a.wav", sine(0.2, 440, 0.3))
    env: dict[str, str] = {}
    if alsa_config == "BROKEN":
        broken = tmp_path / "broken.conf"
        broken.write_text("pcm.!default { type null\n")
        env["ALSA_CONFIG_PATH"] = str(broken)
    elif alsa_config is not None:
        env["ALSA_CONFIG_PATH"] = alsa_config
    out = _run_isolated(PROBE.format(prelude=prelude, clip=str(path)), env)
    assert out["check"] == out["play"], case
    message = str(out["check"])
    assert_sentence(message)
    assert needle in message
    assert out["sounddevice_loaded"] is False


# ---------------------------------------------------------------------- an imported take


def test_an_imported_stereo_24bit_48k_flac_plays_in_stereo_loudness_matched(
    data_dir: Path, tmp_path: Path, player: Player, events: Events, recorder: Recorder
) -> None:
    import io

    import soundfile as sf

    from core.cli import main

    rate = 48_000
    t = np.arange(rate) / rate
    left, right = 0.05 * np.sin(2 * np.pi * 220 * t), 0.02 * np.sin(2 * np.pi * 330 * t)
    take = tmp_path / "take.flac"
    sf.write(take, np.stack([left, right], axis=1), rate, subtype="PCM_24")
    out, err = io.StringIO(), io.StringIO()
    assert main(["import", "--new", str(take), "--json"], out=out, err=err) == 0, err.getvalue()
    (track,) = json.loads(out.getvalue())["tracks"]
    stored = Path(track["path"])

    player.play(stored)
    wait_for(lambda: events.finished, "on_finished")
    assert events.finished == [stored] and not events.errors
    got = recorder.audio(stored)
    sounding = got[np.any(got != 0, axis=1)]
    assert sounding.shape[1] == 2
    # Two channels, as recorded (not a mono fold-down): the left is louder than the right.
    assert np.sqrt(np.mean(sounding[:, 0] ** 2)) > 2 * np.sqrt(np.mean(sounding[:, 1] ** 2))
    # Loudness-matched on both channels together.
    stream_rate = int(round(sounding.shape[0] / 1.0))  # a one-second take, at whatever rate the device took
    assert integrated_loudness(sounding, stream_rate) == pytest.approx(-18.0, abs=1.0)


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
