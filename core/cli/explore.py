"""The exploring commands of ``sessionlab``: map, search and blend (core.cli adds them).

``map`` and ``search`` only read (the store is opened read-only); ``blend`` makes
a batch like ``more`` does.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core.errors import NotFoundError

if TYPE_CHECKING:
    from core.models import Session
    from core.settings import Settings
    from core.store import SessionStore

COMMANDS = ("map", "search", "blend")


def add_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    from core.cli.parser import _provider_flags

    drawn = commands.add_parser("map", help="draw the session's clips on a map (SVG or PNG)", parents=common)
    drawn.add_argument("session_id", help="session id (or a unique prefix)")
    drawn.add_argument("--out", required=True, type=Path, help="the picture to write: map.svg or map.png")
    drawn.add_argument("--json", action="store_true", help="also print each clip's place as JSON")

    found = commands.add_parser(
        "search", help="find clips by words (labels, briefs, notes, tags) and by sound", parents=common
    )
    found.add_argument("session_id", help="session id (or a unique prefix)")
    found.add_argument("text", help="what to look for, e.g. 'warm rhodes'")
    found.add_argument("--top", type=int, default=10, help="clips added by sound alone (default 10)")
    found.add_argument("--embedder", help="rank with this embedder (default: the one of the session's space)")
    found.add_argument("--embedder-model", help="model id or local path for the embedder")
    found.add_argument("--json", action="store_true")

    blended = commands.add_parser("blend", help="generate clips between two clusters", parents=common)
    blended.add_argument("session_id", help="session id (or a unique prefix)")
    blended.add_argument("cluster_a", help="the first cluster (the blend sits under it)")
    blended.add_argument("cluster_b", help="the second cluster")
    blended.add_argument(
        "--clips", type=int, default=None, help="number of clips (default: the max batch size)"
    )
    blended.add_argument("--seed", type=int, help="batch seed")
    blended.add_argument("--json", action="store_true")
    _provider_flags(blended)


def run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from core.cli.common import _has_sessions, _no_session

    if not _has_sessions(settings):
        raise _no_session(settings, args.session_id)
    if args.command == "blend":
        return _blend(args, settings, out, err)
    from core.cli.common import _store

    store = _store(settings)
    session = _read_session(store, args.session_id)
    if args.command == "map":
        return _map(args, store, session, out)
    return _search(args, settings, store, session, out, err)


def _read_session(store: SessionStore, text: str) -> Session:
    session_id = store.resolve_session_id(text)
    session = store.get_session(session_id, recipes=False)
    if session is None:
        raise NotFoundError(f"No session {session_id}.")
    return session


def _map(args: argparse.Namespace, store: SessionStore, session: Session, out: TextIO) -> int:
    from core.cli.documents import _emit
    from core.map_picture import check_out_path, write_map_picture
    from core.maps import session_map

    path = check_out_path(args.out.expanduser())
    placed = session_map(store, session)
    if not placed.points:
        raise NotFoundError("The session has no clips with stored vectors to draw.")
    write_map_picture(session, placed, store.get_cluster_names(session.id), path)
    if args.json:
        _emit(
            {
                "session_id": str(session.id),
                "space": placed.space,
                "out": str(path),
                "missing": placed.missing,
                "points": [
                    {"track_id": str(p.track_id), "cluster_id": str(p.cluster_id), "x": p.x, "y": p.y}
                    for p in placed.points
                ],
            },
            out,
        )
    else:
        out.write(f"wrote {path} ({len(placed.points)} clips")
        out.write(f", {placed.missing} without a vector left off)\n" if placed.missing else ")\n")
    return 0


def _search(
    args: argparse.Namespace,
    settings: Settings,
    store: SessionStore,
    session: Session,
    out: TextIO,
    err: TextIO,
) -> int:
    from core.cli.documents import _emit
    from core.cli.printing import _one_line
    from core.maps import session_space
    from core.search import embedder_for, search, validate_query

    validate_query(args.text)
    embedder, why_not = embedder_for(settings, session_space(session), args.embedder, args.embedder_model)
    result = search(store, session, args.text, embedder, sounds_like=max(0, args.top))
    if why_not:
        result.notes.append(why_not)
    clusters = {c.id: c for c in session.clusters}
    names = store.get_cluster_names(session.id)
    tracks = {t.id: t for t in session.tracks}
    if args.json:
        _emit(
            {
                "session_id": str(session.id),
                "query": result.query,
                "ranked_by": result.ranked_by,
                "notes": result.notes,
                "hits": [
                    {
                        "track_id": str(h.track_id),
                        "cluster_id": str(tracks[h.track_id].cluster_id),
                        "cluster": _label(clusters, names, tracks[h.track_id].cluster_id),
                        "path": str(tracks[h.track_id].path),
                        "matched": list(h.matched),
                        "score": h.score,
                    }
                    for h in result.hits
                ],
            },
            out,
        )
        return 0
    for note in result.notes:
        err.write(f"note: {_one_line(note, 200)}\n")
    if not result.hits:
        out.write(f"No clip matches {_one_line(result.query, 60)!r}.\n")
        return 0
    if result.ranked_by:
        out.write(f"ranked by sound ({_one_line(result.ranked_by, 60)})\n")
    for h in result.hits:
        track = tracks[h.track_id]
        score = f"{h.score:+.3f}" if h.score is not None else "     -"
        where = ", ".join(h.matched) if h.matched else "sound"
        label = _one_line(_label(clusters, names, track.cluster_id), 24)
        out.write(
            f"{str(h.track_id)[:8]}  {score}  {label:<24}  {where:<18}  {_one_line(str(track.path), 80)}\n"
        )
    return 0


def _label(clusters: dict[uuid.UUID, Any], names: dict[uuid.UUID, str], cluster_id: uuid.UUID) -> str:
    cluster = clusters.get(cluster_id)
    return names.get(cluster_id) or (cluster.label if cluster is not None else "?")


def _blend(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from core.cli.common import _notices, _service
    from core.cli.making import _print_new_batch
    from core.cli.printing import _ProgressBar

    service = _service(args, settings)
    session_id = service.store.resolve_session_id(args.session_id)
    first = service.store.resolve_cluster_id(session_id, args.cluster_a)
    second = service.store.resolve_cluster_id(session_id, args.cluster_b)
    clips = args.clips if args.clips is not None else settings.max_batch_size
    bar = _ProgressBar(err)
    try:
        batch = service.blend_clusters(session_id, first, second, clips, seed=args.seed, progress=bar)
    finally:
        bar.close()
        _notices(service, err)  # a failed call's too: the fallbacks passed over, and why
    _print_new_batch(service.store, batch, args.json, out)
    return 0
