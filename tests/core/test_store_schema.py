"""SessionStore schema and damage: migrations, newer, corrupt, unusable and read-only data dirs."""

from __future__ import annotations

import os
import sqlite3
import uuid

import pytest

import core.store
from core import paths
from core.errors import StorageError
from core.store import SCHEMA_VERSION, SessionStore, migrate
from tests.core.store_helpers import PARAMS, rows

# --------------------------------------------------------------------------- schema and damage


def test_an_empty_database_is_migrated(data_dir):
    data_dir.mkdir(parents=True)
    sqlite3.connect(paths.db_path(data_dir)).close()  # a zero-byte file, user_version 0
    with SessionStore(data_dir) as store:
        session = store.create_session("brief", PARAMS)
    assert rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(data_dir, "PRAGMA journal_mode") == [("wal",)]
    with SessionStore(data_dir) as store:  # opening an up-to-date database changes nothing
        assert store.require_session(session.id).brief_text == "brief"


def test_migrations_apply_in_order_each_in_its_own_transaction(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    applied: list[int] = []

    def step(index: int, sql: str):
        def run(c: sqlite3.Connection) -> None:
            applied.append(index)
            c.execute(sql)

        return run

    steps = [
        step(0, "CREATE TABLE a (x INTEGER)"),
        step(1, "ALTER TABLE a ADD COLUMN y TEXT DEFAULT 'new'"),
    ]
    assert migrate(conn, steps[:1]) == 1  # a database at an older schema...
    conn.execute("INSERT INTO a (x) VALUES (7)")
    broken = [
        *steps,
        lambda c: (c.execute("CREATE TABLE half (x)"), c.execute("SELECT * FROM no_such_table")),
    ]
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    # ...moved forward by one step; the failed step left nothing behind.
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    assert conn.execute("SELECT x, y FROM a").fetchall() == [(7, "new")]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall() == []
    fixed = [*steps, step(2, "CREATE TABLE b (z)")]
    assert migrate(conn, fixed) == 3
    assert applied == [0, 1, 2]
    conn.close()


def test_a_database_from_a_newer_version_is_refused(data_dir):
    with SessionStore(data_dir):
        pass
    with sqlite3.connect(paths.db_path(data_dir)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer Session Lab") as refused:
        SessionStore(data_dir)
    assert str(refused.value).count(". ") == 0 and str(refused.value).endswith(".")


def test_a_corrupt_database_is_a_storage_error(data_dir):
    data_dir.mkdir(parents=True)
    paths.db_path(data_dir).write_bytes(b"this is not sqlite at all " * 200)
    with pytest.raises(StorageError, match="damaged or is not a Session Lab database") as damaged:
        SessionStore(data_dir)
    assert str(paths.db_path(data_dir)) in str(damaged.value)
    assert "Traceback" not in str(damaged.value) and str(damaged.value).endswith(".")


def test_an_unusable_data_dir_is_a_storage_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="data directory") as unusable:
        SessionStore(blocker / "data")
    assert str(blocker) in str(unusable.value) and str(unusable.value).endswith(".")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere (test_read_only.py mounts read-only)")
def test_a_read_only_data_dir_opens_for_reading_only(tmp_path):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        with SessionStore(root) as store:
            assert store.read_only and store.list_sessions() == []
            with pytest.raises(StorageError, match="is not writable, so nothing can be saved"):
                store.create_session("brief", PARAMS)
        with pytest.raises(StorageError, match="is not writable, so nothing can be saved"):
            SessionStore(root, read_only=False)
        assert os.listdir(root) == []
    finally:
        root.chmod(0o700)


def test_migrating_renumbers_duplicate_positions_in_display_order(data_dir):
    data_dir.mkdir(parents=True)
    conn = sqlite3.connect(paths.db_path(data_dir), isolation_level=None)
    migrate(conn, core.store.MIGRATIONS[:1])  # a database as schema 1 left it
    params = '{"energy": 0.5, "density": 0.5, "duration_sec": 4.0}'
    for sid in ("s1", "s2"):
        sid_uuid = str(uuid.uuid5(uuid.NAMESPACE_OID, sid))
        conn.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, 'brief', ?, '')",
            (sid_uuid, "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00", params),
        )
    s1, s2 = (str(uuid.uuid5(uuid.NAMESPACE_OID, s)) for s in ("s1", "s2"))
    batches = [  # (name, session, position, created_at), inserted in this order
        ("a", s1, 0, "09:00"),
        ("b", s1, 1, "10:00"),
        ("c", s1, 1, "09:30"),  # same position as b, made earlier: shown before b
        ("d", s1, 2, "11:00"),
        ("e", s2, 0, "09:00"),
        ("f", s2, 3, "09:00"),  # a gap, no duplicate: left alone
    ]
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_OID, name)) for name, *_ in batches}
    for name, sid, position, at in batches:
        conn.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, 'initial', 'p', 1, 1, ?, NULL, 'e', NULL, 'm', 'n', NULL)",
            (ids[name], sid, position, f"2024-01-01T{at}:00+00:00", params),
        )
    conn.close()
    with SessionStore(data_dir) as store:
        shown = {sid: [b.id for b in store.require_session(uuid.UUID(sid)).batches] for sid in (s1, s2)}
    assert rows(data_dir, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert dict(rows(data_dir, "SELECT id, position FROM batches")) == {
        ids["a"]: 0,
        ids["c"]: 1,
        ids["b"]: 2,
        ids["d"]: 3,
        ids["e"]: 0,
        ids["f"]: 3,
    }
    assert shown[s1] == [uuid.UUID(ids[n]) for n in "acbd"]  # the order the musician saw is kept
    assert shown[s2] == [uuid.UUID(ids[n]) for n in "ef"]
