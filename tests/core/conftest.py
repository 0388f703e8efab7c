"""Fixtures of the core tests (data_dir comes from tests/conftest.py)."""

from __future__ import annotations

import json

import pytest

from tests.core.cli_helpers import run


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
