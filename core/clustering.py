"""k-means clustering of clip embeddings (seed 000) with singleton merging.

Rules, in order:

1. Near-identical clips are one point. Embeddings whose cosine similarity is at
   least ``NEAR_IDENTICAL`` are grouped first, and k never exceeds the number of
   such groups: three copies of one clip are one cluster, not three.
2. k is at most min(max_k, n, distinct groups) (the seed's ``max_k`` is a cap):
   - the k in 2..cap whose k-means grouping has the best mean silhouette
     (cosine), the smaller k on a tie: six similar clips are not cut into three
     pairs just because three is allowed;
   - but k = 1 when the clips sound the same: in a space with a measured
     ``SAME_SOUND_SPREAD``, when their mean cosine distance to their centroid is
     within what excerpts of one real track show there, one cluster, unless
     that grouping (after rule 3) is a clear split (``CLEAR_SPLIT``, where the
     space has one measured): at least two clusters (so every cluster has two
     clips or more), a mean silhouette of at least ``min_silhouette`` (every
     clip much nearer its own cluster than any other) and the two nearest
     cluster centroids at least ``min_apart`` apart (cosine distance, so that
     tight groups a hair apart, as one track's excerpts can be, stay one). The
     spread alone is blind to structure: three tight groups far apart spread no
     more than one loose group.
   KMeans with the seed's constants (random_state 42, n_init 10, max_iter 300)
   on L2-normalised vectors, so that Euclidean k-means follows cosine distance.
3. Singletons are merged into the nearest other cluster (by centroid cosine),
   one at a time, smallest first, until none is left or only one cluster remains.
   So a batch of two or more clips never shows a cluster of one; all-singleton
   results collapse into fewer, larger clusters.

Clusters come back ordered by their first member, members in input order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from core import heavy_imports

DEFAULT_MAX_K = 3
KMEANS_RANDOM_STATE = 42
KMEANS_N_INIT = 10
KMEANS_MAX_ITER = 300
NEAR_IDENTICAL = 0.999

# Per embedding space: the largest spread (mean cosine distance of the clips to
# their normalised centroid) that still reads as "one sound". Learned on the
# tuning part of the real-music set (bench/music_set.py; bench/clustering_k.py
# prints the figures), where as many one-track sets (five excerpts of one track)
# split as two-track sets (three excerpts each of two tracks) stay whole:
# features-v2: one track 0.16-0.37, two tracks 0.13-0.60, 0.32 (88 % right each way);
# features-v3: one track 0.07-0.39, two tracks 0.17-0.58, 0.35 (88 % and 86 % right).
# Tied to the space: a space without a measured value never gets k = 1 this way
# (features-v1's one-track and two-track spreads overlap too much to say).
SAME_SOUND_SPREAD: dict[str, float] = {"features-v2": 0.32, "features-v3": 0.35}

# Per embedding space: (min_silhouette, min_apart) of a split that overrides the
# same-sound spread (rule 2). Learned on the same tuning part (bench/clustering_k.py
# prints the figures). features-v3, batches within the spread: 8 of the 14 such
# one-track sets get a 3 + 2 split from k-means, silhouette 0.08-0.54 with centroids
# 0.21-0.76 apart, or silhouette 0.76 with centroids 0.21 apart (a track whose
# excerpts are all alike, spread 0.07); the 17 two-track sets' splits score
# silhouette 0.45-0.86, centroids 0.40-0.97 apart (the next above 0.54: 0.57).
# 0.55 and 0.30 sit in those gaps: one-track sets kept whole 94 % (as before),
# two-track sets split 98 % (86 % before), three-track ARI 0.79 (0.78 before).
# A space without measured values keeps the spread rule alone.
CLEAR_SPLIT: dict[str, tuple[float, float]] = {"features-v3": (0.55, 0.30)}

_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def warm_up() -> None:
    """Import scikit-learn's KMeans in a background thread (it costs seconds cold).

    Called when a batch starts so that the import overlaps generation instead of
    delaying the first clip.
    """
    global _warm_thread
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_import_kmeans, name="sklearn-warm-up", daemon=True)
            _warm_thread.start()


def _import_kmeans():
    return heavy_imports.module("sklearn.cluster").KMeans


_controller = None


def _single_threaded(user_api: str = "openmp"):
    """A context that runs OpenMP (or, asked for, BLAS) on one thread.

    A batch is a handful of points: KMeans' OpenMP workers only fight numpy's
    spinning BLAS threads for the two cores (measured: 150 ms warm with two
    threads, 12 ms with one). The controller is built once; building it scans
    the loaded libraries.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api=user_api)


def normalise_rows(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    matrix = np.vstack([np.asarray(e, dtype=np.float64).ravel() for e in embeddings])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return matrix / norms


def centroid_of(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of the L2-normalised members, itself L2-normalised (float32)."""
    mean = normalise_rows(embeddings).mean(axis=0)
    norm = np.linalg.norm(mean)
    if norm > 0:
        mean = mean / norm
    return mean.astype(np.float32)


def _near_identical_groups(unit: np.ndarray) -> list[list[int]]:
    groups: list[list[int]] = []
    for i in range(len(unit)):
        for group in groups:
            if float(unit[group[0]] @ unit[i]) >= NEAR_IDENTICAL:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def _merge_singletons(unit: np.ndarray, clusters: list[list[int]]) -> list[list[int]]:
    clusters = [list(c) for c in clusters if c]
    while len(clusters) > 1:
        singletons = [i for i, c in enumerate(clusters) if len(c) == 1]
        if not singletons:
            break
        lone = singletons[0]
        centroids = np.vstack([unit[c].mean(axis=0) for c in clusters])
        norms = np.linalg.norm(centroids, axis=1)
        norms[norms == 0.0] = 1.0
        centroids = centroids / norms[:, None]
        scores = centroids @ centroids[lone]
        scores[lone] = -np.inf
        target = int(np.argmax(scores))
        clusters[target].extend(clusters[lone])
        clusters[target].sort()
        del clusters[lone]
    return clusters


def spread(unit: np.ndarray) -> float:
    """Mean cosine distance of unit rows to their normalised centroid (0 for identical clips)."""
    centre = unit.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    if norm == 0.0:
        return 1.0
    return float(np.mean(1.0 - unit @ (centre / norm)))


def _silhouette(unit: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (a point alone in its cluster scores 0)."""
    distance = 1.0 - unit @ unit.T
    scores = []
    for i in range(len(unit)):
        own = labels == labels[i]
        if own.sum() == 1:
            scores.append(0.0)
            continue
        a = distance[i, own].sum() / (own.sum() - 1)
        b = min(distance[i, labels == c].mean() for c in set(labels.tolist()) if c != labels[i])
        scores.append((b - a) / max(a, b) if max(a, b) > 0 else 0.0)
    return float(np.mean(scores))


def _kmeans(points: np.ndarray, k: int) -> np.ndarray:
    KMeans = _import_kmeans()
    model = KMeans(
        n_clusters=k,
        random_state=KMEANS_RANDOM_STATE,
        n_init=KMEANS_N_INIT,
        max_iter=KMEANS_MAX_ITER,
    )
    with _single_threaded():
        return model.fit_predict(points)


def cluster_embeddings(
    embeddings: list[np.ndarray], max_k: int = DEFAULT_MAX_K, *, space: str | None = None
) -> list[list[int]]:
    """KMeans plus singleton merge; returns lists of indices into ``embeddings``.

    ``space`` names the embedding space (``SAME_SOUND_SPREAD``, ``CLEAR_SPLIT``):
    where it has a measured spread, clips within it are one cluster unless they
    split clearly.
    """
    n = len(embeddings)
    if n == 0:
        return []
    if max_k < 1:
        raise ValueError("max_k must be at least 1.")
    if n == 1:
        return [[0]]
    unit = normalise_rows(embeddings)
    groups = _near_identical_groups(unit)
    cap = min(max_k, n, len(groups))
    if cap == 1:
        return [list(range(n))]
    limit = SAME_SOUND_SPREAD.get(space) if space else None
    same_sound = limit is not None and spread(unit) <= limit
    if same_sound and CLEAR_SPLIT.get(space) is None:
        return [list(range(n))]
    # Fit on one representative per group so duplicates cannot pull k-means apart,
    # then give every member its representative's label.
    representatives = unit[[g[0] for g in groups]]
    # The silhouette is scored on every clip (duplicates count: two copies of one
    # clip make a tight cluster).
    best: tuple[float, int, np.ndarray] | None = None
    for k in range(2, cap + 1):
        group_labels = _kmeans(representatives, k)
        labels = np.empty(n, dtype=int)
        for group, label in zip(groups, group_labels, strict=True):
            labels[group] = label
        score = _silhouette(unit, labels)
        if best is None or score > best[0] + 1e-9:
            best = (score, k, labels)
    assert best is not None
    _, k, labels = best
    clusters = [sorted(np.flatnonzero(labels == c).tolist()) for c in range(k)]
    clusters = _merge_singletons(unit, clusters)
    if same_sound and not is_clear_split(unit, clusters, space):
        return [list(range(n))]
    return sorted(clusters, key=lambda c: c[0])


def is_clear_split(unit: np.ndarray, clusters: list[list[int]], space: str | None) -> bool:
    """Whether ``clusters`` of the unit rows are a clear split in ``space`` (``CLEAR_SPLIT``):
    two clusters or more, a mean silhouette of at least its minimum and the two nearest
    centroids at least its distance apart. Never in a space without measured values."""
    clear = CLEAR_SPLIT.get(space) if space else None
    if clear is None or len(clusters) < 2:
        return False
    min_silhouette, min_apart = clear
    labels = np.empty(len(unit), dtype=int)
    for label, members in enumerate(clusters):
        labels[members] = label
    centroids = normalise_rows([unit[members].mean(axis=0) for members in clusters])
    apart = 1.0 - centroids @ centroids.T
    nearest = float(np.min(apart[np.triu_indices(len(clusters), 1)]))
    return nearest >= min_apart and _silhouette(unit, labels) >= min_silhouette
