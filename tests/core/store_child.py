"""A batch builder for the store tests, and a child process for the crash and concurrency tests.

Run as ``python -m tests.core.store_child DATA_DIR SESSION_ID [options]`` from the
repository root. The child opens a SessionStore (which sweeps), prints ``READY``,
waits for a line on stdin, then adds ``--batches`` batches of ``--tracks`` clips
each, staged through ``staging_dir`` as the service does. With ``--pause-at
POINT:N`` it prints ``PAUSED`` at the N-th time add_batch reaches checkpoint
POINT and waits for another line on stdin (the parent may SIGKILL it there).
It ends by printing one JSON line: the ids of the batches it stored. With
``--new-session`` SESSION_ID is not stored yet: the first batch stores it
(``add_batch(new_session=...)``).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
import wave
from pathlib import Path

import numpy as np

from core import paths
from core.models import BATCH_INITIAL, Batch, BriefParams, ClusterSummary, Session, Track, new_id, utcnow
from core.store import SessionStore

SPACE = "features-v1"


def write_wav(path: Path, frequency: float, frames: int = 800, rate: int = 8000) -> Path:
    """A short real 16-bit mono WAV (a sine), via the standard library."""
    t = np.arange(frames) / rate
    samples = (0.3 * np.sin(2 * np.pi * frequency * t) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path


def make_batch(
    store: SessionStore,
    session_id: uuid.UUID,
    staging: Path,
    *,
    n_tracks: int = 3,
    n_clusters: int = 2,
    position: int = 0,
    dim: int = 8,
    batch_id: uuid.UUID | None = None,
) -> tuple[Batch, dict[uuid.UUID, np.ndarray], dict[uuid.UUID, np.ndarray], dict[uuid.UUID, Path]]:
    """A batch whose clips are staged in ``staging``: (batch, centroids, embeddings, staged_files)."""
    rng = np.random.default_rng(position + 1000 * n_tracks)
    batch_id = batch_id or new_id()
    now = utcnow()
    clusters = [
        ClusterSummary(
            id=new_id(), batch_id=batch_id, label=f"Group {i}", track_ids=[], created_at=now, position=i
        )
        for i in range(n_clusters)
    ]
    tracks: list[Track] = []
    embeddings: dict[uuid.UUID, np.ndarray] = {}
    staged: dict[uuid.UUID, Path] = {}
    for i in range(n_tracks):
        track_id = new_id()
        cluster = clusters[i % n_clusters]
        cluster.track_ids.append(track_id)
        tracks.append(
            Track(
                id=track_id,
                batch_id=batch_id,
                cluster_id=cluster.id,
                path=paths.track_path(store.root, session_id, track_id),
                duration_sec=0.1,
                raw_prompt=f"clip {i}",
                created_at=now,
                seed=i,
                position=i,
            )
        )
        embeddings[track_id] = rng.standard_normal(dim).astype(np.float32)
        staged[track_id] = write_wav(staging / f"clip-{i}.wav", 220.0 + 55.0 * i)
    centroids = {c.id: np.mean([embeddings[t] for t in c.track_ids], axis=0) for c in clusters if c.track_ids}
    batch = Batch(
        id=batch_id,
        session_id=session_id,
        created_at=now,
        prompt_text="a test brief | energy=0.50 | density=0.50 | duration=0.1s",
        num_requested=n_tracks,
        num_generated=n_tracks,
        clusters=clusters,
        tracks=tracks,
        kind=BATCH_INITIAL,
        params=BriefParams(duration_sec=0.1),
        seed=position,
        engine="test",
        embedder="test",
        namer="test",
        position=position,
    )
    return batch, centroids, embeddings, staged


def add_one(
    store: SessionStore,
    session_id: uuid.UUID,
    *,
    n_tracks: int,
    position: int,
    new_session: Session | None = None,
) -> uuid.UUID:
    """Stage clips and add them as one batch, the way the service does."""
    batch_id = new_id()
    with store.staging_dir(batch_id) as staging:
        batch, centroids, embeddings, staged = make_batch(
            store, session_id, staging, n_tracks=n_tracks, position=position, batch_id=batch_id
        )
        store.add_batch(
            session_id,
            batch,
            centroids,
            space=SPACE,
            embeddings=embeddings,
            staged_files=staged,
            new_session=new_session,
        )
    return batch_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("session_id", type=uuid.UUID)
    parser.add_argument("--batches", type=int, default=1)
    parser.add_argument("--tracks", type=int, default=3)
    parser.add_argument("--pause-at", default="")
    parser.add_argument("--sweep-between", action="store_true", help="sweep orphans after every batch")
    parser.add_argument("--new-session", action="store_true", help="the first batch stores the session")
    args = parser.parse_args(argv)

    import core.store

    if args.pause_at:
        point, _, nth = args.pause_at.partition(":")
        wanted = int(nth or 1)
        seen = {"count": 0}

        def hook(name: str) -> None:
            if name != point:
                return
            seen["count"] += 1
            if seen["count"] == wanted:
                print("PAUSED", flush=True)
                sys.stdin.readline()

        core.store._test_hook = hook

    store = SessionStore(args.data_dir)
    print("READY", flush=True)
    sys.stdin.readline()
    new_session = None
    if args.new_session:
        new_session = store.draft_session("a new session", BriefParams(duration_sec=0.1))
        new_session.id = args.session_id
    stored = []
    for index in range(args.batches):
        first = new_session if index == 0 else None
        stored.append(
            str(add_one(store, args.session_id, n_tracks=args.tracks, position=index, new_session=first))
        )
        if args.sweep_between:
            store.sweep_orphans()
    store.close()
    print(json.dumps({"batches": stored}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
