"""Curation: what a musician decides about the clips, as plain functions over the store.

Each function is one transaction (core.store.curation) and checks its input first,
refusing bad input with one clear sentence (ValidationError) and writing nothing.
Clips, batches and clusters are given by id (uuid.UUID). The marks live in their
own tables; a clip's row and its audio stay as they were generated. Discarding a
clip only hides it (listings that show curation leave it out unless asked);
``delete_track`` and ``delete_batch`` are the explicit, asked-for deletes that
remove audio: rows first, then files (see core.store.curation for what a delete
leaves empty and removes with it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.curation_models import PREFERENCE_CHOICES, Curation, Deletion, Preference
from core.errors import ValidationError
from core.models import ClusterSummary
from core.validation import validate_note, validate_rating, validate_tags

if TYPE_CHECKING:
    from core.store import SessionStore


def _id(value: Any, noun: str) -> uuid.UUID:
    if not isinstance(value, uuid.UUID):
        raise ValidationError(f"A {noun} id must be an id (uuid), not {value!r}.")
    return value


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be true or false, not {value!r}.")
    return value


def keep(store: SessionStore, track_id: uuid.UUID, kept: bool = True) -> Curation:
    """Star a clip (``kept=False`` takes the star back)."""
    kept = _flag(kept, "Kept")
    return store.update_curation(_id(track_id, "clip"), lambda c: replace(c, kept=kept))


def rate(store: SessionStore, track_id: uuid.UUID, rating: int | None) -> Curation:
    """Rate a clip 1..5; None clears the rating."""
    rating = validate_rating(rating)
    return store.update_curation(_id(track_id, "clip"), lambda c: replace(c, rating=rating))


def discard(store: SessionStore, track_id: uuid.UUID, discarded: bool = True) -> Curation:
    """Hide a clip from listings (never deletes it); ``discarded=False`` brings it back."""
    discarded = _flag(discarded, "Discarded")
    return store.update_curation(_id(track_id, "clip"), lambda c: replace(c, discarded=discarded))


def set_note(store: SessionStore, track_id: uuid.UUID, text: str) -> Curation:
    """Replace a clip's note (empty text removes it)."""
    note = validate_note(text)
    return store.update_curation(_id(track_id, "clip"), lambda c: replace(c, note=note))


def set_tags(store: SessionStore, track_id: uuid.UUID, tags: Iterable[str]) -> Curation:
    """Replace a clip's tags (lower-cased, unique, sorted)."""
    clean = validate_tags(tags)
    return store.update_curation(_id(track_id, "clip"), lambda c: replace(c, tags=clean))


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags as a musician types them: separated by commas (a tag may then hold spaces,
    "dusty drums, warm"), else by spaces ("dusty warm"); checked like ``set_tags``."""
    if not isinstance(text, str):
        raise ValidationError(f"Tags must be typed as text, not {type(text).__name__}.")
    parts = text.split(",") if "," in text else text.split()
    return validate_tags(p for p in parts if p.strip())


def annotate(store: SessionStore, track_id: uuid.UUID, tags: Iterable[str], note: str) -> Curation:
    """Replace a clip's tags and note together (one transaction; both checked first)."""
    clean, text = validate_tags(tags), validate_note(note)
    return store.update_curation(_id(track_id, "clip"), lambda c: replace(c, tags=clean, note=text))


def add_tag(store: SessionStore, track_id: uuid.UUID, tag: str) -> Curation:
    return add_tags(store, track_id, [tag])


def remove_tag(store: SessionStore, track_id: uuid.UUID, tag: str) -> Curation:
    """Take a tag off a clip (a tag it does not have is a no-op)."""
    return remove_tags(store, track_id, [tag])


def add_tags(store: SessionStore, track_id: uuid.UUID, tags: Iterable[str]) -> Curation:
    """Add tags to those a clip has (in the same transaction that reads them)."""
    clean = validate_tags(tags)
    return store.update_curation(_id(track_id, "clip"), lambda c: replace(c, tags=(*c.tags, *clean)))


def remove_tags(store: SessionStore, track_id: uuid.UUID, tags: Iterable[str]) -> Curation:
    clean = set(validate_tags(tags))
    return store.update_curation(
        _id(track_id, "clip"), lambda c: replace(c, tags=tuple(t for t in c.tags if t not in clean))
    )


def rename_cluster(store: SessionStore, session_id: uuid.UUID, cluster_id: uuid.UUID, name: str) -> None:
    """Give a cluster the musician's name; an empty name goes back to the generated label."""
    store.set_cluster_name(_id(session_id, "session"), _id(cluster_id, "cluster"), name)


def prefer(store: SessionStore, track_a: uuid.UUID, track_b: uuid.UUID, choice: str) -> Preference:
    """Record which of two clips of one session is better: "a", "b" or "same"."""
    if choice not in PREFERENCE_CHOICES:
        raise ValidationError(f"The choice must be 'a', 'b' or 'same', not {choice!r}.")
    return store.add_preference(_id(track_a, "clip"), _id(track_b, "clip"), choice)


def delete_track(store: SessionStore, track_id: uuid.UUID) -> Deletion:
    """Delete a clip and its audio file (asked for by the musician; see the module docstring)."""
    return store.delete_track(_id(track_id, "clip"))


def delete_batch(store: SessionStore, batch_id: uuid.UUID) -> Deletion:
    """Delete a batch, its clips and their audio files (and the session, if it was its last batch)."""
    return store.delete_batch(_id(batch_id, "batch"))


def effective_label(cluster: ClusterSummary, names: dict[uuid.UUID, str]) -> str:
    """What to call a cluster: the musician's name if there is one, else the generated label."""
    return names.get(cluster.id) or cluster.label
