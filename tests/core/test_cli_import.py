"""sessionlab import: musicians' files (names, formats) come in as they are, or are refused in one sentence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import soundfile as sf

from tests.core.cli_helpers import run, take

# ---------------------------------------------------------------- imports


def test_a_file_with_a_latin1_name_imports(data_dir, tmp_path):
    latin1 = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9 loop.wav"))
    take(latin1)
    code, out, err = run("import", "--new", str(latin1), "--json")
    assert code == 0, err
    (track,) = json.loads(out)["tracks"]
    assert track["source"].endswith("caf\ufffd loop.wav")  # stored as text; the file itself is untouched
    assert Path(track["path"]).is_file()


@pytest.mark.parametrize("name", ["take.wav", "take.flac"])
def test_an_import_keeps_the_musicians_file_as_it_was(data_dir, tmp_path, name):
    from core.audio import clip_file_problem, loudness_gain, read_audio

    original = take(tmp_path / name)  # stereo, 24-bit, 48 kHz
    code, out, err = run("import", "--new", str(original), "--json")
    assert code == 0, err
    (track,) = json.loads(out)["tracks"]
    stored = Path(track["path"])
    assert stored.suffix == original.suffix
    assert stored.read_bytes() == original.read_bytes()
    info = sf.info(str(stored))
    assert (info.channels, info.samplerate, info.subtype) == (2, 48_000, "PCM_24")
    # show and playback find it whole: stereo samples, a loudness gain from both channels.
    assert clip_file_problem(stored) is None
    samples, rate = read_audio(stored, mono=False)
    assert samples.shape[1] == 2 and rate == 48_000
    assert 0 < loudness_gain(samples, rate, -18.0) < 10
    # A later start (the sweep) leaves it where it is.
    assert run("sessions")[0] == 0 and stored.read_bytes() == original.read_bytes()


def _one_hertz(tmp_path: Path) -> Path:
    return take(tmp_path / "one_hertz.wav", rate=1, sec=100)


def _cut(tmp_path: Path) -> Path:
    full = take(tmp_path / "whole.wav")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return cut


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    return folder


def _fifo(tmp_path: Path) -> Path:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)  # nothing ever writes to it: reading it would block for ever
    return fifo


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_one_hertz, "sample rate of 1 Hz"),
        (_cut, "is cut short"),
        (_folder, "is a directory"),
        (_fifo, "is not a regular file"),
    ],
)
def test_import_refuses_what_a_musician_would_not_expect_silently(data_dir, tmp_path, make, fragment):
    good = take(tmp_path / "good.wav")
    bad = make(tmp_path)
    code, _, err = run("import", "--new", str(good), str(bad))
    assert code == 2 and fragment in err and bad.name in err and err.count("\n") == 1, err
    assert not data_dir.exists()
