import numpy as np
import pytest
import soundfile as sf

from core.audio import (
    equal_power_crossfade,
    fade_edges,
    integrated_loudness,
    limit_peak,
    loudness_gain,
    read_audio,
    resample,
    write_wav_atomic,
)
from core.errors import AudioFileError

RATE = 48_000


def sine(freq: float, amplitude: float, seconds: float = 5.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_loudness_of_reference_tone():
    # BS.1770: a 1 kHz sine at -20 dBFS peak in one channel reads about -23 LUFS... (0.1 amplitude -> -23.0)
    assert integrated_loudness(sine(1000, 0.1), RATE) == pytest.approx(-23.0, abs=0.1)
    # 6 dB quieter reads 6 LU lower.
    assert integrated_loudness(sine(1000, 0.05), RATE) == pytest.approx(-29.0, abs=0.1)


def test_loudness_k_weighting_low_frequencies_count_less():
    assert integrated_loudness(sine(40, 0.1), RATE) < integrated_loudness(sine(1000, 0.1), RATE) - 1.0


def test_loudness_of_silence_and_short_input():
    assert integrated_loudness(np.zeros(RATE), RATE) == -70.0
    assert np.isfinite(integrated_loudness(sine(1000, 0.1, seconds=0.1), RATE))


def test_loudness_gain_reaches_target_and_respects_ceiling():
    quiet = sine(440, 0.01)
    gain = loudness_gain(quiet, RATE, -18.0)
    assert integrated_loudness(quiet * gain, RATE) == pytest.approx(-18.0, abs=0.2)
    spiky = quiet.copy()
    spiky[100] = 0.9  # a peak that leaves no room to reach the target
    gain = loudness_gain(spiky, RATE, -18.0, ceiling_dbfs=-1.0)
    assert np.max(np.abs(spiky * gain)) <= 10 ** (-1 / 20) + 1e-6


def test_write_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / "a" / "clip.wav"
    samples = sine(440, 0.5, seconds=1, rate=32_000)
    write_wav_atomic(path, samples, 32_000)
    assert [p.name for p in path.parent.iterdir()] == ["clip.wav"]
    back, rate = read_audio(path)
    assert rate == 32_000
    assert back.shape == samples.shape
    assert np.max(np.abs(back - samples)) < 1e-3


def test_read_audio_errors_name_the_file(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    with pytest.raises(AudioFileError, match="notes.wav"):
        read_audio(text)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 32_000)
    with pytest.raises(AudioFileError, match="empty.wav contains no audio"):
        read_audio(empty)
    with pytest.raises(AudioFileError, match="missing.wav"):
        read_audio(tmp_path / "missing.wav")


def test_read_audio_mixes_to_mono(tmp_path):
    stereo = np.stack([sine(440, 0.4, 1), -sine(440, 0.4, 1) * 0.5], axis=1)
    path = tmp_path / "s.flac"
    sf.write(path, stereo, RATE)
    mono, rate = read_audio(path)
    assert mono.ndim == 1 and rate == RATE
    assert np.max(np.abs(mono)) == pytest.approx(0.1, abs=0.01)


def test_resample_keeps_length_and_pitch():
    x = sine(440, 0.5, seconds=1, rate=32_000)
    y = resample(x, 32_000, 48_000)
    assert y.shape[0] == 48_000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * 48_000 / y.shape[0] == pytest.approx(440, abs=2)


def test_limit_fade_crossfade():
    loud = sine(440, 1.0, 1)
    assert np.max(np.abs(limit_peak(loud, -1.0))) == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    faded = fade_edges(np.ones(1000, dtype=np.float32), 1000, 0.1)
    assert faded[0] == 0.0 and faded[-1] == 0.0 and faded[500] == 1.0
    joined = equal_power_crossfade(np.ones(100), np.ones(100), 20)
    assert joined.shape[0] == 180
    assert np.all(joined >= 0.99)  # equal power: a correlated join swells, never dips


def test_clip_file_problem_says_missing_unreadable_or_none(tmp_path) -> None:
    from core.audio import clip_file_problem, write_wav_atomic

    good = write_wav_atomic(tmp_path / "good.wav", np.zeros(3200, dtype=np.float32), 32000)
    assert clip_file_problem(good) is None
    assert clip_file_problem(tmp_path / "gone.wav") == "missing"
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    assert clip_file_problem(junk) == "unreadable"
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert clip_file_problem(empty) == "unreadable"
    assert clip_file_problem(tmp_path) == "unreadable"  # a directory where a clip should be


def test_check_import_trusts_a_streamed_wav_header_and_refuses_a_cut_one(tmp_path):
    """A recorder that streams writes 0xFFFFFFFF as the data size: not a promise. A cut copy is refused."""
    import struct

    from core.audio import check_import

    whole = tmp_path / "whole.wav"
    sf.write(whole, np.full((4800, 2), 0.1, dtype=np.float32), 48_000, subtype="PCM_24")
    assert check_import(whole) == (48_000, ".wav")
    streamed = bytearray(whole.read_bytes())
    at = streamed.find(b"data")
    streamed[at + 4 : at + 8] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "streamed.wav").write_bytes(streamed)
    assert check_import(tmp_path / "streamed.wav") == (48_000, ".wav")
    (tmp_path / "cut.wav").write_bytes(whole.read_bytes()[:-100])
    with pytest.raises(AudioFileError, match="cut.wav is cut short"):
        check_import(tmp_path / "cut.wav")


def test_clip_file_problem_reads_a_plain_wav_header_and_agrees_with_libsndfile(tmp_path) -> None:
    """The pure-Python header check answers for plain WAVs; every other file goes to libsndfile.
    Either way the answer is libsndfile's own."""
    import os

    import soundfile as sf

    from core.clipcheck import _libsndfile_problem, _plain_wav_is_playable, clip_file_problem

    tone = 0.2 * np.sin(np.linspace(0, 400, 1600)).astype(np.float32)
    plain = []
    for subtype, channels in (
        ("PCM_16", 1),
        ("PCM_24", 2),
        ("PCM_32", 1),
        ("FLOAT", 2),
        ("DOUBLE", 1),
        ("PCM_U8", 1),
    ):
        path = tmp_path / f"{subtype}-{channels}.wav"
        sf.write(path, np.stack([tone] * channels, axis=1), 16_000, subtype=subtype)
        plain.append(path)
    extensible = tmp_path / "extensible.wav"
    sf.write(extensible, np.stack([tone] * 3, axis=1), 16_000, format="WAVEX", subtype="PCM_16")
    plain.append(extensible)
    cut = tmp_path / "cut.wav"  # the header promises more than is there: libsndfile plays what is
    cut.write_bytes(plain[0].read_bytes()[:1000])
    plain.append(cut)
    for path in plain:
        assert _plain_wav_is_playable(path), path.name
        assert clip_file_problem(path) is None and _libsndfile_problem(path) is None, path.name

    no_frames = tmp_path / "no-frames.wav"
    sf.write(no_frames, np.zeros((0, 1), dtype=np.float32), 16_000)
    only_header = tmp_path / "only-header.wav"
    only_header.write_bytes(plain[0].read_bytes()[:44])
    adpcm = tmp_path / "adpcm.wav"
    sf.write(adpcm, tone, 16_000, subtype="IMA_ADPCM")
    flac = tmp_path / "take.flac"
    sf.write(flac, tone, 16_000)
    fmt_cut = tmp_path / "fmt-cut.wav"
    fmt_cut.write_bytes(plain[0].read_bytes()[:30])
    for path in (no_frames, only_header, adpcm, flac, fmt_cut, tmp_path / "gone.wav", tmp_path):
        assert not _plain_wav_is_playable(path), path.name  # not sure: libsndfile decides
        assert clip_file_problem(path) == _libsndfile_problem(path), path.name
    assert clip_file_problem(adpcm) is None and clip_file_problem(flac) is None
    assert clip_file_problem(no_frames) == "unreadable" and clip_file_problem(only_header) == "unreadable"
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    assert not _plain_wav_is_playable(fifo)  # returns at once: a pipe is never opened
    assert clip_file_problem(fifo) == "unreadable"


def test_true_peak_finds_the_peak_between_samples():
    from core.audio import true_peak_dbtp

    # A sine at a quarter of the rate, sampled 45 degrees off its crests: every sample
    # reads 0.707 of the true amplitude, 3 dB under the peak the signal really reaches.
    n = np.arange(RATE)
    x = (0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-9.03, abs=0.05)
    assert true_peak_dbtp(x, RATE) == pytest.approx(-6.02, abs=0.1)


def test_normalize_gains_first_and_limits_only_where_needed():
    from core.audio.loudness import normalize

    quiet = sine(440, 0.05)
    plain = normalize(quiet, RATE, -18.0)
    assert plain.limited_db == 0.0  # a sine at -18 LUFS has room under -1 dBTP
    assert np.allclose(plain.samples, quiet * 10 ** (plain.gain_db / 20), atol=1e-6)
    # Quiet music with rare loud clicks: reaching -14 LUFS needs the limiter, on the clicks only.
    rng = np.random.default_rng(1)
    spiky = sine(440, 0.05) + sine(1000, 0.03)
    clicks = rng.choice(spiky.shape[0], 20, replace=False)
    spiky[clicks] = 0.9
    limited = normalize(spiky, RATE, -14.0)
    assert limited.limited_db < -6.0
    assert abs(integrated_loudness(limited.samples, RATE) - -14.0) <= 0.2
    assert limited.true_peak_dbtp <= -1.0
    before = spiky * 10 ** (limited.gain_db / 20)
    audible = np.abs(before) > 0.02  # where the ratio of after to before reads the gain
    gain = np.where(audible, limited.samples / np.where(audible, before, 1.0), np.nan)
    far = audible.copy()
    for c in clicks:
        far[max(0, c - RATE // 10) : c + RATE // 10] = False
    assert np.allclose(gain[far], 1.0, atol=1e-4)  # untouched away from the clicks
    steps = np.abs(np.diff(gain))
    assert np.nanmax(steps) < 0.01  # and smooth where it works
    kept = normalize(spiky, RATE, None)
    assert np.array_equal(kept.samples, spiky)
    assert kept.true_peak_dbtp >= 20 * np.log10(0.9) - 1e-4  # never under the sample peak


def test_normalize_leaves_silence_silent():
    from core.audio.loudness import normalize

    result = normalize(np.zeros(RATE, dtype=np.float32), RATE, -14.0)
    assert not np.any(result.samples) and result.gain_db == 0.0
    assert result.lufs == -70.0 and result.true_peak_dbtp == -np.inf
