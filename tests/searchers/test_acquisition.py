"""Expected improvement and the acquisition optimisers, with real trees and known score functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from hnas.grammar.space import SearchSpace
from hnas.grammar.tree import Tree
from hnas.searchers import (
    AcquisitionProblem,
    EliteEvolutionPool,
    EvolutionPool,
    ExpectedImprovement,
    MutationPool,
    OptionsError,
    ProbabilityOfImprovement,
    RandomPool,
    SampledEliteEvolutionPool,
    UpperConfidenceBound,
)
from hnas.searchers.synthetic import op_quality_loss

STRATEGIES = {
    "evolution": EvolutionPool, "elite_evolution": EliteEvolutionPool, "sampled_elite": SampledEliteEvolutionPool,
    "random": RandomPool, "mutation": MutationPool,
}  # fmt: skip


def optimize_acquisition(strategy, problem, observed, p_self_crossover, pool_size=40):
    options = {"p_self_crossover": p_self_crossover} if issubclass(STRATEGIES[strategy], EvolutionPool) else {}
    return STRATEGIES[strategy](pool_size=pool_size, **options).propose(problem, observed)


MEAN, VAR, BEST = np.array([0.2, 0.5, 0.9]), np.array([0.04, 0.25, 0.01]), 0.45


def draws():
    rng = np.random.default_rng(0)
    return MEAN + np.sqrt(VAR) * rng.standard_normal((400_000, 3))


def test_expected_improvement_matches_monte_carlo():
    monte_carlo = np.maximum(BEST - 0.05 - draws(), 0.0).mean(0)
    ei = ExpectedImprovement(xi=0.05)(MEAN, VAR, BEST)
    np.testing.assert_allclose(ei, monte_carlo, rtol=0.02, atol=1e-4)


def test_probability_of_improvement_matches_monte_carlo():
    monte_carlo = (draws() < BEST - 0.1).mean(0)
    np.testing.assert_allclose(ProbabilityOfImprovement(xi=0.1)(MEAN, VAR, BEST), monte_carlo, atol=3e-3)


def test_upper_confidence_bound_is_the_negated_lower_bound():
    scores = UpperConfidenceBound(beta=4.0)(MEAN, VAR, BEST)
    np.testing.assert_allclose(scores, -(MEAN - 2.0 * np.sqrt(VAR)))


def test_expected_improvement_without_variance_is_the_plain_improvement():
    ei = ExpectedImprovement()(np.array([0.1, 0.5, 0.7]), np.zeros(3), best=0.5)
    np.testing.assert_allclose(ei, [0.4, 0.0, 0.0], atol=1e-8)  # variance floored at 1e-18


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ExpectedImprovement(xi=-1), "option xi must be a finite number >= 0.0"),
        (lambda: UpperConfidenceBound(beta=float("nan")), "option beta must be a finite number"),
        (lambda: EvolutionPool(pool_size=0), "option pool_size must be an integer >= 1"),
        (lambda: EvolutionPool(p_self_crossover=1.5), "option p_self_crossover must be a probability"),
        (lambda: EvolutionPool(min_generations=9, max_generations=3), "min_generations (9) must not exceed"),
        (lambda: SampledEliteEvolutionPool(n_random=-1), "option n_random must be an integer >= 0"),
    ],
)
def test_component_options_are_validated_where_they_are_declared(build, message):
    with pytest.raises(OptionsError) as info:
        build()
    assert message in str(info.value)


def quality(trees):
    return np.array([1.0 - op_quality_loss(t) for t in trees])


def problem_for(space, score=quality, is_allowed=lambda tree: True, seed=0):
    return AcquisitionProblem(space, score, is_allowed, np.random.default_rng(seed))


def test_evolution_improves_on_its_seeds_and_random_pool(cell_space):
    rng = np.random.default_rng(1)
    seeds = [cell_space.sample(rng) for _ in range(10)]
    evolved = optimize_acquisition("evolution", problem_for(cell_space), seeds, 0.5)
    random_best = optimize_acquisition("random", problem_for(cell_space), seeds, 0.5)
    assert quality([evolved])[0] > max(quality(seeds))
    assert quality([evolved])[0] >= quality([random_best])[0]


def improving_until(last: int) -> tuple[Callable[[list[Tree]], np.ndarray], list[int]]:
    """A scripted score and the sizes of the batches it scored. Batch k (0: the initial pool, k >= 1:
    generation k's new children) gives its first tree the score k while k <= ``last`` and every
    other tree -1, so the best score rises in exactly generations 1..``last``."""
    batches: list[int] = []

    def score(trees: list[Tree]) -> np.ndarray:
        values = np.full(len(trees), -1.0)
        if len(batches) <= last:
            values[0] = len(batches)
        batches.append(len(trees))
        return values

    return score, batches


@pytest.mark.parametrize(
    ("last_improvement", "generations"),
    [(0, 10), (3, 10), (7, 12), (12, 17), (1000, 50)],  # max(10, last + 5), at most 50
)
def test_evolution_stops_five_generations_after_the_last_improvement(
    cell_space, last_improvement, generations
):
    score, batches = improving_until(last_improvement)
    problem = problem_for(cell_space, score=score)
    best = optimize_acquisition("evolution", problem, [], 0.5)
    assert problem.generations == generations
    assert len(batches) == generations + 1  # every generation bred unscored children
    assert problem.best_allowed_score() == min(last_improvement, generations)
    assert problem.scores([best])[0] == problem.best_allowed_score()


def test_the_initial_pool_is_the_ten_best_observed_plus_random_samples(cell_space):
    rng = np.random.default_rng(8)
    observed = sorted({cell_space.sample(rng): None for _ in range(15)}, key=lambda t: -quality([t])[0])
    assert len(observed) == 15  # distinct, best first as the searcher passes them
    batches = []

    def recording(trees):
        batches.append(list(trees))
        return quality(trees)

    optimize_acquisition("evolution", problem_for(cell_space, score=recording, seed=9), observed, 0.5)
    samples = problem_for(cell_space, seed=9).random_samples(30)  # what the same generator samples
    assert batches[0] == observed[:10] + samples


class RecordedStart(SampledEliteEvolutionPool):
    """The sampled elite, keeping the pool its generations started from."""

    def _evolve(self, problem, pool, pool_scores):
        object.__setattr__(self, "start", (pool, pool_scores.tolist()))
        return super()._evolve(problem, pool, pool_scores)


def test_the_sampled_elite_starts_from_the_best_seeds_and_samples(cell_space):
    rng = np.random.default_rng(8)
    observed = sorted({cell_space.sample(rng): None for _ in range(15)}, key=lambda t: -quality([t])[0])
    batches = []

    def recording(trees):
        batches.append(list(trees))
        return quality(trees)

    strategy = RecordedStart(n_random=30, min_generations=3, max_generations=3)
    strategy.propose(problem_for(cell_space, score=recording, seed=9), observed)
    candidates = observed[:3] + problem_for(cell_space, seed=9).random_samples(30)
    assert batches[0] == candidates
    ranked = sorted(candidates, key=lambda t: -quality([t])[0])  # stable: the first met on ties
    assert strategy.start == (ranked[:5], quality(ranked[:5]).tolist())
    assert len(batches) == 4  # the initial candidates, then 3 generations of children


def test_the_sampled_elite_runs_every_generation_on_a_flat_score(cell_space):
    problem = problem_for(cell_space, score=lambda trees: np.zeros(len(trees)), seed=5)
    SampledEliteEvolutionPool().propose(problem, [])
    assert problem.generations == 140  # no patience stop: evolution stops after 10 on a flat score


class CountingSpace(SearchSpace):
    """A real search space that counts the edits asked of it, each delegated to the real one.

    ``calls`` counts ``mutate``, ``crossover`` and ``self_crossover`` calls; a crossover with no
    compatible pair (the optimiser then mutates instead) also counts as ``*_none``.
    """

    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space.grammar, space.name)
        self.calls: Counter[str] = Counter()

    def mutate(self, tree: Tree, rng: np.random.Generator) -> Tree:
        self.calls["mutate"] += 1
        return super().mutate(tree, rng)

    def crossover(self, a: Tree, b: Tree, rng: np.random.Generator) -> tuple[Tree, Tree] | None:
        pair = super().crossover(a, b, rng)
        self.calls["crossover"] += 1
        self.calls["crossover_none"] += pair is None
        return pair

    def self_crossover(self, tree: Tree, rng: np.random.Generator) -> Tree | None:
        child = super().self_crossover(tree, rng)
        self.calls["self_crossover"] += 1
        self.calls["self_crossover_none"] += child is None
        return child

    def choices(self) -> tuple[int, int, int]:
        """How often the optimiser chose crossover, self-crossover and mutation."""
        fallbacks = self.calls["crossover_none"] + self.calls["self_crossover_none"]
        return self.calls["crossover"], self.calls["self_crossover"], self.calls["mutate"] - fallbacks


def run_counted(cell_space: SearchSpace, p_self_crossover: float) -> tuple[int, int, int]:
    """The edit choices of one evolution on a flat score (exactly 10 generations of 50 children)."""
    space = CountingSpace(cell_space)
    flat = problem_for(space, score=lambda trees: np.zeros(len(trees)), seed=4)
    optimize_acquisition("evolution", flat, [], p_self_crossover, pool_size=200)
    assert flat.generations == 10
    return space.choices()


@pytest.mark.parametrize("p_self_crossover", [0.0, 1.0])
def test_p_self_crossover_routes_every_crossover(cell_space, p_self_crossover):
    crossover, self_crossover, mutation = run_counted(cell_space, p_self_crossover)
    assert mutation > 0
    if p_self_crossover == 0.0:
        assert crossover > 0 and self_crossover == 0
    else:
        assert crossover == 0 and self_crossover > 0


def test_half_of_the_edits_are_crossovers_and_half_of_those_self_crossovers(cell_space):
    crossover, self_crossover, mutation = run_counted(cell_space, 0.5)
    total = crossover + self_crossover + mutation  # ~330 choices: 0.5 +- 0.1 is 3.6 sigma
    assert 0.4 < (crossover + self_crossover) / total < 0.6
    assert 0.35 < self_crossover / (crossover + self_crossover) < 0.65


@pytest.mark.parametrize("strategy", list(STRATEGIES))
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
