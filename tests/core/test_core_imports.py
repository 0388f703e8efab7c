"""The core stays headless and light: importing any core module pulls in no UI
library and no heavy one (harlequin's idiom: check it in a fresh process)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import core

FORBIDDEN_ALWAYS = ("textual", "rich", "tui")
FORBIDDEN_AT_IMPORT = (
    "torch",
    "transformers",
    "sklearn",
    "openai",
    "scipy.signal",
    "librosa",
    "sounddevice",
    "matplotlib",
)

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages([str(Path(core.__file__).parent)], prefix="core.")
)


def test_modules_found():
    assert "core.service" in MODULES and "core.providers.registry" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_core_module_imports_no_ui_and_no_heavy_library(module: str):
    forbidden = FORBIDDEN_ALWAYS + FORBIDDEN_AT_IMPORT
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"bad = [m for m in {forbidden!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()} at import time"
