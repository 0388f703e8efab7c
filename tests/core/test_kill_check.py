"""A few rounds of scripts/kill_check.py: real `sessionlab` commands SIGKILLed mid-way lose nothing.

The script's own run is 50 kills (see its docstring); here a handful, with a
seed whose first round kills a new session's `generate` after its first clip
was moved into place (which used to leave a session without clips).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_handful_of_kills_lose_no_clip_and_leave_no_empty_session(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "scripts/kill_check.py",
            "--kills",
            "4",
            "--seed",
            "7",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    report = json.loads(done.stdout)
    assert report["problems"] == [] and report["ok"], report
    assert done.returncode == 0, done.stderr
    assert report["killed"] == 4
    assert report["outcomes"].get("killed at after-move:1", 0) >= 1
    assert report["clips"] == report["clips_ever_seen"] > 0
