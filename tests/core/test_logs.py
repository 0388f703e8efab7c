"""Logging: JSON lines in a rotating file, the terminal only for what the user must act on."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from core import logs
from core.cli import main

CONTEXT = {"session", "batch", "stage", "elapsed_ms"}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def records(log_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (log_dir / logs.LOG_FILE).read_text().splitlines()]


def test_a_batch_logs_its_stages_as_json_lines(data_dir):
    code, out, err = run("generate", "--brief", "warm pad", "--clips", "2", "--duration", "0.3", "--json")
    assert code == 0 and err == ""
    session = json.loads(out)
    batch_id = session["batches"][0]["id"]
    staged = [r for r in records(data_dir.parent / "logs") if r.get("batch") == batch_id]
    stages = [r["stage"] for r in staged]
    assert {"generating", "embedding", "clustering", "naming", "saving", "done"} <= set(stages)
    for record in staged:
        assert {"time", "level", "logger", "message"} <= set(record) and set(record) >= CONTEXT
        assert record["session"] == session["id"] and record["elapsed_ms"] >= 0


def test_the_log_level_setting_is_honoured(data_dir):
    config = data_dir.parent / "config"
    config.mkdir()
    (config / "config.toml").write_text('log_level = "WARNING"\n')
    code, _, err = run("generate", "--brief", "warm pad", "--clips", "1", "--duration", "0.3")
    assert code == 0, err
    log_file = data_dir.parent / "logs" / logs.LOG_FILE
    assert not log_file.exists() or all(r["level"] != "INFO" for r in records(log_file.parent))


def test_a_log_dir_that_cannot_be_written_is_no_reason_to_fail(data_dir, monkeypatch, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the log dir should be")
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(blocked / "logs"))
    code, out, err = run("generate", "--brief", "warm pad", "--clips", "1", "--duration", "0.3")
    assert code == 0 and err == "" and "Session " in out


def test_the_terminal_gets_one_line_only_for_errors_nobody_reported(tmp_path):
    stream = io.StringIO()
    assert logs.configure("INFO", stream=stream, directory=tmp_path) == tmp_path / logs.LOG_FILE
    log = logging.getLogger("core.test")
    log.info("stage done", extra={"stage": "naming", "elapsed_ms": 1.25})
    log.warning("the namer fell back")  # the user hears it as a notice
    log.error("already the command's error line", extra={"reported": True})
    log.error("disk \x1b[2J trouble")
    assert stream.getvalue() == "sessionlab: disk \u241b[2J trouble\n"
    lines = records(tmp_path)
    assert [r["message"] for r in lines][-4:] == [
        "stage done",
        "the namer fell back",
        "already the command's error line",
        "disk \x1b[2J trouble",
    ]
    assert lines[-4]["stage"] == "naming" and lines[-4]["elapsed_ms"] == 1.2
    # Configured again (another command in the same process): one set of handlers, not two.
    stream2 = io.StringIO()
    logs.configure("INFO", stream=stream2, directory=tmp_path)
    log.error("once")
    assert stream.getvalue().count("once") == 0 and stream2.getvalue() == "sessionlab: once\n"
    assert [r["message"] for r in records(tmp_path)].count("once") == 1


def test_an_unexpected_error_is_one_line_with_the_traceback_in_the_log(data_dir, monkeypatch):
    import core.cli.reading

    def broken(*args, **kwargs):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(core.cli.reading, "_info_document", broken)
    code, out, err = run("generate", "--brief", "warm pad", "--clips", "1", "--duration", "0.3")
    assert code == 0, err
    code, out, err = run("sessions", "--json")
    assert code == 1 and err.count("\n") == 1 and "RuntimeError: a bug over two lines" in err
    assert "details in" in err and "Traceback" not in err
    assert any("Traceback" in r.get("exception", "") for r in records(data_dir.parent / "logs"))
