"""The sessionlab launcher: the app without arguments, the CLI with them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sessionlab.__main__ as launcher


def test_no_arguments_open_the_app_with_loaded_settings(data_dir, monkeypatch):
    opened = []
    monkeypatch.setattr(launcher, "_open_app", opened.append)
    assert launcher.main([]) == 0
    (settings,) = opened
    assert settings.data_dir == data_dir


def run_with_config(config_dir: Path, *argv: str) -> subprocess.CompletedProcess:
    """``sessionlab ARGV`` in a fresh process, no stdin, with the config dir given."""
    return subprocess.run(
        [sys.executable, "-m", "sessionlab", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SESSIONLAB_CONFIG_DIR": str(config_dir)},
    )


def test_a_bad_config_is_one_line_and_exit_2_before_the_app(data_dir, tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("max_batch_size = 0\n")
    result = run_with_config(config_dir)
    assert result.returncode == 2
    assert result.stderr == "sessionlab: max_batch_size must be between 1 and 64, not 0.\n"


def test_arguments_go_to_the_cli(data_dir, capsys):
    assert launcher.main(["sessions"]) == 0
    assert "No sessions yet" in capsys.readouterr().out


def test_a_config_file_that_is_not_utf8_is_one_line_naming_it(data_dir, tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_bytes(b'engine = "caf\xe9"\n')
    for argv in ([], ["sessions"]):
        result = run_with_config(config_dir, *argv)
        assert result.returncode == 2
        assert result.stderr.startswith("sessionlab: Cannot read the config file ")
        assert str(config_dir / "config.toml") in result.stderr and "not UTF-8" in result.stderr
        assert result.stderr.count("\n") == 1


def test_the_app_gets_no_log_lines_on_its_screen_and_they_go_to_the_file(data_dir, monkeypatch, capsys):
    import json
    import logging

    def app(settings):
        logging.getLogger("core.playback").warning("no audio output device")
        logging.getLogger("core.playback").error("audio callback failed")

    monkeypatch.setattr(launcher, "_open_app", app)
    assert launcher.main([]) == 0
    assert capsys.readouterr().err == ""
    lines = (data_dir.parent / "logs" / "sessionlab.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["level"], r["message"]) for r in records[-2:]] == [
        ("WARNING", "no audio output device"),
        ("ERROR", "audio callback failed"),
    ]
