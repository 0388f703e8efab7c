"""The clear-split refit's rules that need no audio (bench/clear_split_fit.py): the
seeded fit/report pools and how a gate's thresholds are chosen and read."""

from __future__ import annotations

from bench.clear_split_fit import GATE_FIT, GATE_REPORT, Candidate, fit_gate, gate_pools, rates
from bench.music_set import HELD_OUT, HELD_OUT_2, TUNING


def rows_of(part: str, package: str, count: int) -> list[dict]:
    return [{"part": part, "track": f"{package}/{part}-{i}"} for i in range(count)]


ROWS = [
    *rows_of(TUNING, "a", 2),
    *rows_of(HELD_OUT, "a", 2),
    *rows_of(HELD_OUT_2, "a", 6),
    *rows_of(HELD_OUT_2, "b", 4),
]


def test_the_pools_split_held_out_2_by_package_and_keep_the_named_parts_apart():
    pools = gate_pools(ROWS)
    fit, report = set(pools[GATE_FIT]), set(pools[GATE_REPORT])
    assert not fit & report
    assert fit | report == {row["track"] for row in ROWS}
    assert {f"a/{TUNING}-{i}" for i in range(2)} <= fit
    assert {f"a/{HELD_OUT}-{i}" for i in range(2)} <= report
    for package, count in (("a", 6), ("b", 4)):
        assert sum(t.startswith(f"{package}/{HELD_OUT_2}") for t in fit) == count // 2
    assert gate_pools(ROWS) == pools
    assert any(gate_pools(ROWS, seed) != pools for seed in range(1, 6))


def candidate(tracks: int, spread: float, silhouette: float, apart: float) -> Candidate:
    truth = (0,) * 5 if tracks == 1 else (0, 0, 0, 1, 1, 1)
    clusters = ((0, 1, 2), (3, 4)) if tracks == 1 else ((0, 1, 2), (3, 4, 5))
    return Candidate(truth, spread, clusters, silhouette, apart)


def test_a_gated_set_splits_only_when_both_thresholds_are_met():
    within = candidate(2, 0.2, 0.6, 0.5)
    assert within.found(0.35, (0.55, 0.3)) == 2
    assert within.found(0.35, (0.65, 0.3)) == 1
    assert within.found(0.35, (0.55, 0.6)) == 1
    assert within.found(0.35, None) == 1
    beyond = candidate(2, 0.5, 0.1, 0.1)
    assert beyond.found(0.35, (0.55, 0.3)) == 2


def test_the_fit_puts_the_gate_between_separable_one_and_two_track_sets():
    sets = {
        "one": [candidate(1, 0.2, s, a) for s, a in ((0.2, 0.3), (0.3, 0.25), (0.25, 0.4))],
        "two": [candidate(2, 0.2, s, a) for s, a in ((0.7, 0.6), (0.8, 0.7), (0.65, 0.8), (0.9, 0.9))],
    }
    fit = fit_gate(sets, 0.35)
    assert (fit["kept_whole"], fit["split"]) == (1.0, 1.0)
    found = rates(sets, 0.35, tuple(fit["gate"]))
    assert found["one_track_one_cluster"] == 1.0
    assert found["two_tracks_split"] == 1.0
    assert fit["frontier"][0] == {"kept_whole": 1.0, "split": 1.0, "gate": fit["gate"]}
