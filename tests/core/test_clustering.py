"""core.clustering: the properties that matter, not k-means' accidents.

A batch's grouping must obey the rules (every clip once, k <= max_k and <= n, no
cluster of one, near-identical clips together, deterministic), and clearly
separated groups must come back as they are, whatever the order, scale or last bits
of the input. Where groupings are a close call (as for real clips of one brief),
which one k-means picks depends on the floating-point path of the machine and
library versions, so no test asserts it.
"""

import itertools

import numpy as np
import pytest

from core.clustering import NEAR_IDENTICAL, centroid_of, cluster_embeddings, normalise_rows


def blobs(
    per_blob: int, n_blobs: int, dim: int = 16, spread: float = 0.05, seed: int = 0
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:n_blobs] * 3.0
    return [centres[b] + rng.normal(scale=spread, size=dim) for b in range(n_blobs) for _ in range(per_blob)]


def truth(per_blob: int, n_blobs: int) -> set[frozenset[int]]:
    return {frozenset(range(b * per_blob, (b + 1) * per_blob)) for b in range(n_blobs)}


def as_sets(clusters: list[list[int]]) -> set[frozenset[int]]:
    return {frozenset(c) for c in clusters}


def assert_rules(points: list[np.ndarray], clusters: list[list[int]], max_k: int) -> None:
    """What any grouping of a batch must be, whichever grouping k-means lands on."""
    n = len(points)
    assert sorted(i for c in clusters for i in c) == list(range(n)), "every clip exactly once"
    assert all(c == sorted(c) for c in clusters), "members in input order"
    assert [c[0] for c in clusters] == sorted(c[0] for c in clusters), "clusters ordered by first member"
    assert 1 <= len(clusters) <= min(max_k, n)
    if n > 1:
        assert all(len(c) > 1 for c in clusters), "no cluster of one"
    unit = normalise_rows(points)
    where = {i: k for k, c in enumerate(clusters) for i in c}
    for i, j in itertools.combinations(range(n), 2):
        if float(unit[i] @ unit[j]) >= NEAR_IDENTICAL:
            assert where[i] == where[j], f"near-identical clips {i} and {j} were split"


def random_batch(seed: int) -> tuple[list[np.ndarray], int]:
    """Points with no clear structure (close calls), sometimes with duplicates."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    dim = int(rng.integers(2, 24))
    points = [rng.normal(size=dim) for _ in range(n)]
    if seed % 3 == 0:  # a near-identical copy of one clip, scaled
        points[-1] = points[0] * 1.5 + rng.normal(scale=1e-6, size=dim)
    return points, int(rng.integers(1, 5))


@pytest.mark.parametrize("seed", range(40))
def test_any_batch_obeys_the_rules_and_is_deterministic(seed: int) -> None:
    points, max_k = random_batch(seed)
    clusters = cluster_embeddings(points, max_k=max_k)
    assert_rules(points, clusters, max_k)
    again = cluster_embeddings([p.copy() for p in points], max_k=max_k)
    assert again == clusters


@pytest.mark.parametrize(
    ("per_blob", "n_blobs", "seed"), [(2, 3, 0), (3, 3, 4), (2, 2, 1), (4, 3, 7), (3, 2, 2)]
)
def test_well_separated_groups_come_back_as_they_are(per_blob: int, n_blobs: int, seed: int) -> None:
    points = blobs(per_blob, n_blobs, seed=seed)
    clusters = cluster_embeddings(points, max_k=3)
    assert_rules(points, clusters, 3)
    assert as_sets(clusters) == truth(per_blob, n_blobs)


@pytest.mark.parametrize("seed", range(5))
def test_separated_groups_do_not_depend_on_order_scale_or_last_bits(seed: int) -> None:
    """What changes between machines and library versions (the floating-point path,
    the order of work) must not change a clear grouping."""
    rng = np.random.default_rng(100 + seed)
    points = blobs(2, 3, seed=seed, spread=0.2)
    expected = truth(2, 3)
    order = rng.permutation(len(points))
    shuffled = cluster_embeddings([points[i] for i in order], max_k=3)
    assert {frozenset(int(order[i]) for i in c) for c in shuffled} == expected
    scaled = cluster_embeddings(
        [p * s for p, s in zip(points, rng.uniform(0.1, 10, len(points)), strict=True)]
    )
    assert as_sets(scaled) == expected
    nudged = cluster_embeddings([p + rng.normal(scale=1e-5, size=p.shape) for p in points])
    assert as_sets(nudged) == expected
    as_float32 = cluster_embeddings([p.astype(np.float32) for p in points])
    assert as_sets(as_float32) == expected


def test_k_is_capped_by_max_k():
    points = blobs(2, 5)
    for max_k in (1, 2, 3):
        clusters = cluster_embeddings(points, max_k=max_k)
        assert_rules(points, clusters, max_k)
    # Two of five clear groups asked for: no group is split between clusters.
    clusters = cluster_embeddings(points, max_k=2)
    assert all(any(group <= set(c) for c in clusters) for group in truth(2, 5))


def test_k_never_exceeds_n():
    assert cluster_embeddings(blobs(1, 1)) == [[0]]
    assert len(cluster_embeddings(blobs(2, 1))) == 1


def test_singleton_is_merged_into_nearest_cluster():
    points = blobs(3, 2, spread=0.01)
    outlier = points[0] * 0.2 + np.eye(16)[5] * 1.0  # alone, but nearer the first blob
    clusters = cluster_embeddings([*points, outlier], max_k=3)
    assert_rules([*points, outlier], clusters, 3)
    assert as_sets(clusters) == {frozenset({0, 1, 2, 6}), frozenset({3, 4, 5})}


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


def test_empty_and_bad_k():
    assert cluster_embeddings([]) == []
    with pytest.raises(ValueError):
        cluster_embeddings(blobs(2, 2), max_k=0)


def test_centroid_is_unit_length_mean_direction():
    c = centroid_of([np.array([2.0, 0.0]), np.array([0.0, 5.0])])
    assert c.dtype == np.float32
    assert np.isclose(np.linalg.norm(c), 1.0)
    assert np.allclose(c, [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
