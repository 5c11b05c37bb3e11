"""The searchers actually search: random search samples the space uniformly, and on a known function
of the tree the guided searchers beat random sampling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import chisquare

from hnas.grammar.errors import GrammarError
from hnas.grammar.tree import Tree
from hnas.searchers import make_searcher
from hnas.searchers.synthetic import op_quality_loss

from searcher_helpers import drive

CELL_OPS = ("id", "zero", "conv3x3", "conv1x1", "avg_pool")


def cell_ops(tree: Tree) -> tuple[str, ...]:
    """The six edge operations of the shared cell of an ``nb201_fixed_1_none`` network."""
    cell = next(node for node in tree.walk() if node.symbol == "CELL")
    return tuple(edge.op for edge in cell.children)


@pytest.fixture(scope="module")
def valid_cells(cell_space) -> list[tuple[str, ...]]:
    """All cells the space accepts, by enumerating the 5^6 edge labellings and parsing each."""
    valid = []
    for ops in itertools.product(CELL_OPS, repeat=6):
        try:
            cell_space.parse("(CELL Cell " + " ".join(f"(OPS {op})" for op in ops) + ")")
        except GrammarError:
            continue
        valid.append(ops)
    return valid


def test_random_search_asks_the_spaces_own_samples_and_keeps_the_best(cell_space):
    searcher = make_searcher("random_search", cell_space, seed=4, canonical_key="none")  # trees, not keys
    asked = drive(searcher, op_quality_loss, 300)
    rng = np.random.default_rng(4)  # the same seed: the searcher draws nothing but samples
    expected: dict[Tree, None] = {}
    while len(expected) < len(asked):
        expected.setdefault(cell_space.sample(rng))
    assert asked == list(expected)  # every sample in order, a repeat skipped
    best = min(asked, key=op_quality_loss)  # the earliest on ties, like the incumbent
    assert searcher.incumbent == (best, op_quality_loss(best))


def test_random_search_is_uniform_over_the_valid_cells(cell_space, valid_cells):
    """Equal production weights under the zero constraint = uniform over the 15,284 valid cells, so
    each edge's operation and the number of zero edges follow the exact frequencies of the
    enumerated cells. (Few enough asks that skipping repeats does not by itself even them out.)"""
    assert len(valid_cells) == cell_space.count() == 15_284
    n = 3000
    searcher = make_searcher("random_search", cell_space, seed=5, canonical_key="none")
    asked = [cell_ops(searcher.ask()) for _ in range(n)]
    assert len(set(asked)) == n and set(asked) <= set(valid_cells)
    exact = np.array(valid_cells)
    for edge in range(6):
        observed = [sum(ops[edge] == op for ops in asked) for op in CELL_OPS]
        expected = [n * np.mean(exact[:, edge] == op) for op in CELL_OPS]
        assert chisquare(observed, expected).pvalue > 1e-3, (edge, observed, expected)
    zeros = np.minimum([ops.count("zero") for ops in asked], 4)  # 4 and 5 zeros pooled: 116 cells
    exact_zeros = np.minimum((exact == "zero").sum(1), 4)
    observed = np.bincount(zeros, minlength=5)
    expected = n * np.bincount(exact_zeros, minlength=5) / len(exact)
    assert chisquare(observed, expected).pvalue > 1e-3, (observed, expected)


@pytest.fixture(scope="module")
def random_median(cell_space):
    rng = np.random.default_rng(12345)
    return float(np.median([op_quality_loss(cell_space.sample(rng)) for _ in range(500)]))


@pytest.mark.parametrize(
    ("name", "options", "n_random"),
    [
        ("regularized_evolution", {"population_size": 10, "sample_size": 4}, 10),
        ("bayesian_optimization", {"n_init": 6, "pool_size": 40}, 6),
    ],
)
def test_each_guided_searcher_beats_the_median_of_random_samples(
    cell_space, random_median, name, options, n_random
):
    searcher = make_searcher(name, cell_space, seed=2, **options)
    asked = drive(searcher, op_quality_loss, 30)
    assert searcher.incumbent[1] < random_median
    guided = [op_quality_loss(tree) for tree in asked[n_random:]]  # proposed after the random start
    assert np.median(guided) < random_median  # what the model / the evolution proposes, not just its best


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
