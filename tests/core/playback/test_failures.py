"""The player on ALSA's null device: unreadable files, unknown, late and lost devices, callback
errors, no audio system: one sentence each, and the player goes on.

See tests/core/playback/conftest.py for how the null device is set up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import PlaybackError
from core.playback import DEVICE_LOST, Player, check_audio_output
from tests.audio_device import BROKEN_CONF, NULL_CONF, rescan_portaudio
from tests.core.playback.helpers import REPO, Events, assert_sentence, clip, sine, wait_for

# ---------------------------------------------------------------------- failures


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
