"""The sessionlab CLI on the embedded defaults, with a real data dir: generate, more, show, import."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.cli import main
from core.store import SessionStore
from tests.core.cli_helpers import media_wavs, run


def test_generate_json_document(data_dir, generated):
    doc = generated
    assert doc["brief_text"] == "slow dark ambient pad"
    (batch,) = doc["batches"]
    assert batch["num_generated"] == 4 and batch["seed"] == 11 and batch["engine"] == "sketch"
    assert batch["embedder"] == "features-v1" and batch["namer"] == "describe"
    tracks = {t["id"]: t for t in doc["tracks"]}
    assert len(doc["tracks"]) == len(tracks) == 4  # each clip once; clusters name them by id
    assert sorted(t for c in batch["clusters"] for t in c["track_ids"]) == sorted(tracks)
    for cluster in batch["clusters"]:
        assert cluster["label"] and cluster["parent_cluster_id"] is None
        assert "tracks" not in cluster
        for track_id in cluster["track_ids"]:
            track = tracks[track_id]
            assert track["cluster_id"] == cluster["id"] and track["batch_id"] == batch["id"]
            assert Path(track["path"]).is_file()
            assert track["duration_sec"] == pytest.approx(2.0, abs=0.01)
            assert track["similarity"] is not None and track["source"] is None
    assert len(media_wavs(data_dir)) == 4


def test_more_by_prefix_json(data_dir, generated):
    session_id = generated["id"]
    cluster = generated["batches"][0]["clusters"][0]
    code, out, err = run("more", session_id[:8], cluster["id"][:8], "--clips", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    (new,) = doc["batches"]  # only the batch just made
    assert doc["id"] == session_id and doc["brief_text"] == generated["brief_text"]
    assert new["kind"] == "more" and new["parent_cluster_id"] == cluster["id"]
    (child,) = new["clusters"]
    assert child["label"] == cluster["label"] and child["parent_cluster_id"] == cluster["id"]
    assert child["id"] != cluster["id"]
    assert 1 <= len(child["track_ids"]) <= 2
    assert [t["id"] for t in doc["tracks"]] == child["track_ids"]
    code, out, _ = run("show", session_id, "--json")
    assert [b["kind"] for b in json.loads(out)["batches"]] == ["initial", "more"]


def test_sessions_and_show(data_dir, generated):
    code, out, _ = run("sessions")
    assert code == 0 and generated["id"] in out and "4 clips" in out
    code, out, _ = run("sessions", "--json")
    assert [s["id"] for s in json.loads(out)] == [generated["id"]]
    code, out, _ = run("show", generated["id"])
    assert code == 0 and "Cluster" in out and generated["batches"][0]["clusters"][0]["label"] in out
    code, out, _ = run("show", generated["id"], "--json")
    assert json.loads(out)["id"] == generated["id"]


def test_show_json_lists_each_clip_once(data_dir, generated):
    cluster = generated["batches"][0]["clusters"][0]
    code, _, err = run("more", generated["id"], cluster["id"], "--clips", "2")
    assert code == 0, err
    code, out, _ = run("show", generated["id"], "--json")
    doc = json.loads(out)
    assert "\n" not in out.rstrip("\n")  # not a terminal: compact
    named = [t for b in doc["batches"] for c in b["clusters"] for t in c["track_ids"]]
    listed = [t["id"] for t in doc["tracks"]]
    assert len(listed) == len(set(listed)) == len(named) >= 5
    assert sorted(listed) == sorted(named)
    assert out.count(doc["tracks"][0]["path"]) == 1  # a clip's fields appear once in the document
    for batch in doc["batches"]:
        for c in batch["clusters"]:
            assert set(c) == {
                "id",
                "label",
                "name",
                "effective_label",
                "parent_cluster_id",
                "second_parent_cluster_id",  # a blend's second parent, else null
                "track_ids",
            }
            assert {t["cluster_id"] for t in doc["tracks"] if t["id"] in c["track_ids"]} == {c["id"]}


def test_show_reads_a_session_without_numpy_or_libsndfile(data_dir, generated):
    """show is a listing: importing numpy (and libsndfile) would cost more than reading a big session."""
    code = (
        "import io, sys\n"
        "from core.cli import main\n"
        f"assert main(['show', '{generated['id']}', '--json'], out=io.StringIO()) == 0\n"
        f"assert main(['show', '{generated['id']}'], out=io.StringIO()) == 0\n"
        "print(sorted(m for m in ('numpy', 'soundfile') if m in sys.modules))\n"
    )
    repo = Path(__file__).resolve().parents[2]  # this checkout's core, first on the path of `-c`
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=repo
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_json_is_indented_for_a_terminal(data_dir, generated):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    assert main(["show", generated["id"], "--json"], out=out, err=io.StringIO()) == 0
    assert out.getvalue().startswith('{\n  "id": ')
    assert json.loads(out.getvalue()) == json.loads(run("show", generated["id"], "--json")[1])


def test_empty_sessions_list_says_how_to_start(data_dir):
    code, out, _ = run("sessions")
    assert code == 0 and "No sessions yet" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["generate", "--brief", "   "], "brief is empty"),
        (["generate", "--brief", "x", "--energy", "2"], "Energy must be between 0 and 1"),
        (["generate", "--brief", "x", "--duration", "601"], "at most 600 seconds"),
        (["generate", "--brief", "x", "--bpm", "400"], "Tempo must be between 30 and 300"),
        (["generate", "--brief", "x", "--lyrics", "la"], "sketch engine does not sing"),
        (["generate", "--brief", "x", "--clips", "9"], "between 1 and 6"),
        (["generate", "--brief", "x" * 2001], "limit is 2000"),
        (["generate", "--brief", "x", "--clips", "two"], "invalid int value"),
        (["generate", "--brief", "x", "--engine", "nope"], "Unknown engine 'nope'"),
        (["generate"], "required: --brief"),
        (["show", "deadbeef"], "No session"),
        (["more", "deadbeef", "cafe"], "No session"),
        (["bogus"], "invalid choice"),
    ],
)
def test_user_errors_are_one_line_exit_2_and_write_nothing(data_dir, argv, fragment):
    code, out, err = run(*argv)
    assert code == 2
    assert fragment in err
    assert err.count("\n") == 1 and err.startswith("sessionlab: ")
    assert "Traceback" not in err
    assert not (data_dir / "media").exists() or media_wavs(data_dir) == []
    if (data_dir / "sessionlab.db").exists():
        assert SessionStore(data_dir).list_sessions() == []


def test_import_new_session_and_into_existing(data_dir, generated, tmp_path):
    rate = 44_100
    t = np.arange(rate * 2) / rate
    a = tmp_path / "my_guitar_loop.flac"
    sf.write(a, np.stack([0.3 * np.sin(2 * np.pi * 196 * t)] * 2, axis=1), rate)
    b = tmp_path / "hum.wav"
    sf.write(b, 0.2 * np.sin(2 * np.pi * 110 * t), 16_000)
    code, out, err = run("import", "--new", str(a), str(b), "--json")
    assert code == 0, err
    doc = json.loads(out)
    (batch,) = doc["batches"]
    assert batch["kind"] == "import" and batch["num_generated"] == 2
    sources = sorted(t["source"] for t in doc["tracks"])
    assert sources == sorted([str(a.resolve()), str(b.resolve())])
    assert all(Path(t["path"]).is_file() for t in doc["tracks"])
    # Into the generated session, then more-like from the imported cluster.
    code, out, err = run("import", generated["id"], str(a), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["id"] == generated["id"] and [b["kind"] for b in doc["batches"]] == ["import"]
    assert [t["source"] for t in doc["tracks"]] == [str(a.resolve())]
    cluster_id = doc["batches"][0]["clusters"][0]["id"]
    code, out, err = run("more", generated["id"], cluster_id, "--clips", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["batches"][0]["clusters"][0]["parent_cluster_id"] == cluster_id
    code, out, _ = run("show", generated["id"], "--json")
    assert [b["kind"] for b in json.loads(out)["batches"]] == ["initial", "import", "more"]


def test_import_of_bad_files_names_the_file_and_writes_nothing(data_dir, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(1600, dtype=np.float32) + 0.1, 16_000)
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("hello")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16_000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(good.read_bytes()[:30])
    for bad in (not_audio, empty, corrupt, tmp_path / "missing.ogg"):
        code, _, err = run("import", "--new", str(good), str(bad))
        assert code == 2, err
        assert bad.name in err and err.count("\n") == 1
    assert SessionStore(data_dir).list_sessions() == []
    assert media_wavs(data_dir) == []


def test_console_script_in_a_fresh_process(data_dir):
    """The installed entry point, as a musician runs it (no terminal: no progress bar)."""
    env = dict(os.environ)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sessionlab",
            "generate",
            "--brief",
            "bright acoustic folk strum",
            "--clips",
            "2",
            "--duration",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "Session " in result.stdout and "Cluster " in result.stdout
    assert result.stderr == ""
    bad = subprocess.run(
        [sys.executable, "-m", "sessionlab", "generate", "--brief", ""],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("sessionlab: ") and bad.stderr.count("\n") == 1
