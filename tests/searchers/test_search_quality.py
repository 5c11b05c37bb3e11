"""The searchers actually search: on a known function of the tree they beat random sampling."""

from __future__ import annotations

import numpy as np
import pytest

from hnas.searchers import make_searcher
from hnas.searchers.synthetic import op_quality_loss

from searcher_helpers import drive


@pytest.fixture(scope="module")
def random_median(cell_space):
    rng = np.random.default_rng(12345)
    return float(np.median([op_quality_loss(cell_space.sample(rng)) for _ in range(500)]))


@pytest.mark.parametrize(
    ("name", "options", "n_random"),
    [
        ("random_search", {}, 30),
        ("regularized_evolution", {"population_size": 10, "sample_size": 4}, 10),
        ("bayesian_optimization", {"n_init": 6, "pool_size": 40}, 6),
    ],
)
def test_each_searcher_beats_the_median_of_random_samples(cell_space, random_median, name, options, n_random):
    searcher = make_searcher(name, cell_space, seed=2, **options)
    asked = drive(searcher, op_quality_loss, 30)
    assert searcher.incumbent[1] < random_median
    guided = [op_quality_loss(tree) for tree in asked[n_random:]]
    if guided:  # what the model / the evolution proposes is better than random, not just its best
        assert np.median(guided) < random_median


def test_bo_reaches_a_better_mean_incumbent_than_random_search(cell_space):
    budget, seeds = 20, range(4)
    incumbents = {}
    for name, options in [("random_search", {}), ("bayesian_optimization", {"n_init": 6, "pool_size": 40})]:
        incumbents[name] = [
            drive_best(make_searcher(name, cell_space, seed=seed, **options), budget) for seed in seeds
        ]
    assert np.mean(incumbents["bayesian_optimization"]) < np.mean(incumbents["random_search"])


def drive_best(searcher, budget: int) -> float:
    drive(searcher, op_quality_loss, budget)
    return searcher.incumbent[1]


@pytest.mark.parametrize("strategy", ["random", "mutation"])
def test_other_pool_strategies_also_beat_random_sampling(cell_space, random_median, strategy):
    searcher = make_searcher(
        "bayesian_optimization", cell_space, seed=7, n_init=6, pool_size=40, pool_strategy=strategy
    )
    asked = drive(searcher, op_quality_loss, 16)
    assert np.median([op_quality_loss(tree) for tree in asked[6:]]) < random_median
