"""What a curation change costs in a big session: the row, and the curation file beside the audio.

A session of --clips clips (default 10,000; rows only, written straight into a
fresh database: curation never reads the audio) is built in a temporary data dir;
"every clip marked" is likewise written straight into the table, then the file
is rebuilt once from it (a musician would take 10,000 changes to get there).
Measured, each the median of --repeat changes (core.curation.rate on clips in turn):
- empty_sec: a change when no other clip has marks (the file holds one entry);
- full_sec: a change when every clip is marked (the file holds every clip);
- file_bytes: the curation file's size with every clip marked;
- recover_sec: core.recovery.recover_curation bringing all marks back into emptied tables.

Timings on a shared 2-core machine are noisy. Prints one JSON object.
Usage: python bench/curation.py [--clips 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build(root: Path, clips: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    from core.store import SessionStore

    session_id, batch_id, cluster_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    track_ids = [uuid.uuid4() for _ in range(clips)]
    now = "2026-01-01T00:00:00.000000+00:00"
    with SessionStore(root) as store, store._writing() as conn:
        conn.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, 'bench brief', '{}', '')", (str(session_id), now, now)
        )
        conn.execute(
            "INSERT INTO batches (id, session_id, position, created_at, kind, prompt_text, num_requested,"
            " num_generated, params, engine, embedder, namer) VALUES (?, ?, 0, ?, 'initial', 'bench', ?, ?, '{}',"
            " 'sketch', 'features', 'describe')",
            (str(batch_id), str(session_id), now, clips, clips),
        )
        conn.execute(
            "INSERT INTO clusters VALUES (?, ?, ?, 0, 'Bench', ?, NULL)",
            (str(cluster_id), str(batch_id), str(session_id), now),
        )
        conn.executemany(
            "INSERT INTO tracks (id, batch_id, cluster_id, session_id, position, cluster_position, path,"
            " duration_sec, raw_prompt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0.5, 'bench', ?)",
            [
                (
                    str(t),
                    str(batch_id),
                    str(cluster_id),
                    str(session_id),
                    i,
                    i,
                    f"media/{session_id}/{t}.wav",
                    now,
                )
                for i, t in enumerate(track_ids)
            ],
        )
    return session_id, track_ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from core import curation, curation_file
    from core.recovery import RecoveryReport, recover_curation
    from core.store import SessionStore
    from core.store.locks import _release

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        session_id, tracks = build(root, args.clips)
        with SessionStore(root) as store:
            empty = []
            for i in range(args.repeat):
                started = time.perf_counter()
                curation.rate(store, tracks[0], 1 + i % 5)
                empty.append(time.perf_counter() - started)
            stamp = "2026-01-01T00:00:00.000000+00:00"
            with store._writing() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO curation (track_id, session_id, kept, tags, note, updated_at)"
                    " VALUES (?, ?, 1, '[\"bench\"]', 'a short note', ?)",
                    [(str(t), str(session_id), stamp) for t in tracks],
                )
            fd = store._lock_session(session_id, blocking=True)
            try:
                store._merge_curation_file(session_id, {}, force=True)
            finally:
                _release(fd)
            full = []
            for i in range(args.repeat):
                started = time.perf_counter()
                curation.rate(store, tracks[i], 1 + i % 5)
                full.append(time.perf_counter() - started)
            size = curation_file.curation_path(root, session_id).stat().st_size
            with store._writing() as conn:
                conn.execute("DELETE FROM curation")
            started = time.perf_counter()
            restored = recover_curation(store, RecoveryReport())
            recover_sec = time.perf_counter() - started
    print(
        json.dumps(
            {
                "clips": args.clips,
                "empty_sec": round(statistics.median(empty), 5),
                "full_sec": round(statistics.median(full), 5),
                "file_bytes": size,
                "recover_sec": round(recover_sec, 3),
                "recovered": restored,
            }
        )
    )


if __name__ == "__main__":
    main()
