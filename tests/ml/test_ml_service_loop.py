"""The whole loop on real providers: MusicGen + CLAP (tiny random models) + the openai namer on loopback.

brief -> MusicGen batch -> CLAP vectors -> k-means -> LLM names -> SQLite + WAVs,
then more-like on a cluster (continuation from its clips), as the app runs it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.errors import CancelledError
from core.models import BATCH_MORE, BriefParams
from core.providers import registry
from core.providers.base import STAGE_GENERATING, STAGE_LOADING
from core.settings import Settings
from tests.ml.conftest import HAVE_OPENAI, needs_torch
from tests.ml.loopback import Reply, Request
from tests.ml.tiny_models import CLAP_DIM, MUSICGEN_RATE

pytestmark = [
    pytest.mark.ml,
    needs_torch,
    pytest.mark.skipif(not HAVE_OPENAI, reason="needs the openai client"),
]

PARAMS = BriefParams(energy=0.6, density=0.4, duration_sec=1.2)


def namer_reply(request: Request) -> Reply:
    names = ["Dusty Keys", "Neon Pulse", "Soft Tape"]
    body = request.body
    index = len([m for m in body["messages"] if m["role"] == "user"][0]["content"]) % len(names)
    return Reply.json(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": names[index]},
                    "finish_reason": "stop",
                }
            ],
        }
    )


@pytest.fixture
def service(tmp_path: Path, tiny_musicgen: Path, tiny_clap: Path, loopback: Any) -> Any:
    from core.service import SessionService
    from core.store import SessionStore

    server = loopback(namer_reply)
    settings = Settings(
        data_dir=tmp_path / "data",
        musicgen_max_batch=3,
        openai_base_url=f"{server.url}/v1",
        openai_model="loop-model",
        min_similarity=-1.0,  # random models: keep every candidate, the loop is what is tested
    )
    store = SessionStore(settings.data_dir)
    music = registry.create_music(settings, "musicgen", str(tiny_musicgen))
    embedder = registry.create_embedder(settings, "clap", str(tiny_clap))
    namer = registry.create_namer(settings, "openai")
    yield SessionService(store, music, embedder, namer, settings=settings)
    store.close()


def test_brief_to_named_clusters_and_more_like(service: Any) -> None:
    stages: list[tuple[str, int, int]] = []
    session = service.create_initial_batch(
        "lofi warm beat with soft drums", PARAMS, 4, seed=21, progress=lambda *a: stages.append(a)
    )
    (batch,) = session.batches
    assert batch.num_generated == 4 and len(batch.tracks) == 4
    assert {s for s, _, _ in stages} >= {STAGE_LOADING, STAGE_GENERATING}
    for track in batch.tracks:
        data, rate = sf.read(str(track.path))
        assert rate == MUSICGEN_RATE and data.shape == (round(1.2 * MUSICGEN_RATE),)
        assert track.recipe["engine"] == "musicgen"
    labels = [c.label for c in batch.clusters]
    named = {label.rsplit(" ", 1)[0] if label[-1].isdigit() else label for label in labels}
    assert labels and named <= {"Dusty Keys", "Neon Pulse", "Soft Tape"}  # the LLM named them all
    assert len(set(labels)) == len(labels)
    assert service.namer.last_fallback_reason is None
    space = service.embedder.space
    vectors = service.store.get_embeddings([t.id for t in batch.tracks], space)
    assert len(vectors) == 4
    assert all(v.shape == (CLAP_DIM,) and abs(float(np.linalg.norm(v)) - 1) < 1e-5 for v in vectors.values())

    parent = batch.clusters[0]
    more = service.more_like_cluster(session.id, parent.id, 2, seed=5)
    assert more.kind == BATCH_MORE
    assert more.num_generated == 2
    (child,) = more.clusters
    assert child.label == parent.label and child.parent_cluster_id == parent.id
    parent_paths = {str(t.path) for t in batch.tracks if t.id in set(parent.track_ids)}
    for track in more.tracks:
        assert sf.info(str(track.path)).frames == round(1.2 * MUSICGEN_RATE)
        # Continued from the parent cluster's own clips (paths of the stored tracks).
        assert track.recipe["reference"] in parent_paths
        assert track.recipe["prompt_sec"] > 0
    stored = service.store.require_session(session.id)
    assert [b.id for b in stored.batches] == [batch.id, more.id]


def test_cancel_stores_nothing(service: Any) -> None:
    cancel = threading.Event()

    def progress(stage: str, done: int, total: int) -> None:
        if stage == STAGE_GENERATING and done == 3:
            cancel.set()

    with pytest.raises(CancelledError):
        service.create_initial_batch("dark ambient pad", PARAMS, 3, seed=1, progress=progress, cancel=cancel)
    assert service.store.list_sessions() == []
    assert list(service.settings.data_dir.rglob("*.wav")) == []
