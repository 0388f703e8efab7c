"""``sessionlab export`` on the embedded defaults, with a real data dir."""

from __future__ import annotations

import io
import json

import pytest
import soundfile as sf

from core.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def generated(data_dir):
    code, out, err = run(
        "generate",
        "--brief",
        "bright folk guitar",
        "--clips",
        "3",
        "--duration",
        "2",
        "--seed",
        "5",
        "--json",
    )
    assert code == 0, err
    return json.loads(out)


def test_export_prints_each_file_with_its_loudness_and_peak(data_dir, generated, tmp_path):
    session = generated["id"][:8]
    code, out, err = run("export", session, "--loudness", "-14", "--to", str(tmp_path / "out"))
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 4 and lines[-1].startswith("3 files and session.json in ")
    for line in lines[:3]:
        path, rest = line.split("  ", 1)
        assert sf.info(path).subtype == "PCM_24"
        lufs, peak = float(rest.split("LUFS")[0]), float(rest.split("LUFS")[1].split("dBTP")[0])
        assert abs(lufs - -14.0) <= 0.5 and peak <= -1.0


def test_export_json_of_a_cluster_and_of_clips_by_prefix(data_dir, generated, tmp_path):
    session = generated["id"]
    cluster = generated["batches"][0]["clusters"][0]
    code, out, err = run(
        "export",
        session,
        "--cluster",
        cluster["id"][:6],
        "--format",
        "flac",
        "--to",
        str(tmp_path / "c"),
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert sorted(f["track_id"] for f in doc["files"]) == sorted(cluster["track_ids"])
    assert all(f["path"].endswith(".flac") and f["true_peak_dbtp"] <= -1.0 for f in doc["files"])
    assert all(abs(f["lufs"] - -18.0) <= 0.5 for f in doc["files"])
    track = generated["tracks"][0]["id"]
    code, out, err = run(
        "export", session, "--tracks", track[:8], "--loudness", "none", "--to", str(tmp_path / "t"), "--json"
    )
    assert code == 0, err
    (only,) = json.loads(out)["files"]
    assert only["track_id"] == track


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--format", "mp3"], "wav or flac"),
        (["--loudness", "-9"], "none, -14 or -18"),
        (["--tracks", "zz"], "not a clip id"),
        (["--kept"], "No clip of this session is kept"),
    ],
)
def test_export_user_errors_are_one_line_and_write_nothing(data_dir, generated, tmp_path, flags, fragment):
    code, out, err = run("export", generated["id"], *flags, "--to", str(tmp_path / "never"))
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "never").exists()
