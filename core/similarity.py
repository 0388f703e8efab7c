"""Cosine similarity and the more-like filter (seed 000)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine in [-1, 1]; 0.0 if either vector has zero norm."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"Cannot compare vectors of shapes {a.shape} and {b.shape}.")
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0 or not np.isfinite(norm):
        return 0.0
    return float(np.clip(np.dot(a, b) / norm, -1.0, 1.0))


def similarities(embeddings: Sequence[np.ndarray], centroid: np.ndarray) -> list[float]:
    return [cosine_similarity(e, centroid) for e in embeddings]


def filter_by_similarity(
    embeddings: Sequence[np.ndarray],
    centroid: np.ndarray,
    min_similarity: float,
    max_results: int,
) -> list[int]:
    """Indices whose cosine to ``centroid`` is >= ``min_similarity``, best first.

    At most ``max_results`` are returned. When none pass, the top ``max_results``
    by similarity are returned instead (the seed's top-N fallback). Ties keep the
    original order.
    """
    if max_results <= 0 or not embeddings:
        return []
    scores = similarities(embeddings, centroid)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    passing = [i for i in order if scores[i] >= min_similarity]
    chosen = passing if passing else order
    return chosen[:max_results]
