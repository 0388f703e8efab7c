"""A batch's manifest: what the database knows of a batch, written beside its audio.

``media/{session_id}/{batch_id}.json`` holds everything needed to rebuild the
batch's rows (and its session's row) if the database is lost, emptied or
replaced by an older copy: see ``sessionlab recover`` (core.recovery).

The store writes it in ``add_batch``, atomically (temporary name, fsync,
rename, fsync of the folder) under the session's lock, after the clips are in
place and before the rows commit. So a committed batch always has its manifest;
a crash can leave a manifest without rows (recover rebuilds from it), never
rows without a manifest written by this version. Renaming a session rewrites
its manifests; deleting a session removes its folder, manifests included.

Format 1 (a JSON object)::

    format       1
    kind         "sessionlab-batch"
    written_at   ISO 8601 UTC
    session      {id, created_at, updated_at, brief_text, params, name}
    batch        {id, kind, position, created_at, prompt_text, params, seed, engine,
                  model, embedder, namer, parent_cluster_id, num_requested, num_generated}
    clusters     [{id, label, position, created_at, parent_cluster_id,
                   second_parent_cluster_id (a blend's only), track_ids}]             in order
    tracks       [{id, file, bytes, cluster_id, position, cluster_position, duration_sec,
                   created_at, seed, similarity, source, recipe, raw_prompt}]      in order
    vectors      {space: {"centroids": {cluster_id: b64}, "embeddings": {track_id: b64}}}

Seeds are text (they can exceed 64 bits). A vector is its float32 values,
little-endian, in base64. ``file`` is the WAV's name in the same folder.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import paths
from core.models import Batch, BriefParams, ClusterSummary, Session, Track, utcnow
from core.safekeeping import write_atomic

if TYPE_CHECKING:
    import numpy as np

FORMAT = 1
KIND = "sessionlab-batch"
_F32 = "<f4"  # little-endian float32 (numpy is imported where a vector is made: not for reading rows)


class ManifestError(ValueError):
    """A file that is not a manifest this version can read (the message says why)."""


@dataclass
class BatchRecord:
    """One batch as a manifest or a backup knows it: enough to write its rows again."""

    session: Session  # the head only: batches is empty
    batch: Batch  # tracks' paths are where the data dir keeps them
    vectors: dict[str, tuple[dict[uuid.UUID, np.ndarray], dict[uuid.UUID, np.ndarray]]] = field(
        default_factory=dict
    )  # space -> (centroids by cluster, embeddings by track)
    track_bytes: dict[uuid.UUID, int] = field(default_factory=dict)
    origin: str = ""  # where it was read: a manifest's path or a backup's name


def manifest_path(root: Path, session_id: uuid.UUID, batch_id: uuid.UUID) -> Path:
    return paths.session_media_dir(root, session_id) / f"{batch_id}.json"


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _b64(vector: Any) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(vector, dtype=np.float32).ravel().astype(_F32).tobytes()).decode(
        "ascii"
    )


def _vector(text: str) -> np.ndarray:
    import numpy as np

    return np.frombuffer(base64.b64decode(text, validate=True), dtype=_F32).astype(np.float32)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path | uuid.UUID | datetime):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def document(
    session: Session,
    batch: Batch,
    vectors: dict[str, tuple[dict[uuid.UUID, Any], dict[uuid.UUID, Any]]],
) -> dict[str, Any]:
    """The manifest of ``batch`` (of ``session``, whose head fields are used) as a JSON-ready dict."""
    cluster_position = {tid: i for c in batch.clusters for i, tid in enumerate(c.track_ids)}
    tracks = []
    for t in batch.tracks:
        path = Path(t.path)
        try:
            size = path.stat().st_size
        except OSError:
            size = None
        tracks.append(
            {
                "id": str(t.id),
                "file": path.name,
                "bytes": size,
                "cluster_id": str(t.cluster_id),
                "position": int(t.position),
                "cluster_position": cluster_position.get(t.id, 0),
                "duration_sec": float(t.duration_sec),
                "created_at": _ts(t.created_at),
                "seed": _str_or_none(t.seed),
                "similarity": None if t.similarity is None else float(t.similarity),
                "source": t.source,
                "recipe": t.recipe,
                "raw_prompt": t.raw_prompt,
            }
        )
    return {
        "format": FORMAT,
        "kind": KIND,
        "written_at": _ts(utcnow()),
        "session": {
            "id": str(session.id),
            "created_at": _ts(session.created_at),
            "updated_at": _ts(session.updated_at),
            "brief_text": session.brief_text,
            "params": session.params.to_dict(),
            "name": session.name,
        },
        "batch": {
            "id": str(batch.id),
            "kind": batch.kind,
            "position": int(batch.position),
            "created_at": _ts(batch.created_at),
            "prompt_text": batch.prompt_text,
            "params": batch.params.to_dict(),
            "seed": _str_or_none(batch.seed),
            "engine": batch.engine,
            "model": batch.model,
            "embedder": batch.embedder,
            "namer": batch.namer,
            "parent_cluster_id": _str_or_none(batch.parent_cluster_id),
            "num_requested": int(batch.num_requested),
            "num_generated": int(batch.num_generated),
        },
        "clusters": [
            {
                "id": str(c.id),
                "label": c.label,
                "position": int(c.position),
                "created_at": _ts(c.created_at),
                "parent_cluster_id": _str_or_none(c.parent_cluster_id),
                **(
                    {"second_parent_cluster_id": str(c.second_parent_cluster_id)}
                    if c.second_parent_cluster_id is not None
                    else {}
                ),
                "track_ids": [str(t) for t in c.track_ids],
            }
            for c in batch.clusters
        ],
        "tracks": tracks,
        "vectors": {
            space: {
                "centroids": {str(k): _b64(v) for k, v in centroids.items()},
                "embeddings": {str(k): _b64(v) for k, v in embeddings.items()},
            }
            for space, (centroids, embeddings) in vectors.items()
        },
    }


def write(root: Path, doc: dict[str, Any]) -> Path:
    """Write a manifest document atomically to its place in the session's media folder."""
    path = manifest_path(root, uuid.UUID(doc["session"]["id"]), uuid.UUID(doc["batch"]["id"]))
    data = json.dumps(doc, ensure_ascii=False, indent=1, default=_json_default).encode("utf-8")
    write_atomic(path, data)
    return path


def write_batch(
    root: Path,
    session: Session,
    batch: Batch,
    centroids: dict[uuid.UUID, Any],
    space: str,
    embeddings: dict[uuid.UUID, Any],
) -> Path:
    return write(root, document(session, batch, {space: (centroids, embeddings)}))


def rename_session(path: Path, name: str) -> None:
    """Rewrite one manifest with the session's new name (a manifest that cannot be read is left as it is)."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return
    if not isinstance(doc, dict) or doc.get("kind") != KIND or not isinstance(doc.get("session"), dict):
        return
    doc["session"]["name"] = name
    write_atomic(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _opt_uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else _uuid(value)


def _dt(value: Any) -> datetime:
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _seed(value: Any) -> int | None:
    return None if value is None else int(value)


def read(path: Path, root: Path) -> BatchRecord:
    """Read a manifest (wherever it lies now) into a record whose tracks live in ``root``'s media.

    Raises ManifestError when the file is not a manifest this version can read.
    """
    try:
        doc = json.loads(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"not readable as JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ManifestError("not a Session Lab batch manifest")
    if doc.get("format") != FORMAT:
        raise ManifestError(f"manifest format {doc.get('format')!r}; this Session Lab reads format {FORMAT}")
    try:
        s = doc["session"]
        session = Session(
            id=_uuid(s["id"]),
            created_at=_dt(s["created_at"]),
            brief_text=str(s["brief_text"]),
            params=BriefParams.from_dict(s["params"]),
            batches=[],
            name=str(s.get("name") or ""),
            updated_at=_dt(s["updated_at"]) if s.get("updated_at") else None,
        )
        b = doc["batch"]
        batch_id = _uuid(b["id"])
        clusters = [
            ClusterSummary(
                id=_uuid(c["id"]),
                batch_id=batch_id,
                label=str(c["label"]),
                track_ids=[_uuid(t) for t in c["track_ids"]],
                created_at=_dt(c["created_at"]),
                parent_cluster_id=_opt_uuid(c.get("parent_cluster_id")),
                position=int(c["position"]),
                second_parent_cluster_id=_opt_uuid(c.get("second_parent_cluster_id")),
            )
            for c in doc["clusters"]
        ]
        tracks = []
        sizes: dict[uuid.UUID, int] = {}
        for t in doc["tracks"]:
            track_id = _uuid(t["id"])
            suffix = paths.track_suffix(str(t.get("file")))
            if t.get("file") != f"{track_id}{suffix}":
                raise ManifestError(f"track {track_id} names the file {t.get('file')!r}")
            if t.get("bytes") is not None:
                sizes[track_id] = int(t["bytes"])
            tracks.append(
                Track(
                    id=track_id,
                    batch_id=batch_id,
                    cluster_id=_uuid(t["cluster_id"]),
                    path=paths.track_path(root, session.id, track_id, suffix),
                    duration_sec=float(t["duration_sec"]),
                    raw_prompt=str(t["raw_prompt"]),
                    created_at=_dt(t["created_at"]),
                    seed=_seed(t.get("seed")),
                    similarity=None if t.get("similarity") is None else float(t["similarity"]),
                    source=t.get("source"),
                    recipe=t.get("recipe"),
                    position=int(t["position"]),
                )
            )
        batch = Batch(
            id=batch_id,
            session_id=session.id,
            created_at=_dt(b["created_at"]),
            prompt_text=str(b["prompt_text"]),
            num_requested=int(b["num_requested"]),
            num_generated=int(b["num_generated"]),
            clusters=clusters,
            tracks=tracks,
            kind=str(b["kind"]),
            params=BriefParams.from_dict(b["params"]),
            seed=_seed(b.get("seed")),
            engine=str(b["engine"]),
            model=b.get("model"),
            embedder=str(b["embedder"]),
            namer=str(b["namer"]),
            parent_cluster_id=_opt_uuid(b.get("parent_cluster_id")),
            position=int(b["position"]),
        )
        vectors = {
            str(space): (
                {_uuid(k): _vector(v) for k, v in entry.get("centroids", {}).items()},
                {_uuid(k): _vector(v) for k, v in entry.get("embeddings", {}).items()},
            )
            for space, entry in doc.get("vectors", {}).items()
        }
    except ManifestError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ManifestError(f"incomplete or damaged ({type(exc).__name__}: {exc})") from None
    return BatchRecord(session=session, batch=batch, vectors=vectors, track_bytes=sizes, origin=str(path))


def drop_tracks(path: Path, track_ids: set[str]) -> None:
    """Rewrite one manifest without the clips the musician deleted (and clusters left without clips).

    A manifest that cannot be read is left as it is (recover reports it)."""
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return
    except ValueError:
        return
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        return
    tracks = [t for t in doc.get("tracks", []) if str(t.get("id")) not in track_ids]
    if len(tracks) == len(doc.get("tracks", [])):
        return
    clusters = []
    for cluster in doc.get("clusters", []):
        cluster["track_ids"] = [t for t in cluster.get("track_ids", []) if t not in track_ids]
        if cluster["track_ids"]:
            clusters.append(cluster)
    kept_clusters = {c["id"] for c in clusters}
    for entry in doc.get("vectors", {}).values():
        entry["centroids"] = {k: v for k, v in entry.get("centroids", {}).items() if k in kept_clusters}
        entry["embeddings"] = {k: v for k, v in entry.get("embeddings", {}).items() if k not in track_ids}
    doc["tracks"], doc["clusters"] = tracks, clusters
    write_atomic(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))
