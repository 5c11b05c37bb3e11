"""Expected improvement and the acquisition optimisers, with real trees and known score functions."""

from __future__ import annotations

import numpy as np
import pytest

from hnas.searchers.acquisition import AcquisitionProblem, expected_improvement, optimize_acquisition
from hnas.searchers.synthetic import op_quality_loss


def test_expected_improvement_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mean, var, best = np.array([0.2, 0.5, 0.9]), np.array([0.04, 0.25, 0.01]), 0.45
    draws = mean + np.sqrt(var) * rng.standard_normal((400_000, 3))
    monte_carlo = np.maximum(best - draws, 0.0).mean(0)
    np.testing.assert_allclose(expected_improvement(mean, var, best), monte_carlo, rtol=0.02, atol=1e-4)


def test_expected_improvement_without_variance_is_the_plain_improvement():
    ei = expected_improvement(np.array([0.1, 0.5, 0.7]), np.zeros(3), best=0.5)
    np.testing.assert_allclose(ei, [0.4, 0.0, 0.0], atol=1e-8)  # variance floored at 1e-18


def quality(trees):
    return np.array([1.0 - op_quality_loss(t) for t in trees])


def problem_for(space, score=quality, is_allowed=lambda tree: True, seed=0, pool_size=40):
    return AcquisitionProblem(space, score, is_allowed, np.random.default_rng(seed), pool_size)


def test_evolution_improves_on_its_seeds_and_random_pool(cell_space):
    rng = np.random.default_rng(1)
    seeds = [cell_space.sample(rng) for _ in range(10)]
    evolved = optimize_acquisition("evolution", problem_for(cell_space), seeds, 0.5)
    random_best = optimize_acquisition("random", problem_for(cell_space), seeds, 0.5)
    assert quality([evolved])[0] > max(quality(seeds))
    assert quality([evolved])[0] >= quality([random_best])[0]


def test_evolution_stops_after_five_generations_without_change_but_not_before_ten(cell_space):
    flat = problem_for(cell_space, score=lambda trees: np.zeros(len(trees)))
    optimize_acquisition("evolution", flat, [], 0.5)
    assert flat.generations == 10
    graded = problem_for(cell_space)
    optimize_acquisition("evolution", graded, [], 0.5)
    assert 10 <= graded.generations <= 50


@pytest.mark.parametrize("strategy", ["evolution", "random", "mutation"])
def test_disallowed_trees_are_never_returned(cell_space, strategy):
    rng = np.random.default_rng(2)
    seeds = [cell_space.sample(rng) for _ in range(10)]
    first = optimize_acquisition(strategy, problem_for(cell_space, seed=3), seeds, 0.5)
    banned = {first}
    second = optimize_acquisition(
        strategy, problem_for(cell_space, is_allowed=lambda t: t not in banned, seed=3), seeds, 0.5
    )
    assert second is not None and second != first


def test_each_tree_is_scored_once(cell_space):
    scored = []

    def recording(trees):
        scored.extend(trees)
        return quality(trees)

    problem = problem_for(cell_space, score=recording)
    optimize_acquisition("evolution", problem, [], 0.5)
    assert len(scored) == len(set(scored)) == problem.n_scored
