"""What keeping sessions rebuildable costs, on a data dir of a few thousand clips.

Builds sessions of 6-clip batches (real short WAVs, 64-value vectors, a recipe
per clip, as the embedded engine stores) until ``--clips`` clips, then times:

- ``manifest_ms``: writing one batch's manifest (build + atomic write + fsyncs),
  the part add_batch now adds to each batch, median over the batches;
- ``add_batch_ms``: a whole add_batch of 6 clips, median (for scale);
- ``backup_ms``: one online backup of the whole database into backups/;
- ``is_due_ms``: the check every open and every batch makes (one listing, one stat);
- ``sweep_lost_db_ms``: the first open after the database was emptied (every
  file is moved aside);
- ``recover_ms``: ``recover`` bringing every session back from the manifests.

Prints one JSON object. Usage: .venv/bin/python bench/recovery.py [--clips N]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import backup, manifest, paths  # noqa: E402
from core.models import BriefParams  # noqa: E402
from core.recovery import recover  # noqa: E402
from core.store import SessionStore  # noqa: E402
from tests.core.store_child import SPACE, make_batch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=3000)
    parser.add_argument("--batches-per-session", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sessionlab-bench-")) / "data"
    manifest_times: list[float] = []
    add_times: list[float] = []
    original = manifest.write_batch

    def timed_write(*a, **k):
        started = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            manifest_times.append(time.perf_counter() - started)

    manifest.write_batch = timed_write
    backup.INTERVAL_SEC = 10**9  # measured on its own below
    with SessionStore(root) as store:
        made = 0
        while made < args.clips:
            session = store.create_session("a bench brief", BriefParams(duration_sec=0.1))
            for position in range(args.batches_per_session):
                batch_id = uuid.uuid4()
                with store.staging_dir(batch_id) as staging:
                    batch, centroids, embeddings, staged = make_batch(
                        store, session.id, staging, n_tracks=6, position=position, dim=64, batch_id=batch_id
                    )
                    for track in batch.tracks:
                        track.recipe = {
                            "tempo": 92,
                            "key": "A minor",
                            "layers": ["drums", "bass", "keys"] * 8,
                        }
                    started = time.perf_counter()
                    store.add_batch(
                        session.id, batch, centroids, space=SPACE, embeddings=embeddings, staged_files=staged
                    )
                    add_times.append(time.perf_counter() - started)
                made += 6
        started = time.perf_counter()
        copy = backup.take(root, store.db_file, force=True)
        backup_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        for _ in range(100):
            backup.is_due(root)
        is_due_ms = (time.perf_counter() - started) * 10
        sessions = len(store.list_sessions())
    db_bytes = paths.db_path(root).stat().st_size
    paths.db_path(root).write_bytes(b"")
    started = time.perf_counter()
    store = SessionStore(root)
    sweep_ms = (time.perf_counter() - started) * 1000
    moved = store.swept_at_open
    started = time.perf_counter()
    report = recover(store, use_backups=False)
    recover_ms = (time.perf_counter() - started) * 1000
    store.close()
    print(
        json.dumps(
            {
                "clips": made,
                "sessions": sessions,
                "db_bytes": db_bytes,
                "backup_bytes": copy.stat().st_size if copy else None,
                "manifest_ms": round(statistics.median(manifest_times) * 1000, 2),
                "add_batch_ms": round(statistics.median(add_times) * 1000, 2),
                "backup_ms": round(backup_ms, 1),
                "is_due_ms": round(is_due_ms, 3),
                "sweep_lost_db_ms": round(sweep_ms, 1),
                "files_moved_aside": moved,
                "recover_ms": round(recover_ms, 1),
                "recovered_clips": report.clips,
                "recover_problems": len(report.problems),
            }
        )
    )


if __name__ == "__main__":
    main()
