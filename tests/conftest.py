"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Session Lab data dir, also set as SESSIONLAB_DATA_DIR for code that reads settings."""
    root = tmp_path / "data"
    monkeypatch.setenv("SESSIONLAB_DATA_DIR", str(root))
    monkeypatch.setenv("SESSIONLAB_CONFIG_DIR", str(tmp_path / "config"))
    return root
