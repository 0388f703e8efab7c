"""A two-dimensional map of a session: its clips' stored embeddings, projected.

The map must not jump around between visits, and a new batch must move the old
points as little as possible. So the projection is a pure function of what the
session holds, fitted in *epochs* along the session's batches:

- the first epoch is a PCA of the first batch (signs fixed: each axis points to
  where its largest loading is positive), so the same session always draws the same;
- the basis is fitted again only when the session has doubled in clips since the
  last fit (a prefix of whole batches); the new PCA is then turned (rotation or
  reflection) and shifted onto the previous map of the clips both fits share
  (orthogonal Procrustes), so the old points stay where they were as far as a
  rigid motion allows;
- between refits a new batch is projected with the basis in force: old points do
  not move at all.

Nothing is written, so a read-only session maps the same, and one space at a time:
the session's own (the space most of its clips were embedded in). The process keeps
the last few maps it placed with the basis in force (``session_map``): the same
session asked again (a reopened session, the map screen after the session screen)
costs nothing, and a session grown by batches that bring no refit reads and
projects only the new clips, exactly as placing it whole would.

Placing thousands of clips takes a while (most of it reading the vectors), in a worker
that shares the interpreter with the screen: ``session_map`` takes a ``stop`` event,
looked at between chunks of the read and between the fit's epochs, and raises
CancelledError once it is set. A placing stopped keeps nothing; the next one starts
afresh and gives the same map.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from core.errors import CancelledError
from core.models import Session

if TYPE_CHECKING:
    from core.store import SessionStore


@dataclass(frozen=True)
class MapPoint:
    track_id: uuid.UUID
    cluster_id: uuid.UUID
    x: float
    y: float


@dataclass(frozen=True, eq=False)
class SessionMap:
    """The placed clips as arrays (10,000 of them cost no 10,000 objects); ``points`` and
    ``point`` give them one at a time."""

    space: str
    track_ids: list[uuid.UUID]
    cluster_ids: list[uuid.UUID]
    xy: np.ndarray  # (n, 2) positions, in batch order
    missing: int  # clips with no stored vector in ``space`` (left off the map)

    def __len__(self) -> int:
        return len(self.track_ids)

    def _point(self, index: int) -> MapPoint:
        x, y = self.xy[index]
        return MapPoint(self.track_ids[index], self.cluster_ids[index], float(x), float(y))

    @cached_property
    def points(self) -> list[MapPoint]:
        return [self._point(i) for i in range(len(self))]

    def point(self, track_id: uuid.UUID) -> MapPoint | None:
        index = self.index.get(track_id)
        return None if index is None else self._point(index)

    @cached_property
    def index(self) -> dict[uuid.UUID, int]:
        return {track_id: i for i, track_id in enumerate(self.track_ids)}

    @cached_property
    def clusters(self) -> frozenset[uuid.UUID]:
        """The clusters with at least one clip on the map."""
        return frozenset(self.cluster_ids)

    def nearest(
        self, track_id: uuid.UUID, dx: int, dy: int, *, scale: tuple[float, float] = (1.0, 1.0)
    ) -> MapPoint | None:
        """``nearest_in_direction`` from the clip ``track_id``, over the arrays."""
        index = self.index.get(track_id)
        if index is None:
            return None
        found = nearest_index(self.xy, index, dx, dy, scale=scale)
        return None if found is None else self._point(found)

    def warm(self) -> SessionMap:
        """Its lookups built now (in a worker), so the screen that shows it does not wait."""
        _ = self.index, self.clusters
        return self


def session_space(session: Session) -> str | None:
    """The space most of the session's clips were embedded in (ties: the latest batch's)."""
    counts: Counter[str] = Counter()
    latest: dict[str, int] = {}
    for i, batch in enumerate(session.batches):
        if batch.embedder and batch.tracks:
            counts[batch.embedder] += len(batch.tracks)
            latest[batch.embedder] = i
    if not counts:
        return None
    return max(counts, key=lambda space: (counts[space], latest[space]))


@dataclass(frozen=True)
class _Placed:
    """A placed map, what it was placed from, and the basis in force after its last fit."""

    batches: tuple[tuple[uuid.UUID, int], ...]  # (batch, clips) of the session placed
    placed: SessionMap
    sizes: tuple[int, ...]  # clips placed per batch that has any, in order (the epochs' input)
    basis: tuple[np.ndarray, np.ndarray, np.ndarray]  # mean, basis, shift


KEEP_PLACED = 4  # sessions whose maps the process keeps
_placed: OrderedDict[tuple[str, uuid.UUID, str], _Placed] = OrderedDict()
_placed_lock = threading.Lock()


def forget_placed() -> None:
    """Drop the maps kept (tests; nothing else needs to)."""
    with _placed_lock:
        _placed.clear()


def session_map(
    store: SessionStore, session: Session, space: str | None = None, *, stop: threading.Event | None = None
) -> SessionMap:
    """Every clip of ``session`` that has a vector in ``space`` (the session's own by default), placed.

    Kept per (data dir, session, space): asked again for the same batches, the same map;
    for the same batches and more, with no refit due, the old map and the new clips
    projected onto its basis. ``stop`` set: CancelledError, soon, and nothing kept."""
    space = space if space is not None else session_space(session)
    count = sum(len(b.tracks) for b in session.batches)
    if space is None or not count:
        return SessionMap(space or "", [], [], np.zeros((0, 2)), count)
    key = (str(store.root), session.id, space)
    batches = tuple((b.id, len(b.tracks)) for b in session.batches)
    with _placed_lock:
        kept = _placed.get(key)
    if kept is not None and kept.batches == batches:
        return kept.placed
    grown = None
    if kept is not None and batches[: len(kept.batches)] == kept.batches:
        grown = _grown(store, session, space, kept, batches, count, stop)
    placed = grown or _place(store, session, space, batches, count, stop)
    if placed is not None:
        with _placed_lock:
            _placed[key] = placed
            _placed.move_to_end(key)
            while len(_placed) > KEEP_PLACED:
                _placed.popitem(last=False)
        return placed.placed
    return SessionMap(space, [], [], np.zeros((0, 2)), count)


def _stop_if_set(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise CancelledError("The map's placing was stopped.")


def _place(
    store: SessionStore,
    session: Session,
    space: str,
    batches: tuple[tuple[uuid.UUID, int], ...],
    count: int,
    stop: threading.Event | None = None,
) -> _Placed | None:
    # In batch order, as the epochs need.
    ids, matrix = store.get_session_vectors(session.id, space, stop=stop)
    held = {b.id for b in session.batches}
    if any(batch_id not in held for _, _, batch_id in ids):  # the store has batches this copy has not
        rows = [i for i, (_, _, batch_id) in enumerate(ids) if batch_id in held]
        ids, matrix = [ids[i] for i in rows], matrix[rows]
    if not ids:
        return None
    batch_sizes: list[int] = []
    last_batch = None
    for _, _, batch_id in ids:
        if batch_id != last_batch:
            batch_sizes.append(0)
            last_batch = batch_id
        batch_sizes[-1] += 1
    from core.clustering import _single_threaded

    # Small products (d x d): BLAS threads only spin against each other (measured here,
    # 2 busy cores: 0.1 s per eigh threaded, under 1 ms on one thread).
    _stop_if_set(stop)
    with _single_threaded("blas"):
        rows64 = matrix.astype(np.float64)
        basis = fit(rows64, batch_sizes, stop=stop)
        xy = _apply(rows64, basis)
    track_ids = [t for t, _, _ in ids]
    placed = SessionMap(space, track_ids, [c for _, c, _ in ids], xy, count - len(track_ids))
    return _Placed(batches, placed, tuple(batch_sizes), basis)


def _grown(
    store: SessionStore,
    session: Session,
    space: str,
    kept: _Placed,
    batches: tuple[tuple[uuid.UUID, int], ...],
    count: int,
    stop: threading.Event | None = None,
) -> _Placed | None:
    """``kept`` and the clips of the batches after it, projected onto its basis; None when
    those batches bring a refit (the whole session is then placed again)."""
    new = session.batches[len(kept.batches) :]
    tracks = [t for b in new for t in b.tracks]
    _stop_if_set(stop)
    vectors = store.get_embeddings([t.id for t in tracks], space)
    _stop_if_set(stop)
    dim = kept.basis[1].shape[0]
    rows = [t for t in tracks if t.id in vectors and len(vectors[t.id]) == dim]
    sizes = list(kept.sizes)
    for batch in new:
        placed_here = sum(1 for t in batch.tracks if t.id in vectors and len(vectors[t.id]) == dim)
        if placed_here:
            sizes.append(placed_here)
    if fit_prefixes(sizes) != fit_prefixes(kept.sizes):
        return None
    old = kept.placed
    if rows:
        from core.clustering import _single_threaded

        with _single_threaded("blas"):
            xy = _apply(np.stack([vectors[t.id] for t in rows]).astype(np.float64), kept.basis)
        xy = np.concatenate([old.xy, xy])
    else:
        xy = old.xy
    track_ids = [*old.track_ids, *(t.id for t in rows)]
    cluster_ids = [*old.cluster_ids, *(t.cluster_id for t in rows)]
    placed = SessionMap(space, track_ids, cluster_ids, xy, count - len(track_ids))
    return _Placed(batches, placed, tuple(sizes), kept.basis)


def fit_prefixes(batch_sizes: Sequence[int]) -> list[int]:
    """The clip counts (whole-batch prefixes) each epoch's basis is fitted on: the first
    batch, then each prefix that holds at least twice the clips of the last fit."""
    prefixes: list[int] = []
    total = 0
    for size in batch_sizes:
        total += size
        if not prefixes or total >= 2 * prefixes[-1]:
            prefixes.append(total)
    return prefixes


def project(matrix: np.ndarray, batch_sizes: Sequence[int]) -> np.ndarray:
    """(n, 2) positions of the rows of ``matrix`` (in batch order; ``batch_sizes`` sum to n)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return _apply(matrix, fit(matrix, batch_sizes))


def _apply(matrix: np.ndarray, fitted: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    mean, basis, shift = fitted
    return (matrix - mean) @ basis + shift


def fit(
    matrix: np.ndarray, batch_sizes: Sequence[int], *, stop: threading.Event | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The basis in force after the last epoch: (mean, (d, 2) basis, shift); a row r sits at
    ``(r - mean) @ basis + shift``. ``stop`` set: CancelledError between epochs."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if sum(batch_sizes) != len(matrix):
        raise ValueError("batch sizes must add up to the number of rows")
    prefixes = fit_prefixes(batch_sizes)
    # The prefixes are nested: their sums and Gram matrices accumulate in one pass.
    total, gram, start = np.zeros(matrix.shape[1]), np.zeros((matrix.shape[1],) * 2), 0
    moments = []
    for prefix in prefixes:
        chunk = matrix[start:prefix]
        total, gram, start = total + chunk.sum(axis=0), gram + chunk.T @ chunk, prefix
        moments.append((total, gram, prefix))
    mean, basis = _pca(*moments[0])
    shift = np.zeros(2)
    for prefix_total, prefix_gram, prefix in moments[1:]:
        _stop_if_set(stop)
        fitted = matrix[:prefix]
        before = (fitted - mean) @ basis + shift
        new_mean, new_basis = _pca(prefix_total, prefix_gram, prefix)
        after = (fitted - new_mean) @ new_basis
        rotation, offset = _procrustes(after, before)
        mean, basis, shift = new_mean, new_basis @ rotation, offset
    return mean, basis, shift


def _pca(total: np.ndarray, gram: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the two leading principal directions (d, 2) of ``count`` rows given by their
    sum and Gram matrix, signs fixed; fewer than two directions of spread are completed
    with fixed ones, so one clip still maps."""
    mean = total / count
    dim = len(total)
    # The covariance's eigenvectors: (d x d) work however many clips there are.
    variances, vectors = np.linalg.eigh(gram / count - np.outer(mean, mean))
    order = np.argsort(variances)[::-1][:2]
    top = max(float(variances[order[0]]), 0.0)
    directions = [vectors[:, i] for i in order if variances[i] > 1e-12 * max(1.0, top)]
    for axis in range(dim):  # complete with coordinate axes orthogonal to what is there
        if len(directions) >= 2:
            break
        candidate = np.zeros(dim)
        candidate[axis] = 1.0
        for d in directions:
            candidate -= (candidate @ d) * d
        norm = np.linalg.norm(candidate)
        if norm > 1e-6:
            directions.append(candidate / norm)
    while len(directions) < 2:  # a one-dimensional space: the second axis is flat
        directions.append(np.zeros(dim))
    basis = np.stack(directions, axis=1)
    for j in range(2):
        column = basis[:, j]
        if column[np.argmax(np.abs(column))] < 0:
            basis[:, j] = -column
    return mean, basis


def _procrustes(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The orthogonal R and offset t that bring ``source @ R + t`` nearest to ``target``."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    u, _, vt = np.linalg.svd((source - source_mean).T @ (target - target_mean))
    rotation = u @ vt
    return rotation, target_mean - source_mean @ rotation


def nearest_in_direction(
    points: Sequence[MapPoint],
    current: MapPoint,
    dx: int,
    dy: int,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
) -> MapPoint | None:
    """The point nearest ``current`` among those lying in direction (dx, dy) (a 90° cone
    around it); None when nothing lies that way. ``scale`` stretches x and y before
    measuring (distances as drawn)."""
    others = [p for p in points if p.track_id != current.track_id]
    xy = np.array([(current.x, current.y), *((p.x, p.y) for p in others)], dtype=np.float64)
    found = nearest_index(xy, 0, dx, dy, scale=scale)
    return None if found is None else others[found - 1]


def nearest_index(
    xy: np.ndarray, current: int, dx: int, dy: int, *, scale: tuple[float, float] = (1.0, 1.0)
) -> int | None:
    """The row of ``xy`` nearest row ``current`` in direction (dx, dy), as ``nearest_in_direction``
    measures it (the first of equals); None when nothing lies that way."""
    if not len(xy):
        return None
    vx = (xy[:, 0] - xy[current, 0]) * scale[0]
    vy = (xy[:, 1] - xy[current, 1]) * scale[1]
    along = vx * dx + vy * dy
    across = np.abs(vx * dy - vy * dx)
    ahead = (along > 0) & (across <= along)
    ahead[current] = False
    if not ahead.any():
        return None
    distance = np.where(ahead, along + 2.0 * across, np.inf)  # prefer points straight ahead
    return int(np.argmin(distance))


# Each cluster's look, in the order its batch and position put it; shared by the
# terminal map and the picture (the terminal picks the nearest of its own colours).
MARKERS = ("o", "s", "^", "D", "v", "P", "*", "X")
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


STYLE_COUNT = len(MARKERS) * len(COLOURS)


def cluster_styles(session: Session) -> dict[uuid.UUID, int]:
    """Each cluster's style (0..63): from its place among the session's clusters, so a new
    batch never changes the look of the old ones; past 64 clusters the looks repeat."""
    return {c.id: i % STYLE_COUNT for i, c in enumerate(session.clusters)}


def style_of(index: int) -> tuple[str, str]:
    """(marker, colour) of style ``index``: 8 markers x 8 colours, shifted so 64 differ."""
    return MARKERS[index % len(MARKERS)], COLOURS[(index + index // len(COLOURS)) % len(COLOURS)]
