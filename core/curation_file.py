"""A session's curation file: the musician's marks, written beside the audio.

``media/{session_id}/curation.json`` carries what the curation tables hold for the
session (clip marks, cluster names, preferences), so ``sessionlab recover`` can
bring curation back with the batches when the database is lost, emptied or
replaced by an older copy (core.recovery). One file per session, not a field of
each batch's manifest: a mark costs one small rewrite, whatever the number of
batches, and a preference may join clips of two batches.

Every entry carries the time it was last changed. A write merges into the file
(the newer entry wins, key by key), never replaces it by the database's view, so
a database restored from an older backup cannot wipe marks made since: they stay
in the file until recover brings them back. Entries of clips deleted by the
musician are dropped explicitly. A missing or unreadable file is rebuilt from the
database on the next write. Writes are atomic (core.safekeeping.write_atomic)
and made under the session's lock, after the rows commit.

Cost: a write reads, merges and rewrites the session's whole file: about 150
bytes per marked clip, so a session of 10,000 clips, all marked, rewrites about
1.5 MB per change (bench/curation.py measures it).

Format 1 (a JSON object, keys sorted)::

    format         1
    kind           "sessionlab-curation"
    session_id     the session
    clips          {track_id: {kept, rating, discarded, tags, note, updated_at}}
    cluster_names  {cluster_id: {name, updated_at}}      name "" = back to the generated label
    preferences    {id: {track_a, track_b, choice, created_at, brief_a, brief_b}}
    deleted        {track_id: {updated_at}}     clips the musician deleted: recover does not
                                                 bring them back from an older backup
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from core import paths
from core.safekeeping import write_atomic

FORMAT = 1
KIND = "sessionlab-curation"
FILE_NAME = "curation.json"
SECTIONS = ("clips", "cluster_names", "preferences", "deleted")


class CurationFileError(ValueError):
    """A file that is not a curation file this version can read (the message says why)."""


def curation_path(root: Path, session_id: uuid.UUID) -> Path:
    return paths.session_media_dir(root, session_id) / FILE_NAME


def empty(session_id: uuid.UUID) -> dict[str, Any]:
    return {"format": FORMAT, "kind": KIND, "session_id": str(session_id), **{s: {} for s in SECTIONS}}


def read(path: Path) -> dict[str, Any]:
    """The document in ``path``; CurationFileError when it is not one this version reads."""
    try:
        doc = json.loads(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise CurationFileError(f"not readable as JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise CurationFileError("not a Session Lab curation file")
    if doc.get("format") != FORMAT:
        raise CurationFileError(
            f"curation format {doc.get('format')!r}; this Session Lab reads format {FORMAT}"
        )
    try:
        uuid.UUID(str(doc["session_id"]))
    except (KeyError, ValueError):
        raise CurationFileError("it names no session") from None
    for section in SECTIONS:
        entries = doc.setdefault(section, {})
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise CurationFileError(f"its {section} are damaged")
    return doc


def _stamp(entry: dict[str, Any]) -> str:
    return str(entry.get("updated_at") or entry.get("created_at") or "")


def _order(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True)


def newer(entry: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Whether ``entry`` wins over ``old`` (None: always). Equal times fall back to a fixed order,
    so merging twice changes nothing."""
    return old is None or (_stamp(entry), _order(entry)) > (_stamp(old), _order(old))


def merge(doc: dict[str, Any], other: dict[str, Any], *, replace: bool = False) -> bool:
    """Merge ``other``'s sections into ``doc``, the newer entry winning; return whether doc changed.

    ``replace``: ``other``'s entries win whatever their times (a change just committed,
    under the session's lock, is the latest word even if the clock went back)."""
    changed = False
    for section in SECTIONS:
        mine = doc.setdefault(section, {})
        for key, entry in other.get(section, {}).items():
            if not isinstance(entry, dict) or mine.get(key) == entry:
                continue
            if replace or newer(entry, mine.get(key)):
                mine[key] = entry
                changed = True
    return changed


def drop(doc: dict[str, Any], track_ids: set[str], cluster_ids: set[str]) -> bool:
    """Remove the entries of deleted clips and clusters (and preferences naming a deleted clip)."""
    before = sum(len(doc[s]) for s in SECTIONS)
    doc["clips"] = {k: v for k, v in doc["clips"].items() if k not in track_ids}
    doc["cluster_names"] = {k: v for k, v in doc["cluster_names"].items() if k not in cluster_ids}
    doc["preferences"] = {
        k: v
        for k, v in doc["preferences"].items()
        if v.get("track_a") not in track_ids and v.get("track_b") not in track_ids
    }
    return sum(len(doc[s]) for s in SECTIONS) != before


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


Fragments = dict[tuple[str, str], tuple[dict[str, Any], str]]


def encode(doc: dict[str, Any], fragments: Fragments | None = None) -> bytes:
    """The document as compact JSON with sorted keys (the same bytes as ``json.dumps``).

    ``fragments`` remembers each entry's text by the entry object it was made from, so a
    change to one clip of 10,000 encodes one entry again, not all of them."""
    fragments = {} if fragments is None else fragments
    parts = []
    for name in sorted(doc):
        value = doc[name]
        if name in SECTIONS:
            items = []
            for key in sorted(value):
                entry = value[key]
                known = fragments.get((name, key))
                if known is None or known[0] is not entry:
                    known = fragments[(name, key)] = (entry, f"{_json(key)}:{_json(entry)}")
                items.append(known[1])
            parts.append(f"{_json(name)}:{{{','.join(items)}}}")
        else:
            parts.append(f"{_json(name)}:{_json(value)}")
    return f"{{{','.join(parts)}}}".encode()


def write(root: Path, doc: dict[str, Any], fragments: Fragments | None = None) -> Path:
    path = curation_path(root, uuid.UUID(doc["session_id"]))
    write_atomic(path, encode(doc, fragments))
    return path
