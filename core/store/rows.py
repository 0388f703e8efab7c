"""Rows <-> models: how the store writes values into SQLite and reads them back."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import StorageError, ValidationError
from core.models import Batch, BriefParams, Session, Track

if TYPE_CHECKING:
    import numpy as np

MAX_NAME_CHARS = 120
_VECTOR_DTYPE = "<f4"  # little-endian float32; numpy is imported where vectors are read or written


# --------------------------------------------------------------------------- conversions


def _ts(value: datetime) -> str:
    """UTC ISO 8601 with microseconds: sorts as text in time order. Naive means UTC."""
    if not isinstance(value, datetime):
        raise ValidationError(f"Expected a date and time, not {value!r}.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _uuid_or_none(text: str | None) -> uuid.UUID | None:
    return None if text is None else uuid.UUID(text)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _seed_text(value: Any) -> str | None:
    # Seeds can exceed SQLite's 64-bit integers (numpy SeedSequence entropy), so text.
    if value is None:
        return None
    try:
        return str(int(value))
    except (TypeError, ValueError):
        raise ValidationError(f"A seed must be a whole number, not {value!r}.") from None


def _seed_value(text: str | None) -> int | None:
    return None if text is None else int(text)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, Path | uuid.UUID | datetime):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _params_json(params: BriefParams) -> str:
    if not isinstance(params, BriefParams):
        raise ValidationError(f"Expected BriefParams, not {type(params).__name__}.")
    return json.dumps(params.to_dict())


def _vector_blob(what: str, vector: Any) -> tuple[int, bytes]:
    import numpy as np

    try:
        array = np.asarray(vector, dtype=np.float32).ravel()
    except (TypeError, ValueError):
        raise ValidationError(f"The vector of {what} is not numeric.") from None
    if array.size == 0:
        raise ValidationError(f"The vector of {what} is empty.")
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"The vector of {what} contains NaN or infinity.")
    return int(array.size), array.astype(_VECTOR_DTYPE).tobytes()


def _vector(blob: bytes, dim: int) -> np.ndarray:
    import numpy as np

    array = np.frombuffer(blob, dtype=_VECTOR_DTYPE)
    if array.size != dim:
        raise StorageError(
            f"A stored vector has {array.size} values instead of {dim}: the database is damaged."
        )
    return array.astype(np.float32)


def _space_name(space: Any) -> str:
    if not isinstance(space, str) or not space.strip():
        raise ValidationError("An embedding space needs a name, such as 'features-v1'.")
    return space


def _clean_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ValidationError("A session name must be text.")
    text = name.strip()
    if len(text) > MAX_NAME_CHARS:
        raise ValidationError(f"The name is {len(text)} characters long; the limit is {MAX_NAME_CHARS}.")
    if any(ch < " " or ch == "\x7f" for ch in text):
        raise ValidationError("A session name must be one line of text, without control characters.")
    return text


def _same_path(a: Path, b: Path) -> bool:
    return Path(os.path.abspath(a)) == Path(os.path.abspath(b)) or os.path.realpath(a) == os.path.realpath(b)


class _Ids(dict[str, uuid.UUID]):
    """Text ids to UUIDs, each parsed once per read: a session names each batch and cluster many times."""

    def __missing__(self, key: str) -> uuid.UUID:
        value = self[key] = uuid.UUID(key)
        return value


def session_from_row(row: sqlite3.Row, batches: list[Batch] | None = None) -> Session:
    """A sessions row as a Session (with ``batches``, or none: the session's own fields)."""
    return Session(
        id=uuid.UUID(row["id"]),
        created_at=_dt(row["created_at"]),
        brief_text=row["brief_text"],
        params=BriefParams.from_dict(json.loads(row["params"])),
        batches=[] if batches is None else batches,
        name=row["name"],
        updated_at=_dt(row["updated_at"]),
    )


def track_from_row(row: sqlite3.Row, path: Path, ids: _Ids | None = None, *, recipes: bool = True) -> Track:
    """A tracks row as a Track whose file is ``path`` (the row holds it relative to the data dir).

    ``ids`` parses each id once per read; ``recipes=False`` leaves the recipe undecoded (None).
    """
    ids = _Ids() if ids is None else ids
    recipe = row["recipe"]
    return Track(
        id=ids[row["id"]],
        batch_id=ids[row["batch_id"]],
        cluster_id=ids[row["cluster_id"]],
        path=path,
        duration_sec=float(row["duration_sec"]),
        raw_prompt=row["raw_prompt"],
        created_at=_dt(row["created_at"]),
        seed=_seed_value(row["seed"]),
        similarity=row["similarity"],
        source=row["source"],
        recipe=None if recipe is None or not recipes else json.loads(recipe),
        position=int(row["position"]),
    )


def _canonical_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
