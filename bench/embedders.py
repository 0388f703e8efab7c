"""How well each embedder that can run here tells real music apart; prints one JSON object.

    .venv/bin/python bench/music_set.py      # once: fetch and cut the set (outside the repository)
    .venv/bin/python bench/embedders.py      # figures per embedder, tuning and held-out parts apart
    .venv/bin/python bench/embedders.py --calibrate v3   # the features-v3 constants, from the tuning part
    .venv/bin/python bench/embedders.py --cv     # features-v2/-v3 cross-validated over the tuning tracks only

The set (``bench/music_set.py``): excerpts of real game-music tracks, several per
track, at varying start offsets and gains. The features-v2 and features-v3 constants
were learned on the ``tuning`` part only; the held-out figures are the honest ones,
given twice: ``held-out``, the 16 tracks picked beside the tuning ones (comparable with
earlier notes), and ``held-out-all``, those and every other long enough composition of
the packages (``held-out-2`` in the manifest), over a hundred tracks. Within a part every
excerpt is ranked against all the others, so P@1 and mAP of ``held-out-all`` face many
more distractors than those of a 16-track part; the ARIs, over three tracks at a time,
compare directly.
``--cv`` chooses without looking at them: per split, half the tuning tracks of each
package calibrate the space (``calibrate_raw``) and the other half are scored
(6 seeded splits, both ways; P@1, mAP, plain k-means ARI over three-track subsets).

Per embedder and part:

- ``p_at_1``: share of excerpts whose nearest other excerpt (cosine) is from the same track;
- ``map``: mean average precision of the same-track excerpts in each excerpt's ranking;
- ``ari_product``: adjusted Rand index of the product's clustering
  (``core.clustering.cluster_embeddings`` in the embedder's space: k <= 3 chosen
  by its rules, singletons merged) against the
  tracks, over every three-track subset of the part (``MAX_SUBSETS`` of them drawn,
  seeded, where the part has more: ``subsets`` of ``subsets_of``): mean and worst;
- ``ari_kmeans3``: the same with plain k-means, k = 3, the product's constants;
- ``bootstrap_95`` (held-out parts): 95 % intervals of ``p_at_1`` and of both mean ARIs
  over seeded resamples of the part's tracks (``bootstrap``): how much the figure
  would move with other tracks of the same kind;
- ``p_at_1_among_16`` (``held-out-all``): P@1 within seeded draws of 16 of its tracks,
  the figure at the gallery size of ``held-out``;
- ``ms_per_10s_clip``: embedding time of one 10 s excerpt from its file (read
  included), median and min wall-clock (noisy on a shared machine);
  ``first_call_ms``: a fresh process importing the embedder and embedding one
  clip, minus the interpreter start.

Embedders: ``features-v1``, ``features-v2``, ``features-v3``, the ``mfcc-baseline`` (20 MFCCs of a
40-band mel spectrum, 64 ms frames with hop 32 ms, mean and standard deviation,
each dimension standardised over the part being scored: the textbook vector) and
``clap`` when its weights are in the local Hugging Face cache (else reported as
not runnable, with the reason).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.music_set import HELD_OUT, HELD_OUT_2, TUNING, load_manifest, set_dir  # noqa: E402


def mfcc_raw(samples: np.ndarray, rate: int) -> np.ndarray:
    """20 MFCCs (mean, std) of a 40-band mel log spectrum at 32 kHz: the textbook baseline, unstandardised."""
    from core.audio import resample
    from core.providers.features import v1

    x = np.asarray(samples, dtype=np.float64)
    if rate != 32_000:
        x = resample(x, rate, 32_000)
    frames = np.lib.stride_tricks.sliding_window_view(x, 2048)[::1024]
    power = np.abs(np.fft.rfft(frames * np.hanning(2048), axis=1)) ** 2
    mel = v1._Bank._mel_matrix(np.fft.rfftfreq(2048, 1 / 32_000), 40, 30.0, 15_000.0)
    log_mel = 10 * np.log10(power @ mel + 1e-10)
    k = np.arange(40)
    dct = np.cos(np.pi / 40 * (k[:, None] + 0.5) * np.arange(20)[None, :])
    cepstrum = log_mel @ dct
    return np.concatenate([cepstrum.mean(axis=0), cepstrum.std(axis=0)])


def standardised(raw: np.ndarray) -> np.ndarray:
    z = (raw - raw.mean(axis=0)) / (raw.std(axis=0) + 1e-9)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def nearest_hits(unit: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per excerpt: whether its nearest other excerpt is of the same track, and its average precision."""
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    hits, precisions = [], []
    for i in range(len(labels)):
        order = np.argsort(-sims[i], kind="stable")[:-1]
        relevant = labels[order] == labels[i]
        hits.append(bool(relevant[0]))
        ranks = np.flatnonzero(relevant) + 1
        precisions.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)) if len(ranks) else 0.0)
    return np.array(hits), np.array(precisions)


def retrieval(unit: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    hits, precisions = nearest_hits(unit, labels)
    return {"p_at_1": round(float(hits.mean()), 4), "map": round(float(precisions.mean()), 4)}


def p_at_1_among(
    unit: np.ndarray, labels: np.ndarray, tracks: int = 16, draws: int = 500, seed: int = 0
) -> dict:
    """P@1 within seeded draws of ``tracks`` tracks of a bigger part (each excerpt's nearest
    neighbour sought among those tracks only): the big part's figure at the gallery
    size of the 16-track parts, mean and the middle 95 % of the draws."""
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    names = sorted(set(labels.tolist()))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        chosen = [names[i] for i in rng.choice(len(names), tracks, replace=False)]
        rows = np.flatnonzero(np.isin(labels, chosen))
        nearest = rows[np.argmax(sims[np.ix_(rows, rows)], axis=1)]
        values.append(float(np.mean(labels[nearest] == labels[rows])))
    return {
        "tracks": tracks,
        "draws": draws,
        "mean": round(float(np.mean(values)), 4),
        "middle_95": [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])],
    }


# Three-track subsets scored per part: all of them up to this many, else this many drawn
# (seeded, without repeats): the 16-track parts have 560, the big held-out part has
# hundreds of thousands.
MAX_SUBSETS = 1000


def three_track_subsets(tracks: list[str], seed: int = 0) -> list[tuple[str, ...]]:
    if len(tracks) < 3:
        return []
    if math.comb(len(tracks), 3) <= MAX_SUBSETS:
        return list(itertools.combinations(tracks, 3))
    rng = np.random.default_rng(seed)
    drawn: set[tuple[int, ...]] = set()
    while len(drawn) < MAX_SUBSETS:
        drawn.add(tuple(sorted(rng.choice(len(tracks), 3, replace=False).tolist())))
    return [tuple(tracks[i] for i in triple) for triple in sorted(drawn)]


def clustering(
    unit: np.ndarray, labels: np.ndarray, space: str | None = None, scores: dict | None = None
) -> dict[str, dict[str, float]]:
    """ARI over ``three_track_subsets``; each subset's scores go into ``scores`` when given
    (``subsets``, ``ari_product``, ``ari_kmeans3``), for ``bootstrap``."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from core import clustering as product

    tracks = sorted(set(labels.tolist()))
    subsets = three_track_subsets(tracks)
    product_scores, plain_scores = [], []
    for subset in subsets:
        rows = np.flatnonzero(np.isin(labels, subset))
        truth = labels[rows]
        groups = product.cluster_embeddings([unit[i] for i in rows], max_k=3, space=space)
        found = np.empty(len(rows), dtype=int)
        for g, members in enumerate(groups):
            found[members] = g
        product_scores.append(adjusted_rand_score(truth, found))
        model = KMeans(n_clusters=3, random_state=product.KMEANS_RANDOM_STATE, n_init=product.KMEANS_N_INIT)
        with product._single_threaded():
            plain_scores.append(adjusted_rand_score(truth, model.fit_predict(unit[rows])))

    def summary(scores: list[float]) -> dict[str, float]:
        return {"mean": round(float(np.mean(scores)), 4), "worst": round(float(np.min(scores)), 4)}

    if scores is not None:
        scores.update(subsets=subsets, ari_product=product_scores, ari_kmeans3=plain_scores)
    return {
        "ari_product": summary(product_scores),
        "ari_kmeans3": summary(plain_scores),
        "subsets": len(product_scores),
        "subsets_of": math.comb(len(tracks), 3),
    }


def bootstrap(
    labels: np.ndarray, hits: np.ndarray, scores: dict, resamples: int = 2000, seed: int = 0
) -> dict:
    """95 % percentile intervals of P@1 and the mean ARIs when the part's tracks are drawn
    again with replacement (seeded).

    A drawn track counts as often as it is drawn: its excerpts' hits (nearest neighbour
    searched in the whole part, as for ``p_at_1``) and every scored subset of three
    tracks (weighted by the product of the three counts, the number of such subsets
    of the drawn tracks). So the interval says how much the figure hangs on which
    tracks happen to be in the set, not on the part's size as a gallery.
    """
    tracks = sorted(set(labels.tolist()))
    index = {track: i for i, track in enumerate(tracks)}
    excerpt_track = np.array([index[t] for t in labels])
    subset_tracks = np.array([[index[t] for t in subset] for subset in scores["subsets"]], dtype=int)
    rng = np.random.default_rng(seed)
    found: dict[str, list[float]] = {"p_at_1": [], "ari_product": [], "ari_kmeans3": []}
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, len(tracks), len(tracks)), minlength=len(tracks))
        weights = counts[excerpt_track]
        found["p_at_1"].append(float(np.sum(weights * hits) / np.sum(weights)))
        subset_weights = counts[subset_tracks].prod(axis=1)
        for name in ("ari_product", "ari_kmeans3"):
            total = subset_weights.sum()
            if total:
                found[name].append(float(np.sum(subset_weights * np.array(scores[name])) / total))

    def interval(values: list[float]) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])]

    return {
        "resamples": resamples,
        "seed": seed,
        "p_at_1": interval(found["p_at_1"]),
        "ari_product_mean": interval(found["ari_product"]),
        "ari_kmeans3_mean": interval(found["ari_kmeans3"]),
    }


def calibrate(paths: list[Path], labels: np.ndarray, version: str = "v3") -> dict[str, list]:
    """The (centre, scale, weight) per descriptor of ``features-v2`` or ``features-v3``, as in
    ``v2_constants.py`` / ``v3_constants.py``, from the tuning part only.

    The weight is the square root of the descriptor's Fisher ratio (its spread over
    all excerpts over its mean spread within a track); in v3 each group's weighted
    scores are then scaled to unit mean-square norm over the part, times the
    group's ``GROUP_WEIGHTS``.
    """
    import soundfile as sf

    from core.providers.features import v2, v3

    module = {"v2": v2, "v3": v3}[version]
    raw = np.array([module.raw_features(*sf.read(str(p), dtype="float32")) for p in paths])
    return calibrate_raw(raw, labels, module)


def calibrate_raw(raw: np.ndarray, labels: np.ndarray, module) -> dict[str, list]:
    """``calibrate`` on raw descriptor rows already computed (``module.raw_features``)."""
    centres = np.array([float(f"{c:.4g}") for c in np.median(raw, axis=0)])
    q75, q25 = np.percentile(raw, [75, 25], axis=0)
    scales = np.array([float(f"{s:.4g}") for s in np.maximum((q75 - q25) / 1.349, 1e-3)])
    z = np.clip((raw - centres) / scales, -module.Z_CLIP, module.Z_CLIP)
    within = np.mean([z[labels == t].var(axis=0) for t in sorted(set(labels.tolist()))], axis=0)
    fisher = z.var(axis=0) / np.maximum(within, 1e-3)
    weights = np.sqrt(fisher)
    if hasattr(module, "GROUP_WEIGHTS"):
        groups = np.array([module.GROUP_OF[name] for name in module.NAMES])
        for group, factor in module.GROUP_WEIGHTS.items():
            members = groups == group
            norm = float(np.sqrt(np.mean(np.sum((z[:, members] * weights[members]) ** 2, axis=1))))
            weights[members] *= factor / max(norm, 1e-9)
    return {
        "names": list(module.NAMES),
        "centres": centres.tolist(),
        "scales": scales.tolist(),
        "weights": [float(f"{w:.3g}") for w in weights],
    }


def half_of_each_package(tracks: list[str], rng: np.random.Generator) -> list[str]:
    """Half (rounded down) of the tracks (``package/name``) of each package, drawn with ``rng``."""
    by_package: dict[str, list[str]] = {}
    for track in sorted(tracks):
        by_package.setdefault(track.split("/")[0], []).append(track)
    return [
        str(t) for _, ts in sorted(by_package.items()) for t in rng.choice(ts, len(ts) // 2, replace=False)
    ]


def cv_splits(labels: np.ndarray, splits: int = 6, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(calibrate, score) row indices: half the tracks of each package against the other half, both ways."""
    rng = np.random.default_rng(seed)
    tracks = sorted(set(labels.tolist()))
    out = []
    for _ in range(splits):
        first = half_of_each_package(tracks, rng)
        a = np.flatnonzero(np.isin(labels, first))
        b = np.flatnonzero(~np.isin(labels, first))
        out += [(a, b), (b, a)]
    return out


def cross_validate(paths: list[Path], labels: np.ndarray, version: str) -> dict[str, float]:
    """Mean P@1, mAP and plain k-means ARI (mean, and worst subset) over ``cv_splits``."""
    import soundfile as sf
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from core import clustering as product
    from core.providers.features import v2, v3

    module = {"v2": v2, "v3": v3}[version]
    raw = np.array([module.raw_features(*sf.read(str(p), dtype="float32")) for p in paths])
    rows = []
    for fit, score in cv_splits(labels):
        found = calibrate_raw(raw[fit], labels[fit], module)
        unit = np.array(
            [
                v2.unit_vector(
                    v2.scores_against(r, np.array(found["centres"]), np.array(found["scales"])),
                    np.array(found["weights"]),
                )
                for r in raw[score]
            ],
            dtype=np.float64,
        )
        part = labels[score]
        aris = []
        for subset in itertools.combinations(sorted(set(part.tolist())), 3):
            members = np.flatnonzero(np.isin(part, subset))
            model = KMeans(
                n_clusters=3, random_state=product.KMEANS_RANDOM_STATE, n_init=product.KMEANS_N_INIT
            )
            with product._single_threaded():
                aris.append(adjusted_rand_score(part[members], model.fit_predict(unit[members])))
        found_retrieval = retrieval(unit, part)
        rows.append(
            [found_retrieval["p_at_1"], found_retrieval["map"], float(np.mean(aris)), float(np.min(aris))]
        )
    means = np.array(rows)
    return {
        "splits": len(rows),
        "p_at_1": round(float(means[:, 0].mean()), 4),
        "map": round(float(means[:, 1].mean()), 4),
        "ari_kmeans3": {
            "mean": round(float(means[:, 2].mean()), 4),
            "worst": round(float(means[:, 3].min()), 4),
        },
    }


def first_call_ms(version: str, path: Path) -> float:
    code = (
        "import time; t=time.perf_counter();"
        "from core.providers.features import FeatureEmbedder;"
        f"FeatureEmbedder(version={version!r}).embed_audio({str(path)!r});"
        "print((time.perf_counter()-t)*1000)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip()), 1)


def clap_status() -> dict:
    from core.settings import Settings

    model = Settings().clap_model
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
    except ImportError:
        cached = None
    if not isinstance(cached, str):
        return {
            "runnable": False,
            "model": model,
            "reason": f"{model} is not in the local Hugging Face cache",
        }
    return {"runnable": True, "model": model}


# The second figure of held-out tracks: the 16 picked ones and the rest of the packages.
HELD_OUT_ALL = "held-out-all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calibrate",
        choices=("v2", "v3"),
        help="print that space's centres, scales and weights, learned on the tuning part",
    )
    parser.add_argument(
        "--cv", action="store_true", help="cross-validate v2 and v3 over the tuning tracks only"
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the timings")
    args = parser.parse_args()

    import soundfile as sf

    from core.providers.features import FeatureEmbedder

    manifest = load_manifest()
    rows = manifest["excerpts"]
    paths = [set_dir() / row["path"] for row in rows]
    labels = np.array([row["track"] for row in rows])
    part_of = np.array([row["part"] for row in rows])
    parts = {
        TUNING: part_of == TUNING,
        HELD_OUT: part_of == HELD_OUT,
        HELD_OUT_ALL: np.isin(part_of, (HELD_OUT, HELD_OUT_2)),
    }

    if args.cv:
        tuning = np.flatnonzero(parts[TUNING])
        print(
            json.dumps(
                {v: cross_validate([paths[i] for i in tuning], labels[tuning], v) for v in ("v2", "v3")}
            )
        )
        return

    if args.calibrate:
        found = calibrate(
            [p for p, t in zip(paths, parts[TUNING], strict=True) if t],
            labels[parts[TUNING]],
            args.calibrate,
        )
        print(json.dumps(found))
        return

    if not (part_of == HELD_OUT_2).any():
        raise SystemExit(f"The music set has no {HELD_OUT_2!r} tracks: run bench/music_set.py again.")

    vectors: dict[str, np.ndarray] = {}
    timings: dict[str, list[float]] = {}
    for version in ("v1", "v2", "v3"):
        embedder = FeatureEmbedder(version=version)
        out, times = [], []
        for path in paths:
            started = time.perf_counter()
            out.append(embedder.embed_audio(path))
            times.append((time.perf_counter() - started) * 1000)
        vectors[embedder.space] = np.array(out, dtype=np.float64)
        timings[embedder.space] = times
    baseline, times = [], []
    for path in paths:
        started = time.perf_counter()
        baseline.append(mfcc_raw(*sf.read(str(path), dtype="float32")))
        times.append((time.perf_counter() - started) * 1000)
    timings["mfcc-baseline"] = times

    result: dict = {
        "set": {"dir": str(set_dir()), "packages": manifest["packages"], "excerpts": len(rows)},
        "embedders": {},
        "clap": clap_status(),
    }
    for name in ("features-v1", "features-v2", "features-v3", "mfcc-baseline"):
        entry: dict = {}
        for part, mask in parts.items():
            part_labels = labels[mask]
            if name == "mfcc-baseline":
                unit = standardised(np.array(baseline)[mask])
            else:
                unit = vectors[name][mask]
                unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
            hits, precisions = nearest_hits(unit, part_labels)
            scores: dict = {}
            entry[part] = {
                "tracks": len(set(part_labels.tolist())),
                "excerpts": int(mask.sum()),
                "p_at_1": round(float(hits.mean()), 4),
                "map": round(float(precisions.mean()), 4),
                **clustering(unit, part_labels, None if name == "mfcc-baseline" else name, scores),
            }
            if part != TUNING:
                entry[part]["bootstrap_95"] = bootstrap(part_labels, hits, scores)
            if entry[part]["tracks"] > 16:
                entry[part]["p_at_1_among_16"] = p_at_1_among(unit, part_labels)
        if not args.no_speed:
            entry["ms_per_10s_clip"] = {
                "median": round(statistics.median(timings[name]), 1),
                "min": round(min(timings[name]), 1),
            }
            if name.startswith("features"):
                entry["first_call_ms"] = first_call_ms(name.removeprefix("features-"), paths[0])
        result["embedders"][name] = entry
    print(json.dumps(result))


if __name__ == "__main__":
    main()
