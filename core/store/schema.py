"""The store's schema: tables, indexes and forward migrations (``PRAGMA user_version``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import StorageError

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------- schema

Migration = Callable[[sqlite3.Connection], None]

_SCHEMA_V1 = (
    """
    CREATE TABLE sessions (
        id          TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        brief_text  TEXT NOT NULL,
        params      TEXT NOT NULL,
        name        TEXT NOT NULL DEFAULT ''
    )
    """,
    """
    CREATE TABLE batches (
        id                 TEXT PRIMARY KEY,
        session_id         TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        position           INTEGER NOT NULL,
        created_at         TEXT NOT NULL,
        kind               TEXT NOT NULL,
        prompt_text        TEXT NOT NULL,
        num_requested      INTEGER NOT NULL,
        num_generated      INTEGER NOT NULL,
        params             TEXT NOT NULL,
        seed               TEXT,
        engine             TEXT NOT NULL,
        model              TEXT,
        embedder           TEXT NOT NULL,
        namer              TEXT NOT NULL,
        parent_cluster_id  TEXT
    )
    """,
    "CREATE INDEX batches_by_session ON batches(session_id, position)",
    """
    CREATE TABLE clusters (
        id                 TEXT PRIMARY KEY,
        batch_id           TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        session_id         TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        position           INTEGER NOT NULL,
        label              TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        parent_cluster_id  TEXT
    )
    """,
    "CREATE INDEX clusters_by_batch ON clusters(batch_id, position)",
    "CREATE INDEX clusters_by_session ON clusters(session_id)",
    """
    CREATE TABLE tracks (
        id                TEXT PRIMARY KEY,
        batch_id          TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        cluster_id        TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        session_id        TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        position          INTEGER NOT NULL,
        cluster_position  INTEGER NOT NULL,
        path              TEXT NOT NULL UNIQUE,
        duration_sec      REAL NOT NULL,
        raw_prompt        TEXT NOT NULL,
        created_at        TEXT NOT NULL,
        seed              TEXT,
        similarity        REAL,
        source            TEXT,
        recipe            TEXT
    )
    """,
    "CREATE INDEX tracks_by_batch ON tracks(batch_id, position)",
    "CREATE INDEX tracks_by_cluster ON tracks(cluster_id, cluster_position)",
    "CREATE INDEX tracks_by_session ON tracks(session_id)",
    """
    CREATE TABLE embeddings (
        track_id  TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        space     TEXT NOT NULL,
        dim       INTEGER NOT NULL,
        vector    BLOB NOT NULL,
        PRIMARY KEY (track_id, space)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE centroids (
        cluster_id  TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        space       TEXT NOT NULL,
        dim         INTEGER NOT NULL,
        vector      BLOB NOT NULL,
        PRIMARY KEY (cluster_id, space)
    ) WITHOUT ROWID
    """,
)


def _run_statements(statements: Sequence[str]) -> Migration:
    def step(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return step


# Batch positions are unique within a session (concurrent writers once gave two
# batches the same one). Duplicates are renumbered first, in display order.
_SCHEMA_V2 = (
    """
    UPDATE batches SET position = (
        SELECT ranked.n FROM (
            SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY position, created_at, rowid) - 1 AS n
            FROM batches
        ) AS ranked
        WHERE ranked.id = batches.id
    )
    WHERE session_id IN (SELECT session_id FROM batches GROUP BY session_id, position HAVING count(*) > 1)
    """,
    "CREATE UNIQUE INDEX batches_position ON batches(session_id, position)",
    "DROP INDEX batches_by_session",  # the unique index serves the same lookups
)

# Step i takes the schema from version i to i + 1. Append; never edit a shipped step.
MIGRATIONS: list[Migration] = [
    _run_statements(_SCHEMA_V1),
    _run_statements(_SCHEMA_V2),
]
SCHEMA_VERSION = len(MIGRATIONS)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, steps: Sequence[Migration], db_file: Path | str = "") -> int:
    """Bring ``conn``'s database forward to ``len(steps)``; return the version it ends at.

    Each step runs in its own ``BEGIN IMMEDIATE`` transaction together with the
    ``user_version`` bump, and re-reads the version inside it, so two processes
    opening an old database at once apply every step exactly once. ``conn`` must
    be in autocommit mode (``isolation_level=None``).
    """
    latest = len(steps)
    while True:
        version = _user_version(conn)
        if version > latest:
            raise StorageError(
                f"The session database {db_file} was written by a newer Session Lab "
                f"(schema {version}; this one knows up to {latest}), so upgrade Session Lab to open it."
            )
        if version == latest:
            return version
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _user_version(conn) == version:
                steps[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
