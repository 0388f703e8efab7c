"""Export to a DAW (issue 9): six sketch clips of 10 s, checked by independent readers.

Loudness by pyloudnorm, true peak by scipy's polyphase resampler (not soxr, which
the exporter uses), bext, iXML and smpl by wavinfo, acid by its documented
layout (libsndfile's reader: flags, root note, two reserved fields, beats,
meter, tempo), FLAC tags by mutagen.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import threading
import uuid
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from mutagen.flac import FLAC
from scipy.signal import resample_poly
from wavinfo import WavInfoReader

from core.errors import NotFoundError, ValidationError
from core.export.daw import ExportOptions, export_tracks
from core.export.files import file_stem, write_new_file
from core.models import BriefParams
from core.settings import Settings

NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-#.")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A sketch session of six 10 s clips (the issue's "Done means" case)."""
    from core.service import SessionService

    root = tmp_path_factory.mktemp("data")
    service = SessionService.from_settings(Settings(data_dir=root), engine="sketch")
    made = service.create_initial_batch(
        "dusty lofi piano, warm and slow", BriefParams(energy=0.6, density=0.6, duration_sec=10.0), 6, seed=7
    )
    yield service.store, made
    service.store.close()


def true_peak_dbtp(samples: np.ndarray) -> float:
    up = resample_poly(np.asarray(samples, dtype=np.float64), 4, 1, axis=0)
    return 20 * np.log10(np.max(np.abs(up)))


def acid_fields(path: Path) -> tuple[int, int, int, int, int, float]:
    """(flags, root note, beats, meter denominator, meter numerator, tempo) of the acid chunk."""
    data = path.read_bytes()
    offset = 12
    while offset < len(data):
        name, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        if name == b"acid":
            flags, root, _, _, beats, denominator, numerator, tempo = struct.unpack(
                "<IHHfIHHf", data[offset + 8 : offset + 32]
            )
            return flags, root, beats, denominator, numerator, tempo
        offset += 8 + size + (size & 1)
    raise AssertionError("no acid chunk")


def test_six_clips_at_minus_14_hold_loudness_peak_and_metadata(session, tmp_path):
    store, made = session
    tracks = made.tracks
    assert len(tracks) == 6
    stages = []
    result = export_tracks(
        store,
        made.id,
        [t.id for t in tracks],
        ExportOptions(format="wav", loudness="-14", to=tmp_path / "out"),
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    assert len(result.files) == 6 and not result.cancelled
    assert stages[0] == ("export", 0, 6) and stages[-1] == ("export", 6, 6)
    recipes = {t.id: t.recipe for t in tracks}
    for exported in result.files:
        path = exported.path
        assert set(path.name) <= NAME_CHARS
        audio, rate = sf.read(path, dtype="float64")
        info = sf.info(path)
        assert info.subtype == "PCM_24" and rate == 32_000 and info.frames == 320_000
        lufs = pyloudnorm.Meter(rate).integrated_loudness(audio)
        assert abs(lufs - -14.0) <= 0.5, (path.name, lufs)
        assert true_peak_dbtp(audio) <= -1.0, path.name
        assert abs(exported.lufs - lufs) < 0.2  # what the exporter reports is what a meter reads

        wav = WavInfoReader(str(path))
        assert wav.bext.description == "dusty lofi piano, warm and slow"
        assert wav.bext.originator == "Session Lab"
        assert wav.bext.originator_ref == exported.track_id.hex
        assert wav.bext.version == 2
        assert wav.bext.loudness_value == pytest.approx(exported.lufs, abs=0.01)
        assert wav.bext.max_true_peak == pytest.approx(exported.true_peak_dbtp, abs=0.01)
        assert wav.bext.max_true_peak <= -1.0
        ixml = wav.ixml.raw_xml
        track = next(t for t in tracks if t.id == exported.track_id)
        assert ixml.findtext("SESSIONLAB/PROMPT") == track.raw_prompt
        assert ixml.findtext("SESSIONLAB/SEED") == str(track.seed)
        assert ixml.findtext("SESSIONLAB/ENGINE") == "sketch"
        assert ixml.findtext("SESSIONLAB/SESSION_ID") == str(made.id)
        assert ixml.findtext("SESSIONLAB/CLIP_ID") == str(track.id)
        assert ixml.findtext("SCENE") == exported.cluster

        recipe = recipes[exported.track_id]
        assert exported.bpm == pytest.approx(recipe["tempo"], abs=0.01)
        assert exported.tempo_key_source == "engine"
        flags, root, beats, denominator, numerator, tempo = acid_fields(path)
        assert root == 0x30 + recipe["key"] and flags & 0x02  # root note set
        assert not flags & 0x01 and flags & 0x04  # a loop, stretched to the project tempo
        assert tempo == pytest.approx(recipe["tempo"], abs=0.01)
        assert beats == round(10.0 * recipe["tempo"] / 60.0) and (numerator, denominator) == (4, 4)
        assert wav.smpl.midi_note == 60 + recipe["key"]
        assert wav.smpl.sample_period_ns == round(1e9 / 32_000)
        (loop,) = wav.smpl.sample_loops
        assert (loop.start, loop.end, loop.loop_type) == (0, 319_999, 0)
        assert f"_{round(recipe['tempo'])}bpm_" in path.name

    # What the export learned of the stored clips is kept (this store is writable).
    learned = store.get_analysis([t.id for t in tracks])
    for track in tracks:
        assert learned[track.id].source == "engine" and learned[track.id].bpm == track.recipe["tempo"]
        assert learned[track.id].lufs < -14.0  # the stored clip, quieter than its export

    document = json.loads(result.manifest.read_text())
    assert document["complete"] and document["options"]["loudness_target_lufs"] == -14.0
    assert [f["file"] for f in document["files"]] == [f.path.name for f in result.files]
    first = document["files"][0]
    assert first["clip"]["recipe"]["tempo"] == recipes[uuid.UUID(first["track_id"])]["tempo"]
    assert first["curation"] == {"kept": False, "rating": None, "discarded": False, "tags": [], "note": ""}
    assert first["loudness"]["true_peak_dbtp"] <= -1.0


def test_flac_carries_the_same_audio_and_vorbis_comments(session, tmp_path):
    store, made = session
    track = made.tracks[0]
    result = export_tracks(
        store, made.id, [track.id], ExportOptions(format="flac", loudness="-18", to=tmp_path)
    )
    (exported,) = result.files
    assert exported.path.suffix == ".flac"
    audio, rate = sf.read(exported.path, dtype="float64")
    assert sf.info(exported.path).subtype == "PCM_24"
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio) - -18.0) <= 0.5
    assert true_peak_dbtp(audio) <= -1.0
    tags = FLAC(exported.path)
    assert tags["BPM"] == [f"{track.recipe['tempo']:.2f}"]
    assert tags["KEY"][0].split()[1] in ("major", "minor")
    assert tags["DESCRIPTION"] == ["dusty lofi piano, warm and slow"]
    assert tags["COMMENT"] == ["dusty lofi piano, warm and slow"]
    assert tags["SESSIONLAB_CLIP_ID"] == [str(track.id)]
    assert tags["SESSIONLAB_SEED"] == [str(track.seed)]
    assert float(tags["TRUE_PEAK_DBTP"][0]) <= -1.0


def test_none_keeps_the_audio_as_rendered_and_never_overwrites(session, tmp_path):
    store, made = session
    track = made.tracks[1]
    original, _ = sf.read(track.path, dtype="float64")
    first = export_tracks(store, made.id, [track.id], ExportOptions(loudness="none", to=tmp_path))
    again = export_tracks(store, made.id, [track.id], ExportOptions(loudness="none", to=tmp_path))
    a, b = first.files[0].path, again.files[0].path
    assert a != b and b.name == a.stem + "-2.wav"
    assert first.manifest.name == "session.json" and again.manifest.name == "session-2.json"
    audio, _ = sf.read(a, dtype="float64")
    assert np.max(np.abs(audio - original)) < 1e-4  # 16-bit source in a 24-bit file: the same samples


def test_cancel_leaves_only_whole_files(session, tmp_path):
    store, made = session
    cancel = threading.Event()

    def progress(stage, done, total):
        if done == 2:
            cancel.set()

    out = tmp_path / "out"
    result = export_tracks(
        store, made.id, [t.id for t in made.tracks], ExportOptions(to=out), progress=progress, cancel=cancel
    )
    assert result.cancelled and len(result.files) == 2
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f.path.name for f in result.files] + ["session.json"])  # no temporary left
    for f in result.files:
        assert sf.info(f.path).frames == 320_000
    assert json.loads((out / "session.json").read_text())["complete"] is False


def test_bad_options_and_unknown_clips_are_one_sentence(session, tmp_path):
    store, made = session
    with pytest.raises(ValidationError, match="wav or flac"):
        ExportOptions(format="mp3")
    with pytest.raises(ValidationError, match="none, -14 or -18"):
        ExportOptions(loudness="-9")
    with pytest.raises(NotFoundError):
        export_tracks(store, made.id, [uuid.uuid4()], ExportOptions(to=tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_file_names_keep_to_what_sample_stores_accept():
    assert file_stem("Bright Driving", 120.4, "F# minor", 3) == "Bright-Driving_120bpm_F#min_3"
    assert file_stem("Café / Nuit: *", None, None, 1) == "Cafe-Nuit_1"
    assert file_stem("漢字", 90.0, "Bb major", 2) == "clip_90bpm_Bbmaj_2"


def test_an_imported_stereo_clip_keeps_its_rate_and_channels(tmp_path):
    """A musician's 48 kHz stereo file: exported at 48 kHz in two channels, its tempo and
    key estimated from the audio (the engine recorded none)."""
    from core.service import SessionService

    rate = 48_000
    t = np.arange(rate * 6) / rate
    beat = np.exp(-((t % 0.5) * 30.0)) * np.sin(2 * np.pi * 60 * t)  # a kick every 0.5 s
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63)) / 3
    left, right = 0.5 * beat + 0.2 * chord, 0.5 * beat + 0.1 * chord
    source = tmp_path / "my loop.flac"
    sf.write(source, np.stack([left, right], axis=1), rate, subtype="PCM_24")
    service = SessionService.from_settings(Settings(data_dir=tmp_path / "data"), engine="sketch")
    try:
        batch = service.import_clips(None, [source])
        (track,) = batch.tracks
        result = export_tracks(
            service.store, batch.session_id, [track.id], ExportOptions(to=tmp_path / "out")
        )
    finally:
        service.store.close()
    (exported,) = result.files
    audio, got_rate = sf.read(exported.path, dtype="float64")
    assert got_rate == rate and audio.shape == (rate * 6, 2)
    assert not np.allclose(audio[:, 0], audio[:, 1])  # two channels, not a mono copy
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio) - -18.0) <= 0.5
    assert true_peak_dbtp(audio) <= -1.0
    assert exported.tempo_key_source in ("estimate", None)
    entry = json.loads(result.manifest.read_text())["files"][0]
    assert entry["sample_rate"] == rate and entry["channels"] == 2
    assert entry["clip"]["source"] and "tempo" not in (entry["clip"]["recipe"] or {})


def test_a_clip_without_tempo_is_a_one_shot_without_loops(tmp_path):
    from datetime import datetime

    from core.audio.wav_meta import ClipMetadata, wav_bytes

    meta = ClipMetadata(
        title="x",
        brief="ünïcode brief",
        session="s",
        cluster="c",
        take=1,
        created=datetime(2026, 1, 2, 3, 4, 5),
    )
    path = tmp_path / "x.wav"
    path.write_bytes(wav_bytes(np.zeros((1000, 3), dtype=np.float32), 44_100, meta, None))
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.frames) == (44_100, 3, 1000)  # WAVE_FORMAT_EXTENSIBLE
    wav = WavInfoReader(str(path))
    assert wav.bext.description == "unicode brief"  # ASCII, as the standard asks
    assert (wav.bext.originator_date, wav.bext.originator_time) == ("2026-01-02", "03:04:05")
    assert wav.bext.loudness_value == 327.67  # 0x7FFF: not measured
    assert wav.smpl.sample_loops == []
    flags, root, beats, *_ = acid_fields(path)
    assert flags & 0x01 and not flags & 0x02 and beats == 0  # one-shot, no root note


def test_a_folder_without_hard_links_still_never_overwrites(tmp_path, monkeypatch):
    """FAT and some network shares refuse os.link: the name is claimed with O_EXCL instead."""
    import errno
    import os

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "a_1.wav").write_bytes(b"the musician's own file")
    first = write_new_file(tmp_path, "a_1", ".wav", lambda p: p.write_bytes(b"new"))
    second = write_new_file(tmp_path, "a_1", ".wav", lambda p: p.write_bytes(b"newer"))
    assert (first.name, second.name) == ("a_1-2.wav", "a_1-3.wav")
    assert (tmp_path / "a_1.wav").read_bytes() == b"the musician's own file"
    assert first.read_bytes() == b"new" and second.read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_1-2.wav", "a_1-3.wav", "a_1.wav"]

    def broken(path):
        path.write_bytes(b"half")
        raise RuntimeError("encoder failed")

    with pytest.raises(RuntimeError):
        write_new_file(tmp_path, "b_1", ".wav", broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_1-2.wav", "a_1-3.wav", "a_1.wav"]


def test_exported_files_get_the_users_usual_mode_not_a_private_one(session, tmp_path):
    """mkstemp makes 0o600 files; a DAW, a sample browser or a colleague reading the folder
    expects what any new file gets here (0o666 less the umask)."""
    store, made = session
    old = os.umask(0o027)
    try:
        result = export_tracks(
            store, made.id, [made.tracks[0].id], ExportOptions(loudness="none", to=tmp_path)
        )
    finally:
        os.umask(old)
    for path in (result.files[0].path, result.manifest):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
