"""The CLI's text output: a session as lines, short clip ids, and the progress line on stderr."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import TextIO

from core.curation_models import Curation
from core.models import BATCH_EXTEND, Batch, Session
from core.text import shown_line


def _one_line(text: str, width: int = 70) -> str:
    """User, file or model text for one line of output: control characters shown harmlessly."""
    flat = " ".join(shown_line(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


SHORT_ID_CHARS = 8  # a clip's id as ``show`` prints it: enough for keep/rate/... (unique prefixes)


def short_ids(ids: Sequence[uuid.UUID], minimum: int = SHORT_ID_CHARS) -> dict[uuid.UUID, str]:
    """Each id's first ``minimum`` hex digits, or as many more as it takes to tell these ids apart."""
    hexes = {i: i.hex for i in ids}
    width = minimum
    while width < 32 and len({h[:width] for h in hexes.values()}) < len(hexes):
        width += 1
    return {i: h[:width] for i, h in hexes.items()}


def curation_line(marks: Curation) -> str:
    """The marks of a clip in a few characters: ★ 4/5 [discarded] #tag "note"."""
    parts = []
    if marks.kept:
        parts.append("★")
    if marks.rating is not None:
        parts.append(f"{marks.rating}/5")
    if marks.discarded:
        parts.append("[discarded]")
    parts.extend(f"#{_one_line(t, 40)}" for t in marks.tags)
    if marks.note:
        parts.append(f'"{_one_line(marks.note, 40)}"')
    return " ".join(parts)


def _batch_kind(batch: Batch, labels: dict[uuid.UUID, str]) -> str:
    """What made the batch, in words: a blend names both parents, a more-like or an extension its one."""

    def label(cluster_id: uuid.UUID | None) -> str:
        return f'"{_one_line(labels.get(cluster_id, "?") if cluster_id else "?", 40)}"'

    if batch.kind == BATCH_EXTEND:
        return f"extended from {label(batch.parent_cluster_id)}"
    if batch.parent_cluster_id is None:
        return shown_line(batch.kind)
    second = next((c.second_parent_cluster_id for c in batch.clusters if c.second_parent_cluster_id), None)
    if second is not None:
        return f"blend of {label(batch.parent_cluster_id)} and {label(second)}"
    return f"more like {label(batch.parent_cluster_id)}"


def print_session(
    session: Session,
    out: TextIO,
    labels: dict[uuid.UUID, str] | None = None,
    curations: dict[uuid.UUID, Curation] | None = None,
    names: dict[uuid.UUID, str] | None = None,
    *,
    show_discarded: bool = False,
) -> None:
    """The session's batches as text; ``labels`` names parent clusters of batches not in ``session``.

    Each clip shows its marks; discarded clips are left out (and counted) unless ``show_discarded``."""
    from core.clipcheck import clip_file_problem

    curations = curations or {}
    names = names or {}
    hidden = 0
    out.write(f"Session {session.id}  {_one_line(session.title)}\n")
    labels = {**(labels or {}), **{c.id: names.get(c.id) or c.label for c in session.clusters}}
    clip_ids = short_ids([t.id for t in session.tracks])  # what keep, rate, tag... take
    for batch in session.batches:
        kind = _batch_kind(batch, labels)
        clips = f"{batch.num_generated}/{_count(batch.num_requested, 'clip')}"
        seed = f", seed {batch.seed}" if batch.seed is not None else ""
        engine = f", {shown_line(batch.engine)}" if batch.engine != batch.kind else ""  # "import" once
        out.write(f"\n  Batch {batch.id} ({kind}, {clips}{engine}{seed})\n")
        tracks = {t.id: t for t in batch.tracks}
        for cluster in batch.clusters:
            name = names.get(cluster.id)
            generated = f" (generated: {_one_line(cluster.label, 40)})" if name else ""
            out.write(
                f"    Cluster {cluster.id}  {_one_line(name or cluster.label, 60)}{generated}"
                f"  ({_count(len(cluster.track_ids), 'clip')})\n"
            )
            for track_id in cluster.track_ids:
                track = tracks.get(track_id)
                if track is None:
                    continue
                marks = curations.get(track_id, Curation())
                if marks.discarded and not show_discarded:
                    hidden += 1
                    continue
                sim = f"  sim {track.similarity:.2f}" if track.similarity is not None else ""
                src = f"  from {shown_line(track.source)}" if track.source else ""
                problem = clip_file_problem(track.path)
                mark = f"  [{problem}]" if problem else ""
                line = curation_line(marks)
                marked = f"  {line}" if line else ""
                out.write(
                    f"      {clip_ids[track.id]}  {track.duration_sec:5.1f}s{sim}  {shown_line(track.path)}"
                    f"{src}{mark}{marked}\n"
                )
    if hidden:
        out.write(
            f"\n  {_count(hidden, 'discarded clip')} hidden; 'sessionlab show {session.id} --all' lists them.\n"
        )


class _ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.05:
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        bar = "█" * filled + "░" * (width - filled)
        self.stream.write(f"\r{stage:<14} {bar} {done}/{total} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()
