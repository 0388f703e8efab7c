"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Session Lab data dir, also set as SESSIONLAB_DATA_DIR for code that reads settings."""
    root = tmp_path / "data"
    monkeypatch.setenv("SESSIONLAB_DATA_DIR", str(root))
    monkeypatch.setenv("SESSIONLAB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SESSIONLAB_LOG_DIR", str(tmp_path / "logs"))
    return root


@pytest.fixture(autouse=True, scope="session")
def _log_dir_outside_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests that run the CLI or the app never write into the user's real log dir."""
    os.environ.setdefault("SESSIONLAB_LOG_DIR", str(tmp_path_factory.mktemp("logs")))
