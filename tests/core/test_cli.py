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
    assert batch["embedder"] == "features-v3" and batch["namer"] == "describe"
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


# ---------------------------------------------------------------- text reaches the terminal as text

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e"  # clear screen, OSC title, C1 CSI, bidi override
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


def no_controls(text: str) -> bool:
    return not any(ch in text for ch in RAW_CONTROLS)


def take(
    path: Path, *, rate: int = 48_000, channels: int = 2, subtype: str = "PCM_24", sec: float = 1.0
) -> Path:
    """A musician's file: a stereo 24-bit 48 kHz take unless told otherwise."""
    t = np.arange(int(rate * sec)) / rate
    tones = [0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)]
    sf.write(os.fsencode(path), np.stack(tones, axis=1), rate, subtype=subtype)
    return path


def test_escape_sequences_in_a_brief_a_name_and_a_label_are_shown_as_text(data_dir):
    brief = f"dark {ESCAPES} pad"
    code, out, err = run("generate", "--brief", brief, "--clips", "2", "--duration", "0.5", "--seed", "3")
    assert code == 0, err
    assert no_controls(out) and no_controls(err) and "dark" in out
    (info,) = SessionStore(data_dir).list_sessions()
    with SessionStore(data_dir) as store:
        store.rename_session(info.id, "my \x9b31m\u202e take")  # C0 is refused in names; C1 and bidi are not
        # A label as an older version (or a careless model) may have stored it.
        store._conn.execute("UPDATE clusters SET label = ?", (f"Evil {ESCAPES} Label",))
    for argv in (["sessions"], ["show", str(info.id)]):
        code, out, err = run(*argv)
        assert code == 0, err
        assert no_controls(out) and "my" in out
    assert "Evil" in run("show", str(info.id))[1]
    # Stored text stays verbatim; --json is verbatim JSON whose text has no raw controls.
    code, out, _ = run("show", str(info.id), "--json")
    assert code == 0 and no_controls(out)
    document = json.loads(out)
    assert document["brief_text"] == brief and document["name"] == "my \x9b31m\u202e take"
    assert document["batches"][0]["clusters"][0]["label"] == f"Evil {ESCAPES} Label"
    # Error lines too.
    code, _, err = run("show", f"ab{ESCAPES}")
    assert code == 2 and no_controls(err) and err.count("\n") == 1


def test_an_imported_file_named_with_escape_sequences_is_shown_as_text(data_dir, tmp_path):
    evil = take(tmp_path / f"{ESCAPES}take.wav")
    code, out, err = run("import", "--new", str(evil))
    assert code == 0, err
    assert no_controls(out) and no_controls(err) and "take.wav" in out
    code, out, _ = run("sessions")
    assert no_controls(out) and "take.wav" in out
    bad = tmp_path / f"{ESCAPES}notes.wav"
    bad.write_text("not audio")
    code, _, err = run("import", "--new", str(bad))
    assert code == 2 and no_controls(err) and "notes.wav" in err and err.count("\n") == 1


# ---------------------------------------------------------------- one clear line, nothing written


def test_a_brief_that_is_not_utf8_is_one_line_and_writes_nothing(data_dir):
    result = subprocess.run(
        [sys.executable, "-m", "sessionlab", "generate", "--brief", b"caf\xe9 jazz", "--clips", "1"],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("sessionlab: ") and err.count("\n") == 1 and "UTF-8" in err
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["generate", "--brief", ""], "brief is empty"),
        (["generate", "--brief", "x", "--energy", "3"], "Energy must be between 0 and 1"),
        (["generate", "--brief", "x", "--duration", "0.00001"], "at least 0.1"),
        (["generate", "--brief", "x", "--clips", "0"], "between 1 and 6"),
        (["show", "abcd"], "No session"),
        (["more", "abcd", "ef01"], "No session"),
        (["import", "abcd", "x.wav"], "No session"),
        (["import", "--new", "missing.wav"], "no such file"),
    ],
)
def test_a_user_error_on_a_fresh_data_dir_creates_nothing(data_dir, argv, fragment):
    code, out, err = run(*argv)
    assert code == 2 and fragment in err and err.count("\n") == 1
    assert not data_dir.exists()
    assert not (data_dir.parent / "logs").exists()  # nothing logged, so not even a log file


def test_reading_a_data_dir_that_does_not_exist_does_not_create_it(data_dir):
    code, out, err = run("sessions")
    assert code == 0 and "No sessions yet" in out
    code, out, _ = run("sessions", "--json")
    assert code == 0 and json.loads(out) == []
    assert not data_dir.exists()


def test_an_empty_data_dir_is_refused(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv in (["--data-dir", "", "sessions"], ["generate", "--brief", "x", "--data-dir", " "]):
        code, _, err = run(*argv)
        assert code == 2 and "data dir is empty" in err and err.count("\n") == 1
    # The old code took '' for the current folder and made a data dir there.
    assert not any((tmp_path / name).exists() for name in ("sessionlab.db", "media", "locks"))


def test_data_dir_works_before_and_after_the_command(data_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    code, out, err = run(
        "generate", "--brief", "x", "--clips", "1", "--duration", "0.2", "--data-dir", str(elsewhere)
    )
    assert code == 0, err
    assert (elsewhere / "sessionlab.db").is_file() and not data_dir.exists()
    for argv in (["--data-dir", str(elsewhere), "sessions"], ["sessions", "--data-dir", str(elsewhere)]):
        code, out, _ = run(*argv)
        assert code == 0 and "1 clip " in out
    # After the command wins over before it (the nearer flag).
    code, out, _ = run("--data-dir", str(data_dir), "sessions", "--data-dir", str(elsewhere))
    assert "1 clip " in out


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


# ---------------------------------------------------------------- wording


def test_wording_of_batches_and_counts(data_dir, tmp_path):
    code, out, err = run("import", "--new", str(take(tmp_path / "solo.wav")))
    assert code == 0, err
    assert "(import, 1/1 clip)" in out and "(1 clip)" in out and "seed" not in out and "None" not in out
    session_id = out.split()[1]
    code, out, _ = run("show", session_id, "--json")
    cluster = json.loads(out)["batches"][0]["clusters"][0]
    code, out, err = run("more", session_id, cluster["id"], "--clips", "1", "--seed", "5")
    assert code == 0, err
    assert f'(more like "{cluster["label"]}", 1/1 clip, sketch, seed 5)' in out
    assert "more more" not in out
    code, out, _ = run("sessions")
    assert " 2 clips " in out


# ---------------------------------------------------------------- warnings and the namer


def test_a_namer_that_falls_back_is_said_once_and_recorded(data_dir):
    """The openai namer with no server: one notice on stderr (not also a log line), namer recorded truly."""
    env = {**os.environ, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test"}
    result = subprocess.run(
        [sys.executable, "-m", "sessionlab", "generate", "--brief", "x", "--clips", "2", "--duration", "0.3"]
        + ["--namer", "openai", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("names come from describe") == 1, result.stderr
    assert result.stderr.startswith("note: ") and result.stderr.count("\n") == 1
    assert json.loads(result.stdout)["batches"][0]["namer"] == "openai (fallback: describe)"


# ---------------------------------------------------------------- curation commands


def clip_ids(doc: dict) -> list[str]:
    return [t["id"] for t in doc["tracks"]]


def shown(session_id: str) -> dict:
    code, out, err = run("show", session_id, "--json")
    assert code == 0, err
    return json.loads(out)


def test_marks_by_prefix_reach_show(data_dir, generated):
    first, second = clip_ids(generated)[:2]
    for argv in (
        ("keep", first[:8]),
        ("rate", first[:6], "4"),
        ("tag", first[:8], "Drums", "warm pad"),
        ("note", first[:8], "the groove"),
        ("discard", second[:8]),
    ):
        code, out, err = run(*argv, "--json")
        assert code == 0, err
    assert json.loads(out) == {
        "track_id": second,
        "session_id": generated["id"],
        "curation": {"kept": False, "rating": None, "discarded": True, "tags": [], "note": ""},
    }
    tracks = {t["id"]: t for t in shown(generated["id"])["tracks"]}
    assert tracks[first]["curation"] == {
        "kept": True,
        "rating": 4,
        "discarded": False,
        "tags": ["drums", "warm pad"],
        "note": "the groove",
    }
    assert tracks[second]["curation"]["discarded"] is True  # JSON lists discarded clips, marked
    code, out, _ = run("show", generated["id"])
    assert second not in out and "1 discarded clip hidden" in out
    assert '★ 4/5 #drums #warm pad "the groove"' in out
    code, out, _ = run("show", generated["id"], "--all")
    assert second in out and "[discarded]" in out


def test_marks_are_undone(data_dir, generated):
    clip = clip_ids(generated)[0]
    for argv in (
        ("keep", clip),
        ("rate", clip, "5"),
        ("discard", clip),
        ("tag", clip, "a", "b"),
        ("note", clip, "x"),
    ):
        assert run(*argv)[0] == 0
    for argv in (
        ("keep", clip, "--undo"),
        ("rate", clip, "0"),
        ("discard", clip, "--undo"),
        ("tag", clip, "a", "--remove"),
    ):
        assert run(*argv)[0] == 0
    code, out, _ = run("note", clip, "", "--json")
    assert json.loads(out)["curation"] == {
        "kept": False,
        "rating": None,
        "discarded": False,
        "tags": ["b"],
        "note": "",
    }
    run("rate", clip, "3")
    code, out, _ = run("rate", clip, "--clear", "--json")
    assert code == 0 and json.loads(out)["curation"]["rating"] is None


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("rate", "{a}", "6"), "from 1 to 5"),
        (("rate", "{a}", "-1"), "from 1 to 5"),
        (("rate", "{a}"), "Give a rating"),
        (("rate", "{a}", "3", "--clear"), "not both"),
        (("rate", "{a}", "five"), "invalid int"),
        (("tag", "{a}", " "), "cannot be empty"),
        (("note", "{a}", "n" * 2001), "limit is 2000"),
        (("prefer", "{a}", "{a}"), "itself"),
        (("keep", "ffffffff"), "No clip matches"),
        (("keep", "zz"), "not a clip id"),
        (("rename-cluster", "{s}", "{c}", "a\x1bb"), "one line"),
    ],
)
def test_bad_curation_input_is_one_sentence_and_writes_nothing(data_dir, generated, argv, words):
    ids = {
        "a": clip_ids(generated)[0],
        "s": generated["id"],
        "c": generated["batches"][0]["clusters"][0]["id"],
    }
    before = shown(generated["id"])
    code, out, err = run(*[a.format(**ids) for a in argv])
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err
    assert shown(generated["id"]) == before


def test_prefer_and_prefer_same(data_dir, generated):
    a, b = clip_ids(generated)[:2]
    code, out, err = run("prefer", a[:8], b[:8], "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["chosen"], doc["rejected"], doc["choice"]) == (a, b, "a")
    assert doc["brief_a"] == doc["brief_b"] == generated["batches"][0]["prompt_text"]
    code, out, _ = run("prefer", a, b, "--same")
    assert code == 0 and "as good as each other" in out
    with SessionStore(data_dir) as store:
        assert [p.choice for p in store.get_preferences(store.resolve_session_id(generated["id"]))] == [
            "a",
            "same",
        ]


def test_rename_cluster_shows_the_musicians_name_and_keeps_the_generated_one(data_dir, generated):
    cluster = generated["batches"][0]["clusters"][0]
    code, out, err = run("rename-cluster", generated["id"][:8], cluster["id"][:8], "Night Drive", "--json")
    assert code == 0, err
    assert json.loads(out)["effective_label"] == "Night Drive"
    listed = shown(generated["id"])["batches"][0]["clusters"][0]
    assert (listed["label"], listed["name"], listed["effective_label"]) == (
        cluster["label"],
        "Night Drive",
        "Night Drive",
    )
    code, out, _ = run("show", generated["id"])
    assert f"Night Drive (generated: {cluster['label']})" in out
    run("rename-cluster", generated["id"], cluster["id"], "")
    listed = shown(generated["id"])["batches"][0]["clusters"][0]
    assert (listed["name"], listed["effective_label"]) == (None, cluster["label"])


def test_delete_without_a_terminal_needs_yes(data_dir, generated):
    clip = clip_ids(generated)[0]
    before = sorted(media_wavs(data_dir))
    code, out, err = run("delete", "--track", clip)  # stdin here is not a terminal
    assert code == 2 and "add --yes" in err and err.count("\n") == 1
    assert sorted(media_wavs(data_dir)) == before
    code, _, err = run("delete", generated["id"], "--track", clip, "--yes")
    assert code == 2 and "exactly one" in err
    code, out, err = run("delete", "--track", clip[:8], "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["track_ids"] == [clip] and len(media_wavs(data_dir)) == len(before) - 1
    assert clip not in clip_ids(shown(generated["id"]))


def test_delete_a_batch_and_a_session(data_dir, generated):
    cluster = generated["batches"][0]["clusters"][0]
    code, out, err = run("more", generated["id"], cluster["id"], "--clips", "2", "--json")
    assert code == 0, err
    more = json.loads(out)["batches"][0]
    code, out, err = run("delete", "--batch", more["id"][:8], "--yes")
    assert code == 0 and out.startswith("deleted 2 clips"), err
    assert [b["id"] for b in shown(generated["id"])["batches"]] == [generated["batches"][0]["id"]]
    code, out, err = run("delete", generated["id"][:8], "--yes", "--json")
    assert code == 0 and json.loads(out)["session_removed"] is True
    assert media_wavs(data_dir) == [] and run("sessions", "--json")[1].strip() == "[]"


@pytest.mark.parametrize(("answer", "deleted"), [("n", False), ("y", True)])
def test_delete_asks_at_a_terminal(data_dir, generated, answer, deleted):
    """A real pseudo-terminal as stdin: the question is asked, and only 'y' deletes."""
    import pty

    clip = clip_ids(generated)[0]
    master, slave = pty.openpty()
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "sessionlab", "delete", "--track", clip[:8]],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        text=True,
    )
    os.close(slave)
    os.write(master, f"{answer}\n".encode())
    out, err = child.communicate(timeout=60)
    os.close(master)
    assert "Delete clip" in err and "[y/N]" in err
    assert (child.returncode == 0) is deleted
    assert (clip not in clip_ids(shown(generated["id"]))) is deleted
    if not deleted:
        assert "Nothing was deleted." in err


def test_extend_makes_a_longer_clip_beside_its_source(data_dir, generated):
    track = generated["tracks"][0]
    code, out, err = run("extend", track["id"][:8], "--to", "9.5", "--seed", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    (batch,) = doc["batches"]
    assert batch["kind"] == "extend" and batch["parent_cluster_id"] == track["cluster_id"]
    (made,) = doc["tracks"]
    assert made["duration_sec"] == 9.5
    code, out, err = run("extend", track["id"][:8], "--to", "1")
    assert code == 2 and "already 2.0 s long" in err and out == ""
    code, out, err = run("extend", track["id"][:8], "--to", "9.5")
    assert code == 0 and "extended from" in out
