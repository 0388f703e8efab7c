"""``sessionlab export``: clips of a session as files for a DAW (``core.export.daw``).

Its own module so the command's flags and output live in one place;
``core.cli.parser`` adds the parser and ``core.cli`` hands the command over.
"""

from __future__ import annotations

import argparse
import math
import threading
import uuid
from pathlib import Path
from typing import Any, TextIO

from core.errors import ValidationError
from core.text import shown_line


def add_export_parser(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        help="write clips as 24-bit WAV or FLAC for a DAW, loudness-normalised, with metadata",
        usage="sessionlab export SESSION [--kept | --cluster ID | --tracks ID [ID ...]] [--format wav|flac]"
        " [--loudness none|-14|-18] [--to DIR] [--json]",
        parents=common,
    )
    export.add_argument("session_id", help="session id (or a unique prefix)")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--kept", action="store_true", help="only the kept clips")
    which.add_argument("--cluster", metavar="ID", help="the clips of one cluster (id or unique prefix)")
    which.add_argument("--tracks", nargs="+", metavar="ID", help="these clips (ids or unique prefixes)")
    export.add_argument("--format", default="wav", help="wav (default) or flac; 24-bit either way")
    export.add_argument(
        "--loudness", default="-18", help="integrated loudness target: none, -14 or -18 LUFS (default -18)"
    )
    export.add_argument("--to", type=Path, metavar="DIR", help="folder (default: ./sessionlab-SESSION)")
    export.add_argument("--json", action="store_true", help="print what was written as one JSON document")


def _finite(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def choose_tracks(store: Any, session: Any, args: argparse.Namespace) -> list[uuid.UUID]:
    """The clips the flags name, in the session's order; by default every clip not discarded."""
    curations = store.get_curations(session.id)
    if args.tracks:
        return list(dict.fromkeys(store.resolve_track_id(text, session.id) for text in args.tracks))
    if args.cluster:
        cluster_id = store.resolve_cluster_id(session.id, args.cluster)
        found = session.find_cluster(cluster_id)
        return list(found[1].track_ids) if found else []
    if args.kept:
        chosen = [t.id for t in session.tracks if getattr(curations.get(t.id), "kept", False)]
        if not chosen:
            raise ValidationError(
                "No clip of this session is kept yet: keep some, or export a cluster or clips."
            )
        return chosen
    return [t.id for t in session.tracks if not getattr(curations.get(t.id), "discarded", False)]


def run_export(args: argparse.Namespace, settings: Any, out: TextIO, err: TextIO) -> int:
    from core.cli.common import EXIT_CANCELLED, _has_sessions, _no_session, _store
    from core.cli.documents import _emit
    from core.cli.printing import _count, _ProgressBar
    from core.export.daw import ExportOptions, export_tracks

    options_to = args.to  # checked with the rest before anything is read or written
    probe = ExportOptions(format=args.format, loudness=args.loudness, to=options_to or Path.cwd())
    if not _has_sessions(settings):
        raise _no_session(settings, args.session_id)
    store = _store(settings)
    session_id = store.resolve_session_id(args.session_id)
    session = store.require_session(session_id)
    track_ids = choose_tracks(store, session, args)
    if not track_ids:
        raise ValidationError("Nothing to export: the session has no clips to export with these flags.")
    folder = options_to if options_to is not None else Path.cwd() / f"sessionlab-{session_id.hex[:8]}"
    options = ExportOptions(format=probe.format, loudness=probe.loudness, to=folder)

    # The export runs in a worker thread so that ctrl-c can ask it to stop between files:
    # the files written stay whole, and session.json says what they are.
    bar = _ProgressBar(err)
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = export_tracks(
                store, session_id, track_ids, options, progress=bar, cancel=cancel
            )
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="sessionlab-export", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        cancel.set()
        worker.join()
    finally:
        bar.close()
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    if args.json:
        _emit(
            {
                "folder": str(result.folder),
                "manifest": str(result.manifest) if result.manifest else None,
                "cancelled": result.cancelled,
                "clips_asked": result.total,
                "files": [
                    {
                        "path": str(f.path),
                        "track_id": str(f.track_id),
                        "cluster": f.cluster,
                        "bpm": f.bpm,
                        "key": f.key,
                        "tempo_key_source": f.tempo_key_source,
                        "lufs": _finite(f.lufs),  # silence has no true peak: null, as in session.json
                        "true_peak_dbtp": _finite(f.true_peak_dbtp),
                    }
                    for f in result.files
                ],
            },
            out,
        )
    else:
        for f in result.files:
            tempo = f"{f.bpm:.1f} bpm" if f.bpm is not None else "tempo ?"
            out.write(
                f"{shown_line(f.path)}  {f.lufs:6.1f} LUFS  {f.true_peak_dbtp:5.1f} dBTP"
                f"  {tempo}  {shown_line(f.key or 'key ?')}\n"
            )
        if result.manifest is not None:
            out.write(
                f"{_count(len(result.files), 'file')} and {result.manifest.name} in {shown_line(result.folder)}\n"
            )
    if result.cancelled:
        err.write(
            f"sessionlab: export cancelled after {len(result.files)} of {result.total} clips;"
            " the files written are whole.\n"
        )
        return EXIT_CANCELLED
    return 0
