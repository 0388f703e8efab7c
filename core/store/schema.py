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

# Curation: what the musician decides lives in its own tables, beside the generated
# rows (which never change for it). A row's updated_at lets recovery tell which of
# the database and the curation file beside the audio is newer (core.curation_file).
_SCHEMA_V3 = (
    """
    CREATE TABLE curation (
        track_id    TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        kept        INTEGER NOT NULL DEFAULT 0 CHECK (kept IN (0, 1)),
        rating      INTEGER CHECK (rating BETWEEN 1 AND 5),
        discarded   INTEGER NOT NULL DEFAULT 0 CHECK (discarded IN (0, 1)),
        tags        TEXT NOT NULL DEFAULT '[]',
        note        TEXT NOT NULL DEFAULT '',
        updated_at  TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE INDEX curation_by_session ON curation(session_id)",
    """
    CREATE TABLE cluster_names (
        cluster_id  TEXT PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE INDEX cluster_names_by_session ON cluster_names(session_id)",
    """
    CREATE TABLE preferences (
        id          TEXT PRIMARY KEY,
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        track_a     TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        track_b     TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        choice      TEXT NOT NULL CHECK (choice IN ('a', 'b', 'same')),
        created_at  TEXT NOT NULL,
        brief_a     TEXT NOT NULL,
        brief_b     TEXT NOT NULL,
        CHECK (track_a <> track_b)
    )
    """,
    "CREATE INDEX preferences_by_session ON preferences(session_id, created_at)",
    "CREATE INDEX preferences_by_track_a ON preferences(track_a)",  # deleting a clip cascades through these
    "CREATE INDEX preferences_by_track_b ON preferences(track_b)",
    """
    CREATE TABLE clip_analysis (
        track_id        TEXT PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        bpm             REAL,
        key             TEXT,
        source          TEXT NOT NULL,
        lufs            REAL,
        true_peak_dbtp  REAL,
        updated_at      TEXT NOT NULL
    ) WITHOUT ROWID
    """,
)

# Blends: a cluster made between two clusters records both; the first stays in
# parent_cluster_id (the tree puts the blend under it).
_SCHEMA_V4 = ("ALTER TABLE clusters ADD COLUMN second_parent_cluster_id TEXT",)

# Step i takes the schema from version i to i + 1. Append; never edit a shipped step.
MIGRATIONS: list[Migration] = [
    _run_statements(_SCHEMA_V1),
    _run_statements(_SCHEMA_V2),
    _run_statements(_SCHEMA_V3),
    _run_statements(_SCHEMA_V4),
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
