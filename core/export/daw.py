"""Export clips for a DAW or a sample browser: 24-bit WAV (bext, iXML, acid, smpl)
or FLAC (Vorbis comments), loudness-normalised as seed 004 asks, named
``{cluster}_{bpm}bpm_{key}_{n}.wav``, with a ``session.json`` beside them.

- Names hold only letters, digits, ``_``, ``-`` and ``#`` (what sample-pack
  stores accept); ``n`` counts the clips of a cluster in this export. A name
  already taken gets ``-2``, ``-3``...: an existing file is never overwritten.
- Two clips are measured at once (both cores) while a writer thread writes
  the one before. Each file is written to a hidden temporary name in the
  folder and linked to its name only when whole (``core.export.files``); a
  cancel or an error removes the temporary file, so a cancelled export leaves
  the files it finished, each whole, and no partial one.
- Tempo and key: the engine's own values where it recorded them, else an
  estimate from the audio (``core.audio.analysis``).
- The measured loudness and true peak of every file go to ``session.json`` (and
  the result), not to the database: the files live outside the data dir, where
  they are moved, renamed and deleted without the app knowing, and an export
  must work on a read-only data dir or a backup. What an export learns about a
  clip itself (tempo, key, the loudness and true peak of the stored clip) is
  stored through ``store.put_analysis`` when the store is writable and the clip
  had no analysis yet, so the app's detail view need not compute it again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import NotFoundError, SessionLabError, ValidationError, disk_problem, storage_error
from core.export.files import file_stem, write_new_file

FORMATS = ("wav", "flac")
LOUDNESS_CHOICES = {"none": None, "-14": -14.0, "-18": -18.0}
EXPORT_VERSION = 1
MANIFEST_NAME = "session"

Progress = Callable[[str, int, int], None]
_PREPARE_THREADS = 2  # this machine's cores; more only queue
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportOptions:
    format: str = "wav"  # wav | flac
    loudness: str = "-18"  # none | -14 | -18 (LUFS); seed 004's target by default
    to: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        fmt = str(self.format).lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValidationError(f"Export format must be wav or flac, not {str(self.format)[:20]!r}.")
        loudness = str(self.loudness).strip().lower()
        with contextlib.suppress(ValueError):
            loudness = f"{float(loudness):g}" if loudness != "none" else loudness
        if loudness not in LOUDNESS_CHOICES:
            raise ValidationError(
                f"Export loudness must be none, -14 or -18 (LUFS), not {str(self.loudness)[:20]!r}."
            )
        object.__setattr__(self, "format", fmt)
        object.__setattr__(self, "loudness", loudness)
        object.__setattr__(self, "to", Path(self.to).expanduser())

    @property
    def target_lufs(self) -> float | None:
        return LOUDNESS_CHOICES[self.loudness]


@dataclass(frozen=True)
class ExportedFile:
    track_id: uuid.UUID
    path: Path
    cluster: str
    bpm: float | None
    key: str | None
    tempo_key_source: str | None  # "engine", "estimate" or None when neither is known
    lufs: float  # measured on the exported audio
    true_peak_dbtp: float  # measured on the exported audio, 4x oversampled


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: list[ExportedFile]
    manifest: Path | None  # session.json (or session-2.json...)
    cancelled: bool = False
    total: int = 0  # clips asked for


def _curation_document(curation: Any) -> dict[str, Any]:
    from core.curation_models import Curation

    return (curation or Curation()).to_dict()


def _known(analysis: Any) -> Any:
    """A stored analysis that says something (the app computes one for its detail view)."""
    return (
        analysis if analysis is not None and (analysis.bpm is not None or analysis.key is not None) else None
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rounded(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def export_tracks(
    store: Any,
    session_id: uuid.UUID,
    track_ids: Sequence[uuid.UUID],
    options: ExportOptions,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ExportResult:
    """Export ``track_ids`` of the session to ``options.to``; see the module docstring."""
    session = store.require_session(session_id)
    found = {t.id: (b, t) for b in session.batches for t in b.tracks}
    missing = [str(t)[:8] for t in track_ids if t not in found]
    if missing:
        raise NotFoundError(f"No clip {missing[0]} in session {str(session_id)[:8]}; nothing was exported.")
    wanted = list(dict.fromkeys(track_ids))
    if not wanted:
        raise ValidationError("Nothing to export: choose clips, a cluster, or the kept clips.")
    curations = store.get_curations(session_id)
    names = store.get_cluster_names(session_id)
    stored = store.get_analysis(wanted)
    labels = {c.id: names.get(c.id) or c.label for c in session.clusters}
    folder = options.to
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = disk_problem(exc)
        if problem is not None:
            raise storage_error(f"create the folder {folder}", problem, "nothing was exported") from exc
        raise ValidationError(
            f"Cannot create the folder {folder} ({exc.strerror or exc}); nothing was exported."
        ) from None
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a folder; nothing was exported.")

    total = len(wanted)
    files: list[ExportedFile] = []
    entries: list[dict[str, Any]] = []
    per_cluster: dict[uuid.UUID, int] = {}
    cancelled = False
    context = _Context(session, options, labels, curations, stored)
    learned: list[_ClipFacts] = []
    # Two clips are read, measured and limited at once (numpy, scipy and soxr let go
    # of the GIL: both cores work), and one writer thread encodes, syncs and names
    # file k while later clips are measured. Files are named and listed in order.
    pending: tuple[Future[Path], _Prepared] | None = None
    ahead: deque[Future[_Prepared]] = deque()

    def stopped() -> bool:
        return cancel is not None and cancel.is_set()

    def settle() -> None:
        nonlocal pending
        if pending is None:
            return
        future, prepared = pending
        pending = None
        try:
            path = future.result()
        except OSError as exc:
            problem = disk_problem(exc)
            if problem is not None:
                name = f"{prepared.stem}.{options.format}"
                raise storage_error(
                    f"write {name}", problem, f"{len(files)} files were exported whole"
                ) from exc
            raise
        files.append(dataclasses.replace(prepared.exported, path=path))
        entries.append({"file": path.name, **prepared.entry})
        learned.append(prepared.clip)

    with (
        ThreadPoolExecutor(max_workers=_PREPARE_THREADS, thread_name_prefix="sessionlab-export") as workers,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sessionlab-export-write") as writer,
    ):
        try:
            submitted = 0
            for index in range(total):
                while submitted < total and len(ahead) < _PREPARE_THREADS and not stopped():
                    batch, track = found[wanted[submitted]]
                    n = per_cluster[track.cluster_id] = per_cluster.get(track.cluster_id, 0) + 1
                    ahead.append(workers.submit(_prepare, context, batch, track, n))
                    submitted += 1
                if stopped() or not ahead:
                    cancelled = True
                    break
                if progress is not None:
                    progress("export", index, total)
                prepared = ahead.popleft().result()
                settle()
                if stopped():
                    cancelled = True
                    break
                suffix = f".{options.format}"
                pending = (
                    writer.submit(write_new_file, folder, prepared.stem, suffix, prepared.write),
                    prepared,
                )
            settle()
        finally:
            for future in ahead:  # cancelled or failed: what is only measured is never written
                future.cancel()
            if pending is not None:  # an error on the way: the file in flight finishes whole or not at all
                with contextlib.suppress(Exception):
                    pending[0].result()
    if progress is not None:
        progress("export", len(files), total)
    manifest = _write_manifest(folder, session, options, entries, cancelled, total) if entries else None
    _remember(store, [p for p in learned if p.track_id not in stored])
    return ExportResult(folder=folder, files=files, manifest=manifest, cancelled=cancelled, total=total)


@dataclass(frozen=True)
class _Context:
    session: Any
    options: ExportOptions
    labels: dict[uuid.UUID, str]
    curations: dict[uuid.UUID, Any]
    stored: dict[uuid.UUID, Any]


@dataclass(frozen=True)
class _ClipFacts:
    """What the export measured of the stored clip itself."""

    track_id: uuid.UUID
    analysis: Any  # ClipAnalysis: tempo, key, source, loudness and true peak of the stored clip


@dataclass(frozen=True)
class _Prepared:
    stem: str
    write: Callable[[Path], None]
    exported: ExportedFile  # its path filled in once the file has its name
    entry: dict[str, Any]  # the file's session.json entry, but its name
    clip: _ClipFacts


def _remember(store: Any, facts: list[_ClipFacts]) -> None:
    """Store what the export learned about clips that had no analysis (a writable store only).

    The export is done and its files are whole: a store that refuses is logged, not raised.
    """
    if not facts or getattr(store, "read_only", True):
        return
    try:
        for fact in facts:
            store.put_analysis(fact.track_id, fact.analysis)
    except (SessionLabError, OSError, sqlite3.Error):
        log.warning("could not store the analysis of exported clips", exc_info=True)


def _prepare(context: _Context, batch: Any, track: Any, n: int) -> _Prepared:
    """Read, analyse and normalise one clip; what writing it needs, and what to say about it."""
    from core.audio import read_audio
    from core.audio.analysis import engine_tempo_key, estimate_tempo_key
    from core.audio.loudness import TRUE_PEAK_CEILING_DBTP, normalize
    from core.audio.wav_meta import ClipMetadata, wav_bytes, write_flac

    session, options = context.session, context.options
    samples, rate = read_audio(track.path, mono=False)
    if samples.shape[1] == 1:
        samples = samples[:, 0]
    analysis = (
        engine_tempo_key(track) or _known(context.stored.get(track.id)) or estimate_tempo_key(samples, rate)
    )
    result = normalize(samples, rate, options.target_lufs, TRUE_PEAK_CEILING_DBTP)
    cluster = context.labels.get(track.cluster_id, "clip")
    stem = file_stem(cluster, analysis.bpm, analysis.key, n)
    curation_doc = _curation_document(context.curations.get(track.id))
    source = analysis.source if (analysis.bpm is not None or analysis.key is not None) else None
    fields = {
        "prompt": track.raw_prompt,
        "seed": "" if track.seed is None else str(track.seed),
        "engine": batch.engine,
        "model": batch.model or "",
        "session_id": str(session.id),
        "batch_id": str(batch.id),
        "clip_id": str(track.id),
        "cluster_id": str(track.cluster_id),
        "tempo_key_source": source or "",
        "kept": "yes" if curation_doc["kept"] else "no",
        "rating": "" if curation_doc["rating"] is None else str(curation_doc["rating"]),
        "discarded": "yes" if curation_doc["discarded"] else "no",
        "tags": ", ".join(curation_doc["tags"]),
        "loudness_target": options.loudness,
    }
    meta = ClipMetadata(
        title=stem,
        brief=session.brief_text,
        session=session.title,
        cluster=cluster,
        take=n,
        created=track.created_at,
        reference=track.id.hex,
        bpm=analysis.bpm,
        key=analysis.key,
        comment=curation_doc["note"],
        fields=fields,
    )

    def write(tmp: Path) -> None:
        if options.format == "wav":
            tmp.write_bytes(wav_bytes(result.samples, rate, meta, result.stats))
        else:
            write_flac(tmp, result.samples, rate, meta, result.stats)

    stats = result.stats
    exported = ExportedFile(
        track_id=track.id,
        path=Path(),
        cluster=cluster,
        bpm=analysis.bpm,
        key=analysis.key,
        tempo_key_source=source,
        lufs=stats.integrated_lufs,
        true_peak_dbtp=stats.true_peak_dbtp,
    )
    entry = {
        "track_id": str(track.id),
        "batch_id": str(batch.id),
        "cluster_id": str(track.cluster_id),
        "cluster": cluster,
        "n": n,
        "format": options.format,
        "bit_depth": 24,
        "sample_rate": rate,
        "channels": 1 if result.samples.ndim == 1 else int(result.samples.shape[1]),
        "duration_sec": round(result.samples.shape[0] / rate, 3),
        "tempo_bpm": analysis.bpm,
        "key": analysis.key,
        "tempo_key_source": source,
        "loudness": {
            "integrated_lufs": _rounded(stats.integrated_lufs),
            "true_peak_dbtp": _rounded(stats.true_peak_dbtp),
            "loudness_range_lu": _rounded(stats.loudness_range_lu),
            "max_momentary_lufs": _rounded(stats.max_momentary_lufs),
            "max_short_term_lufs": _rounded(stats.max_short_term_lufs),
            "source_lufs": _rounded(result.source_lufs),
            "source_true_peak_dbtp": _rounded(result.source_true_peak_dbtp),
            "gain_db": round(result.gain_db, 2),
            "limiter_max_reduction_db": round(-result.limited_db, 2),
        },
        "clip": {
            "raw_prompt": track.raw_prompt,
            "seed": track.seed,
            "created_at": _iso(track.created_at),
            "source": track.source,
            "similarity": track.similarity,
            "recipe": track.recipe,
            "stored_path": str(track.path),
        },
        "batch": {
            "kind": batch.kind,
            "prompt_text": batch.prompt_text,
            "params": batch.params.to_dict(),
            "seed": batch.seed,
            "engine": batch.engine,
            "model": batch.model,
            "embedder": batch.embedder,
            "namer": batch.namer,
            "created_at": _iso(batch.created_at),
        },
        "curation": curation_doc,
    }
    facts = dataclasses.replace(
        analysis, lufs=_rounded(result.source_lufs), true_peak_dbtp=_rounded(result.source_true_peak_dbtp)
    )
    return _Prepared(stem=stem, write=write, exported=exported, entry=entry, clip=_ClipFacts(track.id, facts))


def _write_manifest(
    folder: Path,
    session: Any,
    options: ExportOptions,
    entries: list[dict[str, Any]],
    cancelled: bool,
    total: int,
) -> Path:
    from core.audio.loudness import TRUE_PEAK_CEILING_DBTP

    document = {
        "format": "sessionlab-export",
        "version": EXPORT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "complete": not cancelled,
        "clips_asked": total,
        "options": {
            "format": options.format,
            "bit_depth": 24,
            "loudness_target_lufs": options.target_lufs,
            "true_peak_ceiling_dbtp": TRUE_PEAK_CEILING_DBTP if options.target_lufs is not None else None,
            "true_peak_oversampling": 4,
        },
        "session": {
            "id": str(session.id),
            "name": session.name,
            "title": session.title,
            "brief_text": session.brief_text,
            "params": session.params.to_dict(),
            "created_at": _iso(session.created_at),
        },
        "files": entries,
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return write_new_file(folder, MANIFEST_NAME, ".json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
