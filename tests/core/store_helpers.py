"""Helpers shared by the SessionStore tests (test_store_*.py)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from core import paths
from core.models import Batch, BriefParams
from core.store import SessionStore
from tests.core.store_child import add_one

PARAMS = BriefParams(energy=0.7, density=0.3, duration_sec=4.0)


def rows(root: Path, sql: str, *args: object) -> list[tuple]:
    """Read the database behind the store's back."""
    with sqlite3.connect(paths.db_path(root)) as conn:
        return conn.execute(sql, args).fetchall()


def assert_consistent(root: Path) -> None:
    """Every track row names an existing file, every media file is named by a row, the db is sound."""
    named = {root / p for (p,) in rows(root, "SELECT path FROM tracks")}
    on_disk = {p for p in paths.media_root(root).glob("*/*.wav") if p.parent.name != "tmp"}
    assert named == on_disk
    assert rows(root, "PRAGMA integrity_check") == [("ok",)]
    assert rows(root, "PRAGMA foreign_key_check") == []


def add_simple_batch(store: SessionStore, session_id: uuid.UUID, **kwargs) -> Batch:
    batch_id = add_one(
        store, session_id, n_tracks=kwargs.pop("n_tracks", 3), position=kwargs.pop("position", 0)
    )
    session = store.require_session(session_id)
    return next(b for b in session.batches if b.id == batch_id)
