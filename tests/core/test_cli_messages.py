"""What the sessionlab CLI says: text reaches the terminal as text, a user error is one clear
line and writes nothing, the wording of batches and counts, a namer's fallback said once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.store import SessionStore
from tests.core.cli_helpers import ESCAPES, no_controls, run, take

# ---------------------------------------------------------------- text reaches the terminal as text


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
