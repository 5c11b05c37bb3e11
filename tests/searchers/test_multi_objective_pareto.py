"""hnas.pareto against brute force computed independently (python loops, grid cells)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hnas.pareto import (
    crowding_distance,
    dominates,
    hypervolume,
    hypervolume_trace,
    non_dominated_sort,
    pareto_mask,
    nsga2_order,
)


def _brute_dominates(a, b) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def _brute_fronts(points) -> list[list[int]]:
    left = list(range(len(points)))
    fronts = []
    while left:
        front = [i for i in left if not any(_brute_dominates(points[j], points[i]) for j in left if j != i)]
        fronts.append(front)
        left = [i for i in left if i not in front]
    return fronts


def _grid_hypervolume(points, reference) -> float:
    """Sum of the grid cells (between consecutive distinct coordinates) whose lower corner some
    point weakly dominates: exact, and independent of the sweep / slicing algorithms."""
    axes = []
    for d, r in enumerate(reference):
        coords = sorted({p[d] for p in points if p[d] < r} | {r})
        axes.append(coords)
    total = 0.0
    for cell in itertools.product(*(range(len(a) - 1) for a in axes)):
        low = [axes[d][i] for d, i in enumerate(cell)]
        high = [axes[d][i + 1] for d, i in enumerate(cell)]
        if any(all(p[d] <= low[d] for d in range(len(low))) and all(p[d] < reference[d] for d in range(len(low)))
               for p in points):
            total += float(np.prod(np.subtract(high, low)))
    return total


@pytest.mark.parametrize("m,n,seed", [(2, 30, 0), (2, 12, 1), (3, 15, 2), (3, 25, 3), (4, 10, 4)])
def test_sorting_and_hypervolume_match_brute_force(m: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 8, size=(n, m)).astype(float)  # small integers: ties and duplicates
    fronts = non_dominated_sort(points)
    assert [list(f) for f in fronts] == _brute_fronts(points.tolist())
    assert pareto_mask(points).tolist() == [i in _brute_fronts(points.tolist())[0] for i in range(n)]
    ranks, crowding = nsga2_order(points)
    for rank, front in enumerate(fronts):
        assert (ranks[front] == rank).all()
        assert crowding[front] == pytest.approx(crowding_distance(points[front]))
    reference = [7.5] * m  # some points lie outside the box
    assert hypervolume(points, reference) == pytest.approx(_grid_hypervolume(points.tolist(), reference))


def test_hypervolume_by_hand() -> None:
    # two boxes [1,4]x[2,4] and [3,4]x[0,4] overlapping in [3,4]x[2,4]: 6 + 4 - 2
    assert hypervolume([[1, 2], [3, 0]], [4, 4]) == pytest.approx(8.0)
    assert hypervolume([[1, 1, 1]], [2, 3, 4]) == pytest.approx(1 * 2 * 3)
    assert hypervolume([[5, 0]], [4, 4]) == 0.0  # outside the reference box
    assert hypervolume(np.zeros((0, 2)), [1, 1]) == 0.0
    assert dominates([1, 2], [1, 3]) and not dominates([1, 3], [1, 3]) and not dominates([0, 4], [1, 3])


def test_hypervolume_trace_is_the_prefix_hypervolume() -> None:
    rng = np.random.default_rng(7)
    points = rng.random((20, 3))
    reference = [0.9, 0.9, 0.9]
    trace = hypervolume_trace(points, reference)
    expected = [_grid_hypervolume(points[: k + 1].tolist(), reference) for k in range(len(points))]
    assert trace == pytest.approx(expected)
    assert np.all(np.diff(trace) >= 0)


def test_crowding_distance_by_hand() -> None:
    points = np.array([[0.0, 4.0], [1.0, 2.0], [2.0, 1.5], [4.0, 0.0]])
    distance = crowding_distance(points)
    assert np.isinf(distance[0]) and np.isinf(distance[3])
    # point 1: x neighbours 0 and 2 over range 4, y neighbours 1.5 and 4 over range 4
    assert distance[1] == pytest.approx((2 - 0) / 4 + (4 - 1.5) / 4)
    assert distance[2] == pytest.approx((4 - 1) / 4 + (2 - 0) / 4)
    assert np.isinf(crowding_distance(points[:2])).all()
