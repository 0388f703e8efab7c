import numpy as np
import pytest

from core.clustering import NEAR_IDENTICAL, centroid_of, cluster_embeddings


def blobs(
    per_blob: int, n_blobs: int, dim: int = 16, spread: float = 0.05, seed: int = 0
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:n_blobs] * 3.0
    return [centres[b] + rng.normal(scale=spread, size=dim) for b in range(n_blobs) for _ in range(per_blob)]


def as_sets(clusters: list[list[int]]) -> set[frozenset[int]]:
    return {frozenset(c) for c in clusters}


def test_happy_path_finds_the_three_groups():
    clusters = cluster_embeddings(blobs(2, 3))
    assert as_sets(clusters) == {frozenset({0, 1}), frozenset({2, 3}), frozenset({4, 5})}


def test_every_index_appears_exactly_once_and_in_order():
    clusters = cluster_embeddings(blobs(3, 3, seed=4), max_k=3)
    flat = [i for c in clusters for i in c]
    assert sorted(flat) == list(range(9))
    assert all(c == sorted(c) for c in clusters)
    assert [c[0] for c in clusters] == sorted(c[0] for c in clusters)


def test_k_is_capped_by_max_k():
    clusters = cluster_embeddings(blobs(2, 5), max_k=2)
    assert len(clusters) <= 2
    assert sorted(i for c in clusters for i in c) == list(range(10))


def test_k_never_exceeds_n():
    assert cluster_embeddings(blobs(1, 1)) == [[0]]
    assert len(cluster_embeddings(blobs(2, 1))) == 1


def test_singleton_is_merged_into_nearest_cluster():
    points = blobs(3, 2, spread=0.01)
    outlier = points[0] * 0.2 + np.eye(16)[5] * 1.0  # alone, but nearer the first blob
    clusters = cluster_embeddings([*points, outlier], max_k=3)
    assert all(len(c) > 1 for c in clusters)
    assert len(clusters) == 2
    first = next(c for c in clusters if 0 in c)
    assert 6 in first


def test_all_singletons_collapse_into_one_cluster():
    rng = np.random.default_rng(1)
    points = [rng.normal(size=8) for _ in range(3)]
    clusters = cluster_embeddings(points, max_k=3)
    assert clusters == [[0, 1, 2]]


def test_near_identical_clips_stay_together_instead_of_splitting_for_k():
    base = np.linspace(1, 2, 12)
    points = [base, base * 1.0001, base + 1e-6]
    assert cluster_embeddings(points, max_k=3) == [[0, 1, 2]]
    # Two distinct ideas, each duplicated: two clusters, not three.
    other = np.linspace(2, -1, 12)
    clusters = cluster_embeddings([base, other, base * 2, other * 3], max_k=3)
    assert as_sets(clusters) == {frozenset({0, 2}), frozenset({1, 3})}
    assert NEAR_IDENTICAL > 0.99


def test_deterministic():
    points = blobs(3, 3, spread=0.6, seed=9)
    assert cluster_embeddings(points) == cluster_embeddings(points)


def test_empty_and_bad_k():
    assert cluster_embeddings([]) == []
    with pytest.raises(ValueError):
        cluster_embeddings(blobs(2, 2), max_k=0)


def test_centroid_is_unit_length_mean_direction():
    c = centroid_of([np.array([2.0, 0.0]), np.array([0.0, 5.0])])
    assert c.dtype == np.float32
    assert np.isclose(np.linalg.norm(c), 1.0)
    assert np.allclose(c, [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
