"""The player on ALSA's null device: every clip at the same loudness, under the ceiling, at a rate
the device takes; an imported take.

See tests/core/playback/conftest.py for how the null device is set up.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from core.audio import integrated_loudness, read_audio
from core.playback import Player
from tests.core.playback.helpers import CEILING, RATE, Events, Recorder, clip, sine, wait_for

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
