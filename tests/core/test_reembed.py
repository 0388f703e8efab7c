"""``sessionlab reembed``: a session made in one space gains vectors in another, on request."""

from __future__ import annotations

import io
import json
import uuid

import numpy as np

from core.cli import main
from core.store import SessionStore


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_v1_session_is_re_embedded_in_v2_and_keeps_its_v1_vectors(data_dir) -> None:
    code, out, err = run(
        "generate", "--brief", "fast aggressive techno", "--clips", "4", "--duration", "2", "--seed", "5",
        "--embedder-model", "v1", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    session_id = uuid.UUID(doc["id"])
    track_ids = [uuid.UUID(t["id"]) for t in doc["tracks"]]
    clusters = [uuid.UUID(c["id"]) for b in doc["batches"] for c in b["clusters"]]
    store = SessionStore(data_dir)
    try:
        v1_before = store.get_embeddings(track_ids, "features-v1")
    finally:
        store.close()
    assert set(v1_before) == set(track_ids)

    code, out, err = run("reembed", doc["id"][:8], "--embedder-model", "v2", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "space": "features-v2", "embedded": 4, "already": 0, "centroids": len(clusters), "unreadable": [],
    }  # fmt: skip
    code, out, err = run("reembed", doc["id"], "--embedder-model", "v2")
    assert code == 0, err
    assert out.startswith("0 clips embedded in features-v2 (4 already were)")

    store = SessionStore(data_dir)
    try:
        v2_vectors = store.get_embeddings(track_ids, "features-v2")
        assert set(v2_vectors) == set(track_ids)
        assert all(v.shape != v1_before[t].shape for t, v in v2_vectors.items())
        v1_after = store.get_embeddings(track_ids, "features-v1")
        assert all(np.array_equal(v1_before[t], v1_after[t]) for t in track_ids)
        for cluster_id in clusters:
            assert store.get_centroid(session_id, cluster_id, "features-v2") is not None
            assert store.get_centroid(session_id, cluster_id, "features-v1") is not None
    finally:
        store.close()


def test_an_unknown_session_or_version_is_one_sentence_and_writes_nothing(data_dir) -> None:
    code, _, err = run("reembed", "nothing-here")
    assert code == 2 and err.count("\n") == 1
    assert not data_dir.exists()
    code, out, err = run("generate", "--brief", "calm piano", "--clips", "2", "--duration", "1", "--json")
    assert code == 0, err
    code, _, err = run("reembed", json.loads(out)["id"], "--embedder-model", "v9")
    assert code == 2 and "versions v1, v2" in err and err.count("\n") == 1
