"""Fixtures of the core tests (data_dir comes from tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.store import SessionStore
from tests.core.cli_helpers import run
from tests.core.feature_clips import render_briefs


@pytest.fixture
def generated(data_dir):
    """A session made by ``sessionlab generate --json`` (4 clips): its JSON document."""
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


@pytest.fixture
def store(data_dir: Path):
    """A SessionStore on the test's data dir (the SessionStore tests, test_store_*.py), closed after."""
    store = SessionStore(data_dir)
    yield store
    store.close()


@pytest.fixture(scope="module")
def renders():
    """16 s of sketch clips of three briefs, two seeds each (``feature_clips``)."""
    return render_briefs()
