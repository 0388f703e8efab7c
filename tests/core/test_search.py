"""Search: words over labels (generated and given), briefs, notes and tags; sound only where honest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core import clustering, curation
from core.errors import ValidationError
from core.models import BriefParams
from core.providers.features import FeatureEmbedder
from core.search import honest_text_side, search
from core.service import SessionService
from core.settings import Settings
from core.store import SessionStore
from tests.core.fakes import FakeEmbedder, FakeMusic, FakeNamer

PARAMS = BriefParams(duration_sec=0.2)
VECTORS = {200: [1.0, 0.0, 0.0], 400: [0.0, 1.0, 0.0], 800: [0.0, 0.0, 1.0]}


class TextAudioEmbedder(FakeEmbedder):
    """An embedder whose text and audio share a space (as CLAP's do): "high" and "bells" mean pitch 800."""

    name = "clap"

    def embed_text(self, text: str) -> np.ndarray:
        return np.asarray(
            [0.0, 0.2, 1.0] if "high" in text or "bells" in text else [0.0, 0.0, 0.0], dtype=np.float32
        )


@pytest.fixture
def made(data_dir: Path):
    store = SessionStore(data_dir)
    service = SessionService(
        store,
        FakeMusic(),
        FakeEmbedder(VECTORS),
        FakeNamer(("Warm Keys", "Tape Hiss", "Bell Tones")),
        settings=Settings(data_dir=data_dir),
        clusterer=clustering.cluster_embeddings,
    )
    session = service.create_initial_batch("dusty rhodes loop", PARAMS, 6, seed=1)
    service.add_brief_batch(session.id, "glassy bells at night", PARAMS, 3, seed=2)
    yield store, store.require_session(session.id)
    store.close()


def ids(result) -> list:  # type: ignore[no-untyped-def]
    return result.track_ids


def test_words_find_clips_by_brief_label_note_and_tag(made) -> None:  # type: ignore[no-untyped-def]
    store, session = made
    first, second = session.batches
    assert ids(search(store, session, "RHODES")) == [t.id for t in first.tracks]
    assert ids(search(store, session, "bells night")) == [t.id for t in second.tracks]
    assert search(store, session, "bells rhodes").hits == []  # every word must be found

    cluster = first.clusters[0]
    members = [t.id for t in first.tracks if t.id in set(cluster.track_ids)]
    label_hits = search(store, session, cluster.label.split()[0].lower())
    assert set(members) <= set(ids(label_hits))
    assert all("cluster" in h.matched for h in label_hits.hits if h.track_id in members)

    curation.rename_cluster(store, session.id, cluster.id, "Lazy Sunday")
    named = search(store, session, "sunday")
    assert ids(named) == members and {h.matched for h in named.hits} == {("cluster",)}

    one, other = first.tracks[0].id, second.tracks[1].id
    curation.set_note(store, one, "keep the swing of this one")
    curation.set_tags(store, other, ["808", "intro"])
    assert [(h.track_id, h.matched) for h in search(store, session, "swing").hits] == [(one, ("note",))]
    assert [(h.track_id, h.matched) for h in search(store, session, "808").hits] == [(other, ("tags",))]
    assert all(h.score is None for h in search(store, session, "swing").hits)


def test_an_empty_or_huge_query_is_one_sentence(made) -> None:  # type: ignore[no-untyped-def]
    store, session = made
    with pytest.raises(ValidationError, match="empty"):
        search(store, session, "   ")
    with pytest.raises(ValidationError, match="limit"):
        search(store, session, "x" * 500)


def test_an_embedder_with_a_text_side_ranks_clips_by_sound(made) -> None:  # type: ignore[no-untyped-def]
    store, session = made
    result = search(store, session, "high", TextAudioEmbedder(VECTORS), sounds_like=3)
    assert result.ranked_by == "clap"
    # No clip's words say "high": every hit is by sound, the pitch-800 clips first.
    assert all(h.matched == () for h in result.hits) and len(result.hits) == 3
    by_track = {t.id: t for t in session.tracks}
    stored = store.get_embeddings(list(by_track), "fake-v1")
    best = [h.track_id for h in result.hits]
    assert all(
        np.argmax(stored[t]) == 2 for t in best[: sum(1 for v in stored.values() if np.argmax(v) == 2)]
    )
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    # Words still come first, ranked by sound among themselves.
    worded = search(store, session, "bells", TextAudioEmbedder(VECTORS), sounds_like=0)
    assert set(ids(worded)) == {t.id for t in session.batches[1].tracks}
    assert all(h.matched == ("brief",) for h in worded.hits)
    assert [h.score for h in worded.hits] == sorted((h.score for h in worded.hits), reverse=True)
    with_more = search(store, session, "bells", TextAudioEmbedder(VECTORS), sounds_like=2)
    assert ids(with_more)[:3] == ids(worded) and len(with_more.hits) == 5


def test_sound_never_ranks_where_it_would_be_a_pretence(made) -> None:  # type: ignore[no-untyped-def]
    store, session = made
    plain = search(store, session, "rhodes", FakeEmbedder(VECTORS))
    assert plain.ranked_by is None and "has no text side" in plain.notes[0]
    elsewhere = search(store, session, "high", TextAudioEmbedder(VECTORS, space="clap:other"))
    assert elsewhere.ranked_by is None and "embedded in fake-v1" in elsewhere.notes[0]
    # The features embedder: words that name what it measures rank, genre and instrument words do not.
    features = FeatureEmbedder(version="v1")
    assert honest_text_side(features, "dark") == "features: dark"
    assert honest_text_side(features, "fast dark techno") == "features: dark, fast"
    assert honest_text_side(features, "warm rhodes") == "features: warm"
    assert honest_text_side(features, "rhodes") is None
    assert honest_text_side(features, "techno") is None
    assert honest_text_side(FakeEmbedder(VECTORS), "dark") is None
    # ... and only in v1: the default space (v3) and v2 have no text side at all
    assert honest_text_side(FeatureEmbedder(), "dark") is None
    assert honest_text_side(FeatureEmbedder(version="v2"), "fast dark") is None
