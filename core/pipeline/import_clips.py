"""The musician's own files join a session (a new one, or one that exists) as a batch."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core import clustering
from core.audio import read_audio, read_import
from core.errors import GenerationFailedError, ValidationError, storage_error
from core.models import BATCH_IMPORT, MAX_DURATION_SEC, MIN_DURATION_SEC, Batch, BriefParams, new_id
from core.pipeline import naming, steps
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.prompt import render_prompt
from core.providers.base import GeneratedClip
from core.validation import validate_brief


def import_clips(tools: Tools, run: Run, session_id: uuid.UUID | None, files: Sequence[Path | str]) -> Batch:
    """The stored batch of the files (its ``session_id`` names the session, new or not).

    Every file is read before anything is written: one that is not audio, is
    empty or is corrupt is named in the error and nothing is stored. A new
    session commits with its batch; the session's other batches are never read.
    """
    if not files:
        raise ValidationError("Name at least one audio file to import.")
    sources = [Path(f).expanduser() for f in files]
    decoded: list[tuple[Path, np.ndarray, int, str]] = []
    for source in sources:
        samples, rate, suffix = read_import(source)  # mono, for analysis; the file is kept as it is
        decoded.append((source.resolve(), samples, rate, suffix))
    session = tools.store.require_session_head(session_id) if session_id is not None else None
    clustering.warm_up()
    run.start_clock()
    names = ", ".join(text_of(s.name) for s, _, _, _ in decoded)
    brief = session.brief_text if session is not None else validate_brief(f"Imported: {names}"[:2000])
    durations = [len(s) / r for _, s, r, _ in decoded]
    median = float(np.median(durations))
    params = (
        session.params
        if session is not None
        else BriefParams(duration_sec=max(MIN_DURATION_SEC, min(MAX_DURATION_SEC, median)))
    )
    session_key = session.id if session is not None else new_id()
    batch_id = new_id()
    with tools.store.staging_dir(batch_id) as staging:
        clips: list[GeneratedClip] = []
        for i, (source, samples, rate, suffix) in enumerate(decoded):
            run.check_cancel()
            staged = _stage(source, staging / f"import-{i}", suffix)
            clips.append(
                GeneratedClip(
                    audio_path=staged,
                    duration_sec=len(samples) / rate,
                    raw_prompt=text_of(source.stem).replace("_", " ").replace("-", " "),
                    recipe={"source": text_of(source), "sample_rate": rate},
                )
            )
            run.report("importing", i + 1, len(decoded))
        candidates = steps.embed(tools, run, clips)
        if not candidates:
            raise GenerationFailedError("None of the files could be analysed; nothing was stored.")
        batch, by_track = naming.cluster_and_name(
            tools,
            run,
            batch_id,
            session_key,
            render_prompt(brief, params),
            params,
            candidates,
            kind=BATCH_IMPORT,
            num_requested=len(decoded),
            seed=None,
        )
        for track in batch.tracks:
            recipe = by_track[track.id].clip.recipe or {}
            track.source = recipe.get("source")
        steps.persist(tools, run, batch, by_track, new_session=(brief, params) if session is None else None)
    return run.finish(batch)


def text_of(path: Path | str) -> str:
    """A file name as text that can be stored: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _stage(source: Path, stem: Path, suffix: str) -> Path:
    """The musician's file into staging as it was (its bytes) when its format can be kept, else as a float WAV.

    Either way every channel, the rate and the depth survive; analysis reads a mono copy.
    """
    target = stem.with_suffix(suffix or ".wav")
    try:
        if suffix:
            shutil.copyfile(source, target)
        else:
            import soundfile as sf

            samples, rate = read_audio(source, mono=False)
            sf.write(target, samples, rate, format="WAV", subtype="FLOAT")
    except OSError as exc:
        raise storage_error(f"write the clip {target.name} ({text_of(source.name)})", exc) from None
    return target
