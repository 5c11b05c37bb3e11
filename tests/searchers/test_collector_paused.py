"""BO's acquisition optimisation runs with the cyclic garbage collector paused, and creates no
reference cycles for it to find later."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
import pytest

from hnas.collector import collector_paused
from hnas.grammar import load_space
from hnas.searchers import make_searcher
from hnas.searchers.pools import AcquisitionProblem, PoolStrategy, RandomPool
from hnas.searchers.synthetic import op_quality_loss


@dataclass(frozen=True)
class Recording(PoolStrategy):
    """A random pool that records whether the collector ran during its search (or fails)."""

    fail: bool = False
    seen: list = None  # type: ignore[assignment]

    def propose(self, problem, observed):
        self.seen.append(gc.isenabled())
        if self.fail:
            raise RuntimeError("strategy failed")
        return RandomPool(self.pool_size).propose(problem, observed)


def _problem(space) -> AcquisitionProblem:
    return AcquisitionProblem(space, lambda trees: np.zeros(len(trees)), lambda tree: True, np.random.default_rng(0))


def test_the_collector_is_paused_while_a_strategy_searches_and_restored_after(cell_space):
    seen: list = []
    problem = _problem(cell_space)
    assert gc.isenabled()
    assert problem.solve(Recording(pool_size=5, seen=seen), []) is not None
    with pytest.raises(RuntimeError, match="strategy failed"):
        problem.solve(Recording(pool_size=5, fail=True, seen=seen), [])
    assert seen == [False, False] and gc.isenabled()
    gc.disable()  # a caller that paused it itself keeps it paused
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_bo_step_on_the_hierarchical_space_leaves_no_reference_cycles():
    """Everything a model-based ask creates is freed by refcounting: pausing the collector defers
    no garbage (graphs, WL features, GP, breeding, the pool)."""
    space = load_space("nb201_variable_multi_multi")
    rng = np.random.default_rng(0)
    searcher = make_searcher(
        "bayesian_optimization", space, seed=0, n_init=2, random_interleave_prob=0.0,
        pool_strategy="evolution", max_generations=3, min_generations=3,
    )  # fmt: skip
    for _ in range(12):
        tree = space.sample(rng)
        searcher.tell(tree, op_quality_loss(tree))
    searcher.ask()  # first calls: lazy imports and one-off caches
    gc.collect()
    gc.disable()
    try:
        tree = searcher.ask()
        assert searcher.last_source == "model"
        searcher.tell(tree, op_quality_loss(tree))
        searcher.ask()
        assert gc.collect() == 0
    finally:
        gc.enable()
