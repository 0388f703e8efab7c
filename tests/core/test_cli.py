"""The sessionlab CLI on the embedded defaults, with a real data dir."""

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


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def media_wavs(root: Path) -> list[Path]:
    media = root / "media"
    return sorted(p for p in media.rglob("*.wav") if "tmp" not in p.relative_to(media).parts)


@pytest.fixture
def generated(data_dir):
    code, out, err = run(
        "generate",
        "--brief",
        "slow dark ambient pad",
        "--clips",
        "4",
        "--duration",
        "2",
        "--seed",
        "11",
        "--json",
    )
    assert code == 0, err
    return json.loads(out)


def test_generate_json_document(data_dir, generated):
    doc = generated
    assert doc["brief_text"] == "slow dark ambient pad"
    (batch,) = doc["batches"]
    assert batch["num_generated"] == 4 and batch["seed"] == 11 and batch["engine"] == "sketch"
    assert batch["embedder"] == "features-v1" and batch["namer"] == "describe"
    assert sum(len(c["tracks"]) for c in batch["clusters"]) == 4
    for cluster in batch["clusters"]:
        assert cluster["label"] and cluster["parent_cluster_id"] is None
        for track in cluster["tracks"]:
            assert Path(track["path"]).is_file()
            assert track["duration_sec"] == pytest.approx(2.0, abs=0.01)
            assert track["similarity"] is not None and track["source"] is None
    assert len(doc["tracks"]) == 4
    assert len(media_wavs(data_dir)) == 4


def test_more_by_prefix_json(data_dir, generated):
    session_id = generated["id"]
    cluster = generated["batches"][0]["clusters"][0]
    code, out, err = run("more", session_id[:8], cluster["id"][:8], "--clips", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    new = doc["batch"]
    assert new["kind"] == "more" and new["parent_cluster_id"] == cluster["id"]
    (child,) = new["clusters"]
    assert child["label"] == cluster["label"] and child["parent_cluster_id"] == cluster["id"]
    assert child["id"] != cluster["id"]
    assert 1 <= len(child["tracks"]) <= 2
    assert len(doc["batches"]) == 2


def test_sessions_and_show(data_dir, generated):
    code, out, _ = run("sessions")
    assert code == 0 and generated["id"] in out and "4 clips" in out
    code, out, _ = run("sessions", "--json")
    assert [s["id"] for s in json.loads(out)] == [generated["id"]]
    code, out, _ = run("show", generated["id"])
    assert code == 0 and "Cluster" in out and generated["batches"][0]["clusters"][0]["label"] in out
    code, out, _ = run("show", generated["id"], "--json")
    assert json.loads(out)["id"] == generated["id"]


def test_empty_sessions_list_says_how_to_start(data_dir):
    code, out, _ = run("sessions")
    assert code == 0 and "No sessions yet" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["generate", "--brief", "   "], "brief is empty"),
        (["generate", "--brief", "x", "--energy", "2"], "Energy must be between 0 and 1"),
        (["generate", "--brief", "x", "--duration", "31"], "at most 30 seconds"),
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
    assert [b["kind"] for b in doc["batches"]] == ["initial", "import"]
    cluster_id = doc["batches"][1]["clusters"][0]["id"]
    code, out, err = run("more", generated["id"], cluster_id, "--clips", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["batch"]["clusters"][0]["parent_cluster_id"] == cluster_id


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
