"""core.clustering's choice of k: one cluster for clips that sound the same (in a
space with a measured same-sound spread) unless they fall into clearly separated
groups, the best-separated k <= max_k otherwise. Every assertion keeps a margin: the
points sit far from the thresholds they test."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from core.clustering import (
    CLEAR_SPLIT,
    SAME_SOUND_SPREAD,
    _silhouette,
    cluster_embeddings,
    is_clear_split,
    normalise_rows,
    spread,
)
from core.models import BriefParams
from core.prompt import render_prompt
from core.providers.base import GenerationRequest
from core.providers.features import FeatureEmbedder
from core.providers.sketch import SketchEngine

SPACE = "features-v3"
LIMIT = SAME_SOUND_SPREAD[SPACE]
MIN_SILHOUETTE, MIN_APART = CLEAR_SPLIT[SPACE]


def around(centre: np.ndarray, count: int, distance: float, seed: int) -> list[np.ndarray]:
    """``count`` unit vectors at cosine distance ``distance`` from ``centre``, in random directions."""
    rng = np.random.default_rng(seed)
    centre = centre / np.linalg.norm(centre)
    out = []
    for _ in range(count):
        side = rng.normal(size=centre.shape)
        side -= (side @ centre) * centre
        side /= np.linalg.norm(side)
        cos = 1.0 - distance
        out.append(cos * centre + np.sqrt(1.0 - cos * cos) * side)
    return out


def test_clips_within_the_same_sound_spread_are_one_cluster() -> None:
    points = around(np.eye(32)[0], 6, LIMIT / 2, seed=1)
    assert spread(normalise_rows(points)) < 0.6 * LIMIT
    assert cluster_embeddings(points, 3, space=SPACE) == [list(range(6))]
    # the same points in a space with no measured spread are not forced together
    assert len(cluster_embeddings(points, 3)) > 1
    assert len(cluster_embeddings(points, 3, space="features-v1")) > 1


@pytest.mark.parametrize("seed", range(5))
def test_one_loose_group_within_the_spread_has_no_clear_split(seed: int) -> None:
    """Clips scattered around one sound (no structure) are one cluster: whatever split
    k-means finds in them scores a silhouette far under the clear-split minimum."""
    points = around(np.eye(32)[0], 6, 0.8 * LIMIT, seed=seed)
    unit = normalise_rows(points)
    assert spread(unit) < 0.9 * LIMIT
    split = cluster_embeddings(points, 3)
    labels = np.zeros(6, dtype=int)
    for label, members in enumerate(split):
        labels[members] = label
    assert len(split) > 1 and _silhouette(unit, labels) < 0.75 * MIN_SILHOUETTE
    assert not is_clear_split(unit, split, SPACE)
    assert cluster_embeddings(points, 3, space=SPACE) == [list(range(6))]


def three_groups(pairwise: float, within: float, seed: int) -> list[np.ndarray]:
    """Three groups of two unit vectors, ``within`` (cosine distance) from their centres,
    which are ``pairwise`` apart from one another."""
    cos = 1.0 - pairwise
    centres = [np.sqrt(cos) * np.eye(32)[0] + np.sqrt(1.0 - cos) * np.eye(32)[axis] for axis in (1, 2, 3)]
    return [p for g, c in enumerate(centres) for p in around(c, 2, within, seed=seed * 10 + g)]


@pytest.mark.parametrize("seed", range(3))
def test_tight_groups_far_apart_are_split_though_their_spread_is_small(seed: int) -> None:
    """Three tight groups 0.7 apart spread no more than one loose group (0.27 < 0.35):
    the spread cannot tell them from one sound, their structure can."""
    points = three_groups(0.7, 0.03, seed)
    unit = normalise_rows(points)
    assert spread(unit) < 0.9 * LIMIT
    assert is_clear_split(unit, [[0, 1], [2, 3], [4, 5]], SPACE)
    assert cluster_embeddings(points, 3, space=SPACE) == [[0, 1], [2, 3], [4, 5]]
    # a space without a measured clear split keeps the spread rule alone
    assert cluster_embeddings(points, 3, space="features-v2") == [list(range(6))]


@pytest.mark.parametrize("seed", range(3))
def test_tight_groups_a_hair_apart_stay_one(seed: int) -> None:
    """Groups that are tight but close (like the excerpts of one track that all sound
    alike) score a high silhouette, yet their centroids are too near to count."""
    points = three_groups(MIN_APART / 3, 0.005, seed)
    unit = normalise_rows(points)
    labels = np.repeat([0, 1, 2], 2)
    assert _silhouette(unit, labels) > MIN_SILHOUETTE + 0.2
    assert not is_clear_split(unit, [[0, 1], [2, 3], [4, 5]], SPACE)
    assert cluster_embeddings(points, 3, space=SPACE) == [list(range(6))]


def test_clips_beyond_it_are_split() -> None:
    apart = -0.5 * np.eye(32)[0] + np.sqrt(0.75) * np.eye(32)[1]  # 120 degrees from the first
    points = around(np.eye(32)[0], 3, 0.05, seed=2) + around(apart, 3, 0.05, seed=3)
    assert spread(normalise_rows(points)) > 1.4 * LIMIT
    assert sorted(map(sorted, cluster_embeddings(points, 3, space=SPACE))) == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("seed", range(4))
def test_two_clear_groups_are_two_clusters_not_three(seed: int) -> None:
    """max_k is a cap: two well-separated groups of four are not cut into three."""
    points = around(np.eye(24)[0], 4, 0.05, seed=seed) + around(np.eye(24)[1], 4, 0.05, seed=seed + 10)
    assert cluster_embeddings(points, 3) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_three_clear_groups_are_three_clusters() -> None:
    points = [p for axis in range(3) for p in around(np.eye(24)[axis], 2, 0.05, seed=axis)]
    assert cluster_embeddings(points, 3, space=SPACE) == [[0, 1], [2, 3], [4, 5]]


BRIEFS = ("slow dark ambient pad", "fast aggressive techno", "bright acoustic folk strum")
PARAMS = BriefParams(energy=0.5, density=0.5, duration_sec=10.0)


def batch(brief: str, clips: int, seed: int, out_dir: Path) -> list:
    request = GenerationRequest(params=PARAMS, seed=seed, out_dir=out_dir)
    return SketchEngine().generate_batch(render_prompt(brief, PARAMS), clips, PARAMS.duration_sec, request)


def embed(made: list) -> list[np.ndarray]:
    embedder = FeatureEmbedder()
    return [embedder.embed_audio(c.audio_path) for c in made]


def inertia(unit: np.ndarray, labels: tuple[int, ...]) -> float:
    rows = np.asarray(labels)
    return float(sum(((unit[rows == c] - unit[rows == c].mean(axis=0)) ** 2).sum() for c in set(labels)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketch_batches_split_by_arrangement_never_inside_one(seed: int, tmp_path: Path) -> None:
    """Six clips of one brief play its three arrangements, two clips each (clips i and
    i + 3): however many clusters it gets, no arrangement is split. Two clips of one
    arrangement of each of three briefs group by brief: the briefs' grouping beats every
    other grouping into three by a wide margin, and k-means finds it.

    Whether the three briefs pass the same-sound spread is not asserted: with variants
    they spread 0.33-0.42 here (0.37-0.43 before), close to the limit on both sides
    (``bench/clustering_k.py`` prints it)."""
    made = batch(BRIEFS[seed % 3], 6, seed, tmp_path / "one")
    assert [c.recipe["variant"] for c in made[:3]] == [c.recipe["variant"] for c in made[3:]]
    for cluster in cluster_embeddings(embed(made), 3, space=SPACE):
        assert all(i + 3 in cluster or i - 3 in cluster for i in cluster), cluster
    pairs = [c for k, b in enumerate(BRIEFS) for c in batch(b, 4, seed * 10 + k, tmp_path / str(k))[::3]]
    three = embed(pairs)
    unit = normalise_rows(three)
    by_brief = (0, 0, 1, 1, 2, 2)
    others = [
        inertia(unit, labels)
        for labels in itertools.product(range(3), repeat=6)
        if len(set(labels)) == 3 and len(set(zip(labels, by_brief, strict=True))) > 3
    ]
    assert inertia(unit, by_brief) < 0.85 * min(others), (inertia(unit, by_brief), min(others))  # 0.46-0.70
    assert cluster_embeddings(three, 3) == [[0, 1], [2, 3], [4, 5]]
