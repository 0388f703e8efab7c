"""k-means clustering of clip embeddings (seed 000) with singleton merging.

Rules, in order:

1. Near-identical clips are one point. Embeddings whose cosine similarity is at
   least ``NEAR_IDENTICAL`` are grouped first, and k never exceeds the number of
   such groups: three copies of one clip are one cluster, not three.
2. k = min(max_k, n, distinct groups); KMeans with the seed's constants
   (random_state 42, n_init 10, max_iter 300) on L2-normalised vectors, so that
   Euclidean k-means follows cosine distance.
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

DEFAULT_MAX_K = 3
KMEANS_RANDOM_STATE = 42
KMEANS_N_INIT = 10
KMEANS_MAX_ITER = 300
NEAR_IDENTICAL = 0.999

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
    from sklearn.cluster import KMeans

    return KMeans


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


def cluster_embeddings(embeddings: list[np.ndarray], max_k: int = DEFAULT_MAX_K) -> list[list[int]]:
    """KMeans plus singleton merge; returns lists of indices into ``embeddings``."""
    n = len(embeddings)
    if n == 0:
        return []
    if max_k < 1:
        raise ValueError("max_k must be at least 1.")
    if n == 1:
        return [[0]]
    unit = normalise_rows(embeddings)
    groups = _near_identical_groups(unit)
    k = min(max_k, n, len(groups))
    if k == 1:
        return [list(range(n))]
    KMeans = _import_kmeans()
    # Fit on one representative per group so duplicates cannot pull k-means apart,
    # then give every member its representative's label.
    representatives = unit[[g[0] for g in groups]]
    model = KMeans(
        n_clusters=k,
        random_state=KMEANS_RANDOM_STATE,
        n_init=KMEANS_N_INIT,
        max_iter=KMEANS_MAX_ITER,
    )
    with _single_threaded():
        group_labels = model.fit_predict(representatives)
    labels = np.empty(n, dtype=int)
    for group, label in zip(groups, group_labels, strict=True):
        labels[group] = label
    clusters = [sorted(np.flatnonzero(labels == c).tolist()) for c in range(k)]
    clusters = _merge_singletons(unit, clusters)
    return sorted(clusters, key=lambda c: c[0])
