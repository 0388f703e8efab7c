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
    from core.store import SessionStore

    store = SessionStore(data_dir, read_only=True)
    try:  # the CLI reads the store only
        assert store.get_analysis([t["id"] for t in generated["tracks"]]) == {}
    finally:
        store.close()


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


def test_kept_clips_carry_their_curation_and_the_cluster_name_a_musician_gave(data_dir, generated, tmp_path):
    from wavinfo import WavInfoReader

    session = generated["id"]
    cluster = generated["batches"][0]["clusters"][0]
    track = cluster["track_ids"][0]
    for argv in (
        ("keep", track),
        ("rate", track, "4"),
        ("note", track, "the one for the intro"),
        ("rename-cluster", session, cluster["id"], "Intro Café"),
    ):
        code, _, err = run(*argv)
        assert code == 0, err
    code, out, err = run("export", session, "--kept", "--to", str(tmp_path), "--json")
    assert code == 0, err
    (only,) = json.loads(out)["files"]
    assert only["track_id"] == track and only["cluster"] == "Intro Café"
    name = only["path"].rsplit("/", 1)[1]
    assert name.startswith("Intro-Cafe_") and name.endswith("_1.wav")
    ixml = WavInfoReader(only["path"]).ixml.raw_xml
    assert ixml.findtext("SESSIONLAB/KEPT") == "yes" and ixml.findtext("SESSIONLAB/RATING") == "4"
    assert ixml.findtext("NOTE") == "the one for the intro"
    manifest = json.loads((tmp_path / "session.json").read_text())
    assert manifest["files"][0]["curation"] == {
        "kept": True,
        "rating": 4,
        "discarded": False,
        "tags": [],
        "note": "the one for the intro",
    }


def test_discarded_clips_stay_out_of_a_whole_session_export(data_dir, generated, tmp_path):
    session = generated["id"]
    dropped = generated["tracks"][0]["id"]
    code, _, err = run("discard", dropped)
    assert code == 0, err
    code, out, err = run("export", session, "--loudness", "none", "--to", str(tmp_path), "--json")
    assert code == 0, err
    exported = [f["track_id"] for f in json.loads(out)["files"]]
    assert dropped not in exported and len(exported) == 2


def test_one_file_exported_is_one_file(data_dir, generated, tmp_path):
    """One file is "1 file and session.json", not "1 files"."""
    track = generated["tracks"][0]["id"]
    code, out, err = run("export", generated["id"], "--tracks", track[:8], "--to", str(tmp_path / "one"))
    assert code == 0, err
    assert out.splitlines()[-1].startswith("1 file and session.json in ")
