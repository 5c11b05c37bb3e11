"""AcquisitionProblem keeps the best allowed tree while checking only the best new candidates."""

from __future__ import annotations

import math

import numpy as np

from hnas.grammar import load_space
from hnas.searchers.pools import AcquisitionProblem


def sequential_best(batches: list[list], values: dict, allowed: set) -> tuple[object, float]:
    """The reference: every new tree checked in the order met (the first met wins ties)."""
    best, best_score, seen = None, -math.inf, set()
    for batch in batches:
        for tree in dict.fromkeys(batch):
            if tree in seen:
                continue
            seen.add(tree)
            if values[tree] > best_score and tree in allowed:
                best, best_score = tree, values[tree]
    return best, best_score


def test_best_allowed_equals_checking_every_tree_in_order() -> None:
    space = load_space("nb201_fixed_1_none")
    rng = np.random.default_rng(0)
    trees = list(dict.fromkeys(space.sample(rng) for _ in range(300)))
    # Few distinct scores (ties), some NaN, a third of the trees not allowed.
    values = {t: float(v) for t, v in zip(trees, rng.integers(0, 6, len(trees)))}
    for t in trees[::17]:
        values[t] = math.nan
    allowed = {t for i, t in enumerate(trees) if i % 3}
    checked: list = []

    def is_allowed(tree: object) -> bool:
        checked.append(tree)
        return tree in allowed

    problem = AcquisitionProblem(space, lambda ts: np.array([values[t] for t in ts]), is_allowed, rng)
    batches = [list(rng.choice(len(trees), size=40)) for _ in range(12)]
    batches = [[trees[i] for i in batch] for batch in batches]
    for k, batch in enumerate(batches):
        problem.scores(batch)
        best, score = sequential_best(batches[: k + 1], values, allowed)
        assert problem.best_allowed() is best and problem.best_allowed_score() == score
    assert len(checked) < len({t for b in batches for t in b}) // 3  # only candidates that could win
