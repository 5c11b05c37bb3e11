"""Pareto utilities for minimisation, in pure numpy: dominance, non-dominated sorting (NSGA-II),
crowding distance and the exact hypervolume.

Points are rows of an ``(n, m)`` array, every objective minimised. ``a`` dominates ``b`` when it is
no worse in every objective and better in at least one. The hypervolume of a set is the volume of
the region it dominates and that dominates the reference point (points not strictly better than
the reference in every objective add nothing). It is exact for any number of objectives: two
objectives by one sweep (O(n log n)), more by slicing along the last objective and recursing on
the rest (the HSO algorithm, While et al. 2006; O(n^(m-1)) slices: fine for the few hundred points
of a search with 3 or 4 objectives).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "dominates",
    "pareto_mask",
    "non_dominated_sort",
    "nsga2_order",
    "crowding_distance",
    "hypervolume",
    "hypervolume_trace",
]


def _points(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    array = np.asarray(points, dtype=float)
    if array.ndim == 1 and array.size == 0:
        return array.reshape(0, 0)
    if array.ndim != 2:
        raise ValueError(f"points must be a 2-D array (one row per point), got shape {array.shape}")
    return array


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether ``a`` dominates ``b`` (no worse everywhere, better somewhere; minimisation)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(a <= b) and np.any(a < b))


def _dominance(points: np.ndarray) -> np.ndarray:
    """``d[i, j]``: point i dominates point j."""
    le = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    lt = np.any(points[:, None, :] < points[None, :, :], axis=2)
    return le & lt


def pareto_mask(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated points (duplicates of a non-dominated point all count)."""
    points = _points(points)
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    return ~_dominance(points).any(axis=0)


def non_dominated_sort(points: Sequence[Sequence[float]] | np.ndarray) -> list[np.ndarray]:
    """The fronts of NSGA-II's non-dominated sorting: index arrays (ascending), the first front
    non-dominated, each next one non-dominated once the earlier fronts are removed."""
    points = _points(points)
    dominance = _dominance(points)
    remaining = dominance.sum(axis=0)  # how many points not yet in a front dominate each point
    fronts: list[np.ndarray] = []
    done = np.zeros(len(points), dtype=bool)
    while not done.all():
        front = np.flatnonzero((remaining == 0) & ~done)
        fronts.append(front)
        done[front] = True
        remaining -= dominance[front].sum(axis=0)
    return fronts


def crowding_distance(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each point within the set given (normally one front): per
    objective, the gap between its two neighbours in sorted order divided by the objective's
    range, summed; the extreme points of every objective get ``inf``. Ties keep index order."""
    points = _points(points)
    n = len(points)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for column in points.T:
        order = np.argsort(column, kind="stable")
        span = column[order[-1]] - column[order[0]]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (column[order[2:]] - column[order[:-2]]) / span
    return distance


def hypervolume(points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float]) -> float:
    """The exact hypervolume dominated by ``points`` and bounded by ``reference`` (minimisation)."""
    points = _points(points)
    reference = np.asarray(reference, dtype=float)
    if len(points) == 0:
        return 0.0
    if points.shape[1] != len(reference):
        raise ValueError(f"points have {points.shape[1]} objectives, the reference point {len(reference)}")
    inside = points[np.all(points < reference, axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(_hso(inside[pareto_mask(inside)], reference))


def _hso(points: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume of mutually non-dominated ``points``, all strictly inside ``reference``."""
    if points.shape[1] == 1:
        return float(reference[0] - points[:, 0].min())
    if points.shape[1] == 2:
        order = np.lexsort((points[:, 1], points[:, 0]))  # by x, then y
        volume, best_y = 0.0, reference[1]
        xs, ys = points[order, 0], points[order, 1]
        for i in range(len(xs)):  # sweep x upwards: each new lower y adds a strip to the right
            if ys[i] < best_y:
                volume += (reference[0] - xs[i]) * (best_y - ys[i])
                best_y = ys[i]
        return volume
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    volume = 0.0
    for i in range(len(points)):  # slice between this point's last objective and the next one's
        top = points[i + 1, -1] if i + 1 < len(points) else reference[-1]
        depth = top - points[i, -1]
        if depth > 0:
            head = points[: i + 1, :-1]
            volume += depth * _hso(head[pareto_mask(head)], reference[:-1])
    return volume


def hypervolume_trace(points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """The hypervolume of the first k points, for k = 1..n (the search's progress curve)."""
    points = _points(points)
    trace = np.zeros(len(points))
    front = np.zeros((0, len(reference)))
    value = 0.0
    for k, point in enumerate(points):
        if not (np.all(point < reference) and not np.any(np.all(front <= point, axis=1))):
            trace[k] = value  # outside the reference box or weakly dominated: nothing changes
            continue
        front = np.vstack([front[~np.all(point <= front, axis=1)], point])
        value = hypervolume(front, reference)
        trace[k] = value
    return trace


def nsga2_order(points: Sequence[Sequence[float]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NSGA-II's ranking of ``points``: each point's front number (lower is better) and its
    crowding distance within its front (higher is better, to break ties)."""
    points = _points(points)
    ranks = np.zeros(len(points), dtype=int)
    crowding = np.zeros(len(points))
    for rank, front in enumerate(non_dominated_sort(points)):
        ranks[front] = rank
        crowding[front] = crowding_distance(points[front])
    return ranks, crowding
