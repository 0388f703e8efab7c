"""Search a session's clips by text, and (where the embedder has an honest text side) by sound.

Text: every word of the query must occur in what is written about a clip: its
cluster's label (the musician's name and the generated one), the brief of its
batch, its note and its tags. Case is ignored; a word matches inside a longer one
("rhod" finds "rhodes").

Sound: an embedder whose text and audio share one space ranks clips by the
cosine of the query's text vector to each clip's stored audio vector, in the
session's own space only:

- ``clap`` was trained on text-audio pairs: its text side is honest for any words.
- ``features`` maps a fixed list of words to offsets of its measured descriptors
  and ignores every other word. Some of those words *name* what is measured:
  brightness ("dark", "bright"), tempo ("fast", "slow"), mode ("minor", "happy"),
  roughness ("distorted", "noisy"), busyness ("sparse", "busy"), level ("loud",
  "quiet"), steadiness ("ambient", "floating"). Those rank, and the result says
  which words it used. The others are genre and instrument words ("techno",
  "rhodes", "guitar", "cinematic") that it maps to a stereotype of how that genre
  measures ("rhodes" = dark and slow): ranking by them would rank any dark slow
  clip as a Rhodes, so they never rank (they still find clips by text).
- any other embedder (or one whose text side maps the query to nothing) does not rank.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.curation_models import Curation
from core.errors import SessionLabError, ValidationError
from core.maps import session_space
from core.models import Session

if TYPE_CHECKING:
    from core.providers.base import EmbeddingProvider
    from core.settings import Settings
    from core.store import SessionStore

MAX_QUERY_CHARS = 200

# The features embedder's cue words that name a descriptor it measures (see above).
_DESCRIPTOR_TEXT = """
    dark murky muffled gloomy bright crisp shiny sparkling airy glassy shimmering
    warm mellow soft gentle
    sad melancholic melancholy minor moody sombre somber happy sunny cheerful joyful major
    fast upbeat energetic rapid slow lazy relaxed calm sleepy
    aggressive distorted heavy gritty dirty harsh noisy raw pounding
    ambient drone atmospheric floating
    sparse minimal empty quiet bare busy dense complex layered full loud
"""
DESCRIPTOR_WORDS = frozenset(_DESCRIPTOR_TEXT.split())
SOUNDS_LIKE_DEFAULT = 10  # clips added by sound alone, beyond the text matches


@dataclass(frozen=True)
class SearchHit:
    track_id: uuid.UUID
    matched: tuple[
        str, ...
    ]  # where the words were found: "cluster", "brief", "note", "tags"; () = by sound only
    score: float | None = None  # cosine of the query's text vector to the clip's audio vector


@dataclass
class SearchResult:
    query: str
    hits: list[SearchHit]
    ranked_by: str | None = None  # e.g. "clap", "features: dark, fast"; None when not ranked by sound
    notes: list[str] = field(default_factory=list)  # why sound did not rank, in one sentence each

    @property
    def track_ids(self) -> list[uuid.UUID]:
        return [h.track_id for h in self.hits]


def validate_query(query: object) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("The search is empty: type a word to look for.")
    text = " ".join(query.split())
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationError(f"The search is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}.")
    return text


def terms_of(query: str) -> list[str]:
    return [t for t in re.split(r"[^\w#+-]+", query.lower()) if t]


def clip_texts(
    session: Session, curations: dict[uuid.UUID, Curation], names: dict[uuid.UUID, str]
) -> dict[uuid.UUID, dict[str, str]]:
    """What is written about each clip, by field, lower-cased."""
    texts: dict[uuid.UUID, dict[str, str]] = {}
    for batch in session.batches:
        brief = batch.prompt_text.split(" | energy=")[0].strip() or session.brief_text
        labels = {c.id: f"{names.get(c.id, '')} {c.label}".strip() for c in batch.clusters}
        for track in batch.tracks:
            marks = curations.get(track.id, Curation())
            texts[track.id] = {
                "cluster": labels.get(track.cluster_id, "").lower(),
                "brief": brief.lower(),
                "note": marks.note.lower(),
                "tags": " ".join(marks.tags).lower(),
            }
    return texts


def search(
    store: SessionStore,
    session: Session,
    query: str,
    embedder: EmbeddingProvider | None = None,
    *,
    sounds_like: int = SOUNDS_LIKE_DEFAULT,
) -> SearchResult:
    """The session's clips that match ``query``: text matches first, then (ranked by sound,
    when ``embedder`` can) up to ``sounds_like`` more clips that sound most like the words."""
    query = validate_query(query)
    terms = terms_of(query)
    texts = clip_texts(session, store.get_curations(session.id), store.get_cluster_names(session.id))
    matches: dict[uuid.UUID, tuple[str, ...]] = {}
    for track in session.tracks:
        fields = texts[track.id]
        if terms and all(any(term in value for value in fields.values()) for term in terms):
            matches[track.id] = tuple(
                name for name, value in fields.items() if any(t in value for t in terms)
            )
    result = SearchResult(query, [])
    scores = _sound_scores(store, session, query, embedder, result) if embedder is not None else {}
    order = [t.id for t in session.tracks]
    if scores:
        by_score = sorted(order, key=lambda tid: -scores.get(tid, -np.inf))
        text_first = [tid for tid in by_score if tid in matches]
        by_sound = [tid for tid in by_score if tid not in matches and tid in scores][: max(0, sounds_like)]
        result.hits = [SearchHit(tid, matches.get(tid, ()), scores.get(tid)) for tid in text_first + by_sound]
    else:
        result.hits = [SearchHit(tid, matches[tid]) for tid in order if tid in matches]
    return result


def _sound_scores(
    store: SessionStore, session: Session, query: str, embedder: EmbeddingProvider, result: SearchResult
) -> dict[uuid.UUID, float]:
    space = session_space(session)
    if space is None:
        return {}
    if embedder.space != space:
        result.notes.append(
            f"Not ranked by sound: the clips are embedded in {space}, not in the {embedder.name} embedder's space."
        )
        return {}
    honest = honest_text_side(embedder, query)
    if honest is None:
        words = embedder.name == "features" and getattr(embedder, "text_side", True)
        why = "measures nothing these words name" if words else "has no text side"
        result.notes.append(f"Not ranked by sound: the {embedder.name} embedder {why}.")
        return {}
    vector = np.asarray(embedder.embed_text(query), dtype=np.float64).ravel()
    norm = float(np.linalg.norm(vector))
    if norm == 0.0 or not np.isfinite(norm):
        result.notes.append(f"Not ranked by sound: the {embedder.name} embedder maps these words to nothing.")
        return {}
    vector /= norm
    stored = store.get_embeddings([t.id for t in session.tracks], space)
    scores: dict[uuid.UUID, float] = {}
    for track_id, audio in stored.items():
        audio = np.asarray(audio, dtype=np.float64)
        if audio.shape != vector.shape:
            continue
        length = float(np.linalg.norm(audio))
        scores[track_id] = float(audio @ vector / length) if length > 0 else 0.0
    result.ranked_by = honest
    return scores


def honest_text_side(embedder: EmbeddingProvider, query: str) -> str | None:
    """What a ranking by ``embedder``'s text side would rest on, or None when it would be a pretence."""
    if embedder.name == "clap":
        return "clap"
    if embedder.name == "features":
        if not getattr(embedder, "text_side", True):
            return None  # a space with no text side (features-v2, -v3): its text vectors are zero
        from core.providers import features

        cues = getattr(features, "TEXT_CUES", None)
        if not cues:
            return None
        from core.providers.sketch import words_of

        known = sorted(w for w in words_of(query) if w in cues and w in DESCRIPTOR_WORDS)
        return f"features: {', '.join(known)}" if known else None
    return None


def embedder_for(
    settings: Settings, space: str | None, name: str | None, model: str | None
) -> tuple[EmbeddingProvider | None, str | None]:
    """The embedder to rank a session's clips with: the one of its ``space`` (a CLAP space
    names its model) unless one is named; or None and why not, in one sentence."""
    from core.providers import registry

    if name is None and space is not None and space.startswith("clap:"):
        name, model = "clap", model or space.removeprefix("clap:")
    elif name is None and space is not None and space.startswith("features-"):
        name, model = "features", model or space  # a session kept in an older features space

    try:
        return registry.create_embedder(settings, name, model), None
    except SessionLabError as exc:
        return None, f"Not ranked by sound: {exc}"
