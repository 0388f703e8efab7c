"""The real-music set's rules that need no audio: which file names count as one
composition (bench/music_set.py) and the track bootstrap of bench/embedders.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.embedders import bootstrap, p_at_1_among, retrieval, three_track_subsets
from bench.music_set import Source, compositions, distinct, more_held_out


def sources(package: str, names: list[str]) -> list[Source]:
    return [Source(package, name, Path("/nonexistent") / f"{name}.ogg") for name in names]


WARZONE = sources(
    "warzone2100-music",
    [
        "aftermath_soundtrack/track22",
        "aftermath_soundtrack/track3_enhanced",
        "legacy_soundtrack/track12",
        "original_soundtrack/track1",
        "original_soundtrack/track2",
        "original_soundtrack/track3",
    ],
)


def names(kept: list[Source]) -> list[str]:
    return [source.name for source in kept]


def test_a_trailing_2_is_another_version_only_within_its_folder():
    kept = names(compositions(WARZONE))
    assert "aftermath_soundtrack/track22" in kept
    assert "legacy_soundtrack/track12" in kept
    assert "aftermath_soundtrack/track3_enhanced" not in kept
    # distinct, the rule of the first picks, is left as it was: it drops all three.
    assert names(distinct(WARZONE)) == [
        "original_soundtrack/track1",
        "original_soundtrack/track2",
        "original_soundtrack/track3",
    ]


def test_versions_and_same_names_count_once_across_packages():
    candidates = [
        *sources("wesnoth-1.16-music", ["battle", "battle-epic", "victory", "victory2"]),
        *sources("nexuiz-music", ["battle", "sixtyfour_", "sixtyfour_revisited"]),
        *sources("ufoai-music", ["van_mission", "van_mission2", "van_mission3"]),
    ]
    kept = [(source.package, source.name) for source in compositions(candidates)]
    assert kept == [
        ("wesnoth-1.16-music", "battle"),
        ("wesnoth-1.16-music", "victory"),
        ("nexuiz-music", "sixtyfour_"),
        ("ufoai-music", "van_mission"),
        ("ufoai-music", "van_mission3"),
    ]


def test_the_second_group_refuses_a_pick_the_stricter_rule_would_drop():
    candidates = sources("nexuiz-music", ["sixtyfour_", "sixtyfour_revisited"])
    try:
        more_held_out(candidates, [candidates[1]])
    except SystemExit as refused:
        assert "sixtyfour_revisited" in str(refused)
    else:
        raise AssertionError("more_held_out took a set whose picks compositions() leaves out")


def test_three_track_subsets_are_all_of_them_or_a_seeded_draw_without_repeats():
    assert len(three_track_subsets([f"t{i}" for i in range(16)])) == 560
    many = [f"t{i:03d}" for i in range(119)]
    drawn = three_track_subsets(many)
    assert len(drawn) == len(set(drawn)) == 1000
    assert all(len(set(subset)) == 3 for subset in drawn)
    assert drawn == three_track_subsets(many)


def test_bootstrap_interval_narrows_with_more_tracks_and_brackets_the_figure():
    rng = np.random.default_rng(3)

    def interval(tracks: int) -> list[float]:
        labels = np.repeat([f"t{i:03d}" for i in range(tracks)], 5)
        # Half the tracks are always found, half never: P@1 0.5 on every draw of the set.
        hits = np.repeat(np.arange(tracks) % 2 == 0, 5)
        subsets = three_track_subsets(sorted(set(labels.tolist())))
        ari = rng.uniform(0, 1, len(subsets)).tolist()
        found = bootstrap(labels, hits, {"subsets": subsets, "ari_product": ari, "ari_kmeans3": ari})
        assert found["ari_product_mean"] == found["ari_kmeans3_mean"]
        low, high = found["p_at_1"]
        assert low < 0.5 < high
        return found["p_at_1"]

    small, big = interval(16), interval(120)
    assert big[1] - big[0] < small[1] - small[0]


def test_p_at_1_among_all_the_tracks_is_the_parts_p_at_1():
    rng = np.random.default_rng(5)
    labels = np.repeat([f"t{i:02d}" for i in range(16)], 5)
    unit = rng.normal(size=(16, 8))[np.repeat(np.arange(16), 5)] + rng.normal(size=(80, 8))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    found = p_at_1_among(unit, labels, tracks=16, draws=3)
    assert (
        found["middle_95"][0] == found["mean"] == found["middle_95"][1] == retrieval(unit, labels)["p_at_1"]
    )
    assert 0.0 < found["mean"] < 1.0
