"""The sessionlab launcher: the app without arguments, the CLI with them."""

from __future__ import annotations

import os
import subprocess
import sys

import sessionlab.__main__ as launcher


def test_no_arguments_open_the_app_with_loaded_settings(data_dir, monkeypatch):
    opened = []
    monkeypatch.setattr(launcher, "_open_app", opened.append)
    assert launcher.main([]) == 0
    (settings,) = opened
    assert settings.data_dir == data_dir


def test_a_bad_config_is_one_line_and_exit_2_before_the_app(data_dir, tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("max_batch_size = 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "sessionlab"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SESSIONLAB_CONFIG_DIR": str(config_dir)},
    )
    assert result.returncode == 2
    assert result.stderr == "sessionlab: max_batch_size must be between 1 and 64, not 0.\n"


def test_arguments_go_to_the_cli(data_dir, capsys):
    assert launcher.main(["sessions"]) == 0
    assert "No sessions yet" in capsys.readouterr().out
