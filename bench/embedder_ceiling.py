"""How far a linear map learned on many more tracks lifts ``features-v3``; prints one JSON object.

    .venv/bin/python bench/embedder_ceiling.py

``features-v3``'s constants weight each descriptor on its own (a robust z-score times
a per-descriptor weight, learned on 16 tuning tracks). This asks whether the
descriptors hold more than that: on the ``gate-fit`` pool (``bench/clear_split_fit.py``:
the tuning tracks and a seeded half of ``held-out-2``, 67 tracks) it learns a full
linear map of the robust z-scores,

- ``wccn``: whitening by the within-track covariance (shrunk towards its mean
  variance by ``shrink``): directions where excerpts of one track differ count less;
- ``lda``: the same, then only the ``dims`` directions that best separate the tracks,

chooses ``shrink`` (and ``dims``) by P@1 with half of the pool's tracks fitting and
the other half scored (both ways, ``bench/embedders.py``'s ``cv_splits``), and reports
P@1, mAP and the ARIs on ``gate-report`` (``held-out`` and the other half of
``held-out-2``, 68 tracks) and on ``held-out`` alone, next to ``features-v3`` as shipped.
A map that lifted the report figures to the issue's targets would be worth a new space;
one that does not says the descriptors, not their weighting, are the limit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.clear_split_fit import gate_masks  # noqa: E402
from bench.embedders import clustering, cv_splits, retrieval  # noqa: E402
from bench.music_set import load_manifest, set_dir  # noqa: E402

SHRINKS = (0.1, 0.3, 0.5, 0.7, 0.9)
LDA_DIMS = (32, 64, 128)


def robust_z(raw: np.ndarray, fit: np.ndarray, clip: float) -> np.ndarray:
    centre = np.median(raw[fit], axis=0)
    q75, q25 = np.percentile(raw[fit], [75, 25], axis=0)
    return np.clip((raw - centre) / np.maximum((q75 - q25) / 1.349, 1e-3), -clip, clip)


def learned_map(z: np.ndarray, labels: np.ndarray, shrink: float, dims: int | None) -> np.ndarray:
    """The (descriptors x out) matrix: within-track whitening, then the top ``dims`` between-track directions."""
    mean = z.mean(axis=0)
    within = np.zeros((z.shape[1], z.shape[1]))
    between = np.zeros_like(within)
    for track in sorted(set(labels.tolist())):
        rows = z[labels == track]
        centred = rows - rows.mean(axis=0)
        within += centred.T @ centred
        between += len(rows) * np.outer(rows.mean(axis=0) - mean, rows.mean(axis=0) - mean)
    within /= len(z)
    between /= len(z)
    within = (1 - shrink) * within + shrink * np.trace(within) / len(within) * np.eye(len(within))
    values, vectors = np.linalg.eigh(within)
    whiten = vectors / np.sqrt(values)
    if dims is None:
        return whiten
    spread, directions = np.linalg.eigh(whiten.T @ between @ whiten)
    return whiten @ directions[:, np.argsort(-spread)[:dims]]


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def project(
    z: np.ndarray, fit: np.ndarray, labels: np.ndarray, shrink: float, dims: int | None
) -> np.ndarray:
    return unit((z - z[fit].mean(axis=0)) @ learned_map(z[fit], labels[fit], shrink, dims))


def chosen_on_fit_pool(z: np.ndarray, labels: np.ndarray, fit: np.ndarray) -> dict:
    """Per kind, the settings with the best mean P@1 over ``cv_splits`` of the fit pool's tracks."""
    rows = np.flatnonzero(fit)
    grid = {"wccn": [(s, None) for s in SHRINKS], "lda": [(s, d) for s in SHRINKS for d in LDA_DIMS]}
    best = {}
    for kind, settings in grid.items():
        scored = []
        for shrink, dims in settings:
            values = []
            for a, b in cv_splits(labels[rows], splits=3):
                mask = np.zeros(len(labels), bool)
                mask[rows[a]] = True
                vectors = project(z, mask, labels, shrink, dims)[rows[b]]
                values.append(retrieval(vectors, labels[rows[b]])["p_at_1"])
            scored.append((float(np.mean(values)), shrink, dims))
        cv_p1, shrink, dims = max(scored, key=lambda s: s[0])
        best[kind] = {"shrink": shrink, "dims": dims, "cv_p_at_1": round(cv_p1, 4)}
    return best


def main() -> None:
    import soundfile as sf

    from core.providers.features import v3

    rows = load_manifest()["excerpts"]
    labels, fit, parts = gate_masks(rows)
    raw = np.array([v3.raw_features(*sf.read(str(set_dir() / row["path"]), dtype="float32")) for row in rows])
    z = robust_z(raw, fit, v3.Z_CLIP)
    best = chosen_on_fit_pool(z, labels, fit)
    spaces = {"features-v3": unit(np.array([v3.vector_from_raw(r) for r in raw]))}
    for kind, found in best.items():
        spaces[kind] = project(z, fit, labels, found["shrink"], found["dims"])
    result: dict = {"fit_tracks": len(set(labels[fit].tolist())), "chosen_on_fit_pool": best, "report": {}}
    for name, vectors in spaces.items():
        result["report"][name] = {
            part: {
                "tracks": len(set(labels[mask].tolist())),
                **retrieval(vectors[mask], labels[mask]),
                **clustering(vectors[mask], labels[mask], "features-v3" if name == "features-v3" else None),
            }
            for part, mask in parts.items()
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
