"""Variety within one brief (``core.providers.sketch.variants``): the seed picks one of a
brief's three arrangements; clips of different arrangements sound apart in features-v3,
clips of one arrangement stay together, and what the brief states holds in every clip."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from core.clustering import (
    CLEAR_SPLIT,
    SAME_SOUND_SPREAD,
    _silhouette,
    cluster_embeddings,
    normalise_rows,
    spread,
)
from core.models import BriefParams
from core.prompt import render_prompt
from core.providers import sketch
from core.providers.base import GenerationRequest, clip_seed
from core.providers.features import FeatureEmbedder
from core.providers.sketch.recipe import blend_recipes, is_sketch_recipe, vary_recipe

SPACE = "features-v3"
LIMIT = SAME_SOUND_SPREAD[SPACE]
MIN_SILHOUETTE, MIN_APART = CLEAR_SPLIT[SPACE]
PARTS = ("bass", "chords", "pad", "lead")


def batch(brief: str, seed: int, out_dir: Path, clips: int = 6, **stated) -> list:
    params = BriefParams(energy=0.5, density=0.5, duration_sec=10.0, **stated)
    request = GenerationRequest(params=params, seed=seed, out_dir=out_dir)
    return sketch.SketchEngine().generate_batch(render_prompt(brief, params), clips, 10.0, request)


def distances(made: list) -> np.ndarray:
    unit = normalise_rows([FeatureEmbedder().embed_audio(c.audio_path) for c in made])
    return 1.0 - unit @ unit.T


def test_a_batch_plays_each_arrangement_twice_and_what_the_brief_states_in_all() -> None:
    brief = "dusty boom bap with jazzy rhodes and a flute"
    recipes = [
        sketch.design_recipe(brief, 0.5, 0.5, clip_seed(7, i), bpm=88, key="D minor") for i in range(6)
    ]
    variants = [r["variant"] for r in recipes]
    assert sorted(variants) == [0, 0, 1, 1, 2, 2] and variants[:3] == variants[3:]
    for r in recipes:  # the tempo, the key, the genre and the instruments it names
        assert (r["tempo"], r["key_name"], r["mode"], r["style"]) == (88.0, "D", "minor", "lofi")
        assert r["timbre"]["chords"] == "epiano" and r["timbre"]["lead"] == "flute"
        assert {"chords", "lead", "drums"} <= set(r["layers"]) and is_sketch_recipe(r)
    # what it leaves open differs between arrangements: the beat, the other instruments, the register
    first = recipes[:3]
    assert len({r["timbre"]["drums"] for r in first}) == 3
    assert len({(r["timbre"]["bass"], r["timbre"]["pad"], r["groove"]["bass_pattern"]) for r in first}) == 3
    assert len({r["voicing_center"] // 5 for r in first}) >= 2
    # and the same seed and brief give the same recipe again
    again = sketch.design_recipe(brief, 0.5, 0.5, clip_seed(7, 0), bpm=88, key="D minor")
    assert again == recipes[0]


@pytest.mark.parametrize(
    ("brief", "stated"),
    [
        ("dusty boom bap with jazzy rhodes", {"bpm": 88.0, "key": "D minor"}),
        ("fast aggressive techno", {}),
        ("upbeat synthpop anthem", {}),
        ("chill lofi study beat", {}),
        ("epic orchestral trailer", {}),
    ],
)
def test_arrangements_are_further_apart_than_seeds_of_one(brief: str, stated: dict, tmp_path: Path) -> None:
    """Two clips whose arrangements differ in their beat and in an instrument they play are
    further apart in features-v3 than any two clips of one arrangement of the same brief,
    by a margin (measured here: 0.27-0.60 between the nearest such pair and the furthest
    twins; their mean distances 3.3-4.7 times the twins')."""
    made = batch(brief, 5, tmp_path, **stated)
    d = distances(made)
    recipes = [c.recipe for c in made]
    twins = [d[i, i + 3] for i in range(3)]

    def differ(a: dict, b: dict) -> bool:
        played = set(a["layers"]) & set(b["layers"])
        drums = "drums" in played and a["timbre"]["drums"] != b["timbre"]["drums"]
        return drums and any(a["timbre"][p] != b["timbre"][p] for p in PARTS if p in played)

    apart = [d[i, j] for i in range(6) for j in range(i + 1, 6) if differ(recipes[i], recipes[j])]
    assert len(apart) >= 8
    assert min(apart) > max(twins) + 0.15, (min(apart), max(twins))
    assert np.mean(apart) > 2.5 * np.mean(twins), (np.mean(apart), np.mean(twins))


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_a_batch_that_sounds_apart_is_clustered_by_arrangement(seed: int, tmp_path: Path) -> None:
    """Measured spread 0.42-0.46 for these batches, well past the same-sound limit (0.35)."""
    made = batch("upbeat synthpop anthem", seed, tmp_path)
    unit = normalise_rows([FeatureEmbedder().embed_audio(c.audio_path) for c in made])
    assert spread(unit) > 1.1 * LIMIT
    assert cluster_embeddings(list(unit), 3, space=SPACE) == [[0, 3], [1, 4], [2, 5]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_issues_brief_splits_by_arrangement_within_the_spread(seed: int, tmp_path: Path) -> None:
    """Issue 10's "dusty boom bap with jazzy rhodes" (88 bpm, D minor): its batches spread
    no more than one real track's excerpts (measured 0.30-0.32), so the spread alone made
    them one cluster; their three arrangements are a clear split (measured silhouette
    0.67-0.74, arrangements' centroids 0.58-0.70 apart), so they are three clusters."""
    made = batch("dusty boom bap with jazzy rhodes", seed, tmp_path, bpm=88.0, key="D minor")
    unit = normalise_rows([FeatureEmbedder().embed_audio(c.audio_path) for c in made])
    assert spread(unit) < LIMIT
    by_arrangement = [[0, 3], [1, 4], [2, 5]]
    assert _silhouette(unit, np.array([0, 1, 2, 0, 1, 2])) > MIN_SILHOUETTE + 0.07
    centroids = normalise_rows([unit[m].mean(axis=0) for m in by_arrangement])
    assert (1.0 - centroids @ centroids.T)[np.triu_indices(3, 1)].min() > MIN_APART + 0.2
    assert cluster_embeddings(list(unit), 3, space=SPACE) == by_arrangement


def test_more_like_keeps_the_arrangement_unless_loose() -> None:
    parent = sketch.design_recipe("dusty boom bap with jazzy rhodes", 0.5, 0.5, 11, bpm=88, key="D minor")
    kept = copy.deepcopy(parent)
    arrangement = ("variant", "mix", "echo", "lead_grid")
    for strength in ("close", "near", "balanced", "far"):
        for seed in range(20):
            child = vary_recipe(parent, seed, strength)
            assert all(child[k] == parent[k] for k in arrangement), strength
            assert child["timbre"] == parent["timbre"] and child["layers"] == parent["layers"]
    loose = [vary_recipe(parent, seed, "loose") for seed in range(20)]
    moved = [c for c in loose if c["variant"] != parent["variant"]]
    assert 4 <= len(moved) <= 16  # about half
    for child in moved:
        assert is_sketch_recipe(child)
        assert child["timbre"]["chords"] == "epiano"  # the brief named it: it stays
        assert child["timbre"]["drums"] != parent["timbre"]["drums"] or child["mix"] != parent["mix"]
        assert (child["key"], child["mode"], child["style"]) == (
            parent["key"],
            parent["mode"],
            parent["style"],
        )
        assert child["tempo"] == pytest.approx(parent["tempo"], rel=0.05)
    assert parent == kept
    # the same seed moves the same way: a batch made again is the same batch
    assert [vary_recipe(parent, seed, "loose") for seed in range(20)] == loose


def test_a_blend_takes_the_mix_part_way_and_an_old_recipe_still_renders() -> None:
    a = sketch.design_recipe("upbeat synthpop anthem", 0.5, 0.5, 3)
    b = sketch.design_recipe("slow dark ambient pad", 0.5, 0.5, 4)
    child = blend_recipes(a, b, 9)
    assert is_sketch_recipe(child)
    for k, level in enumerate(child["mix"]):
        assert min(a["mix"][k], b["mix"][k]) - 0.1 <= level <= max(a["mix"][k], b["mix"][k]) + 0.1
    # a recipe from before arrangements (no mix, no variant) is still whole and renders
    old = {k: v for k, v in a.items() if k not in ("mix", "variant", "arrangement_of", "named")}
    assert is_sketch_recipe(old)
    assert sketch.render_recipe(old, 1.0).shape == (sketch.SR,)
    assert not is_sketch_recipe({**a, "mix": [0.0, 0.0, float("nan"), 0.0, 0.0]})
    assert not is_sketch_recipe({**a, "mix": [0.0] * 4})
