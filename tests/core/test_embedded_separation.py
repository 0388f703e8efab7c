"""End to end on the embedded providers: sketch renders, features embeds, k-means
groups, describe names. Clips of clearly different briefs must come apart, seeds of
one arrangement of a brief stay together, and "more like" lands near its cluster.

A brief has three arrangements and the seed picks one (``sketch.variants``): clips 0
and 3 of a batch play the same arrangement, clips 0 and 1 two different ones. The
pairs here are clips 0 and 3; arrangements apart are in ``test_arrangement_variants.py``.

In ``features-v1``: the space the sketch engine imitates references in and the only
one with a text side. The default space's (``features-v3``) checks on sketch batches
(one brief one cluster, three briefs three) are in ``test_clustering_k.py``."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from core.clustering import centroid_of, cluster_embeddings, normalise_rows
from core.models import BriefParams
from core.prompt import render_prompt
from core.providers.base import GenerationRequest, NamingContext, ReferenceClip
from core.providers.describe import DescribeNamer
from core.providers.features import FeatureEmbedder
from core.providers.sketch import SketchEngine
from core.settings import MIN_SIMILARITY
from core.similarity import cosine_similarity

BRIEFS = ("slow dark ambient pad", "fast aggressive techno", "bright acoustic folk strum")
PARAMS = BriefParams(energy=0.5, density=0.5, duration_sec=10.0)
ENGINE = SketchEngine()
EMBEDDER = FeatureEmbedder(version="v1")


def render(brief: str, out_dir: Path, seed: int, clips: int = 2, references=()) -> list:
    request = GenerationRequest(params=PARAMS, seed=seed, out_dir=out_dir, references=tuple(references))
    return ENGINE.generate_batch(render_prompt(brief, PARAMS), clips, PARAMS.duration_sec, request)


def same_arrangement(brief: str, out_dir: Path, seed: int) -> list:
    """Two clips of one arrangement of ``brief``: clips 0 and 3 of a batch."""
    clips = render(brief, out_dir, seed, clips=4)
    assert clips[0].recipe["variant"] == clips[3].recipe["variant"]
    return [clips[0], clips[3]]


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda s: f"batch-seed-{s}")
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two clips of one arrangement of each brief (each brief its own batch seed), embedded."""
    root = tmp_path_factory.mktemp(f"batch{request.param}")
    clips = []
    for k, brief in enumerate(BRIEFS):
        clips += same_arrangement(brief, root / str(k), seed=request.param * 10 + k)
    vectors = [EMBEDDER.embed_audio(c.audio_path) for c in clips]
    return {"root": root, "clips": clips, "vectors": vectors, "seed": request.param}


def inertia(unit: np.ndarray, labels: tuple[int, ...]) -> float:
    """k-means' objective for one grouping of the rows of ``unit``."""
    rows = np.asarray(labels)
    return float(sum(((unit[rows == c] - unit[rows == c].mean(axis=0)) ** 2).sum() for c in set(labels)))


def test_three_briefs_come_back_as_three_clusters(batch) -> None:
    """Not a close call that k-means could tip either way on another machine: the
    briefs' grouping beats every other grouping into three by a wide margin, and
    k-means finds it."""
    unit = normalise_rows(batch["vectors"])
    by_brief = (0, 0, 1, 1, 2, 2)
    others = [
        inertia(unit, labels)
        for labels in itertools.product(range(3), repeat=6)
        if len(set(labels)) == 3 and len(set(zip(labels, by_brief, strict=True))) > 3
    ]
    assert inertia(unit, by_brief) < 0.9 * min(others), (inertia(unit, by_brief), min(others))
    groups = cluster_embeddings(batch["vectors"], max_k=3)
    assert sorted(sorted(g) for g in groups) == [[0, 1], [2, 3], [4, 5]]


def test_two_seeds_of_a_brief_are_closer_to_each_other_than_to_any_other_brief(batch) -> None:
    vectors = batch["vectors"]
    for i in range(6):
        sibling = i + 1 if i % 2 == 0 else i - 1
        same = cosine_similarity(vectors[i], vectors[sibling])
        others = [cosine_similarity(vectors[i], vectors[j]) for j in range(6) if j // 2 != i // 2]
        assert same > max(others), (i, same, others)


@pytest.mark.parametrize("with_recipes", [True, False], ids=["recipes", "audio-only"])
def test_more_like_stays_near_its_cluster(batch, with_recipes: bool) -> None:
    """More-like varies the references' recipes; without recipes (imported clips,
    another engine's) it imitates their audio. The brief text does not steer it."""
    clips, vectors = batch["clips"], batch["vectors"]
    centroids = [centroid_of(vectors[2 * k : 2 * k + 2]) for k in range(3)]
    for k in range(3):
        brief = BRIEFS[k]
        references = [
            ReferenceClip(c.audio_path, c.seed if with_recipes else None, c.recipe if with_recipes else None)
            for c in clips[2 * k : 2 * k + 2]
        ]
        out_dir = batch["root"] / f"more{k}-{with_recipes}"
        more = render("some other words", out_dir, seed=batch["seed"] + 100, clips=3, references=references)
        others = [cosine_similarity(vectors[j], centroids[k]) for j in range(6) if j // 2 != k]
        for clip in more:
            vector = EMBEDDER.embed_audio(clip.audio_path)
            near = cosine_similarity(vector, centroids[k])
            assert near >= MIN_SIMILARITY + 0.15, (brief, near)
            assert near > max(others), (brief, near, others)
            assert near == max(cosine_similarity(vector, c) for c in centroids)


def test_clusters_get_distinct_descriptive_names(batch) -> None:
    namer = DescribeNamer()
    groups = cluster_embeddings(batch["vectors"], max_k=3)
    taken: set[str] = set()
    for group in groups:
        context = NamingContext(
            audio_paths=[batch["clips"][i].audio_path for i in group],
            embeddings=[batch["vectors"][i] for i in group],
            taken=frozenset(taken),
        )
        label = namer.name_cluster([batch["clips"][group[0]].raw_prompt], context)
        assert label.isascii() and 1 <= len(label.split()) <= 3
        assert label.lower() not in {t.lower() for t in taken}
        assert not any(ch.isdigit() for ch in label)
        taken.add(label)
    assert len(taken) == 3


def test_text_of_a_brief_points_at_its_own_clips(batch) -> None:
    vectors = np.array(batch["vectors"])
    for k, brief in enumerate(BRIEFS):
        text = EMBEDDER.embed_text(brief)
        scores = vectors @ text
        assert int(np.argmax(scores)) // 2 == k, (brief, scores.round(2).tolist())
