"""bench/embedder_ceiling.py's learned map, on made-up descriptors whose answer is known."""

from __future__ import annotations

import numpy as np

from bench.embedder_ceiling import learned_map, project
from bench.embedders import retrieval


def tracks_hidden_by_a_loud_direction(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Six tracks, five excerpts each: the tracks differ a little in descriptors 0-3;
    every excerpt also moves a lot, at random, along descriptors 4-7 (what one track's
    sections do), so plain cosine mostly finds excerpts of other tracks."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.0, (6, 8)) * np.r_[np.ones(4), np.zeros(4)]
    rows = [c + np.r_[rng.normal(0, 0.05, 4), rng.normal(0, 3.0, 4)] for c in centres for _ in range(5)]
    return np.array(rows), np.repeat(np.arange(6).astype(str), 5)


def test_whitening_by_the_within_track_spread_finds_the_tracks_plain_cosine_misses() -> None:
    plain, whitened = [], []
    for seed in range(10):
        z, labels = tracks_hidden_by_a_loud_direction(seed)
        everything = np.ones(len(z), bool)
        plain.append(retrieval(z / np.linalg.norm(z, axis=1, keepdims=True), labels)["p_at_1"])
        whitened.append(retrieval(project(z, everything, labels, shrink=0.001, dims=None), labels)["p_at_1"])
    assert np.mean(plain) < 0.5 < 0.9 < np.mean(whitened)


def test_lda_keeps_the_asked_number_of_directions_and_a_full_shrink_only_scales() -> None:
    z, labels = tracks_hidden_by_a_loud_direction()
    assert learned_map(z, labels, shrink=0.3, dims=3).shape == (8, 3)
    full = learned_map(z, labels, shrink=1.0, dims=None)
    gram = full @ full.T
    assert np.allclose(gram, gram[0, 0] * np.eye(8))
