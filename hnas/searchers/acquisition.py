"""Expected improvement and the optimisers that maximise it over trees (BANAT's acquisition step).

An acquisition optimiser gets ``score`` (trees -> expected improvement, batched) and returns the
best-scoring tree that ``is_allowed``; scores are cached per tree within one optimisation, so a
tree met twice is predicted once. Three pool strategies:

- ``evolution``: a pool of the best observed trees plus random samples evolves for 10 to 50
  generations (stopping once the best score has not changed for 5). Each generation breeds
  ``pool_size / 4`` children: parents are chosen by tournament over 20% of the pool, children
  come from crossover (probability 0.5; of which self-crossover with probability
  ``p_self_crossover``) or else mutation, and the pool keeps its best ``pool_size`` members
  (parents and children together). A quarter of the pool per generation keeps a step at n = 50
  within seconds on the hierarchical space (scoring a new tree costs a few milliseconds of graph
  building and WL features); breeding a whole pool per generation scores ~4x more trees for a
  slightly higher EI.
- ``random``: a pool of random samples.
- ``mutation``: mutants of the incumbent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr

from hnas.grammar.tree import Tree

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["expected_improvement", "AcquisitionProblem", "optimize_acquisition", "EvolutionSettings"]

Score = Callable[[list[Tree]], np.ndarray]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def expected_improvement(mean: np.ndarray, var: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """EI for minimisation: E[max(best - xi - f, 0)] with f ~ N(mean, var)."""
    mean = np.asarray(mean, dtype=float)
    sigma = np.sqrt(np.maximum(np.asarray(var, dtype=float), 1e-18))
    gain = best - xi - mean
    z = gain / sigma
    return np.maximum(gain * ndtr(z) + sigma * _INV_SQRT_2PI * np.exp(-0.5 * z * z), 0.0)


@dataclass(frozen=True)
class EvolutionSettings:
    """Constants of the evolutionary acquisition optimiser (SPEC §6)."""

    n_best: int = 10  # observed trees seeding the pool
    min_generations: int = 10
    max_generations: int = 50
    patience: int = 5  # generations without a change of the best score before stopping
    tournament_fraction: float = 0.2
    p_crossover: float = 0.5
    offspring_fraction: float = 0.25  # children bred per generation, as a fraction of the pool


@dataclass
class AcquisitionProblem:
    """What an acquisition optimiser works on: the space, the scorer and the trees it may not return."""

    space: SearchSpace
    score: Score
    is_allowed: Callable[[Tree], bool]
    rng: np.random.Generator
    pool_size: int

    def __post_init__(self) -> None:
        self._cache: dict[Tree, float] = {}
        self._best: Tree | None = None  # highest-scoring allowed tree met so far (first met on ties)
        self._best_score = -math.inf
        self.generations = 0  # generations the evolutionary optimiser ran

    @property
    def n_scored(self) -> int:
        """Distinct trees scored so far (each predicted once)."""
        return len(self._cache)

    def scores(self, trees: Sequence[Tree]) -> np.ndarray:
        """Scores of ``trees``, computing only those not met before (in one batch)."""
        new = [t for t in dict.fromkeys(trees) if t not in self._cache]
        if new:
            values = np.asarray(self.score(new), dtype=float).tolist()
            for tree, value in zip(new, values):
                self._cache[tree] = value
                if value > self._best_score and self.is_allowed(tree):
                    self._best, self._best_score = tree, value
        return np.array([self._cache[t] for t in trees], dtype=float)

    def best_allowed(self) -> Tree | None:
        """The highest-scoring allowed tree met so far (the first met on ties), if any."""
        return self._best

    def best_allowed_score(self) -> float:
        return self._best_score

    def random_samples(self, n: int) -> list[Tree]:
        """Up to ``n`` distinct allowed random samples (fewer when the space runs out)."""
        out: dict[Tree, None] = {}
        for _ in range(4 * n):
            if len(out) >= n:
                break
            tree = self.space.sample(self.rng)
            if self.is_allowed(tree):
                out[tree] = None
        return list(out)


def _tournament(pool: list[Tree], pool_scores: np.ndarray, size: int, rng: np.random.Generator) -> Tree:
    picks = rng.choice(len(pool), size=min(size, len(pool)), replace=False)
    return pool[max(picks, key=lambda i: (pool_scores[i], -i))]


def _offspring(
    problem: AcquisitionProblem,
    pool: list[Tree],
    pool_scores: np.ndarray,
    p_self_crossover: float,
    settings: EvolutionSettings,
) -> list[Tree]:
    space, rng = problem.space, problem.rng
    size = max(2, math.ceil(settings.tournament_fraction * len(pool)))
    n_children = max(1, round(settings.offspring_fraction * problem.pool_size))
    children: list[Tree] = []
    while len(children) < n_children:
        parent = _tournament(pool, pool_scores, size, rng)
        if rng.random() < settings.p_crossover:
            if rng.random() < p_self_crossover:
                child = space.self_crossover(parent, rng)
                if child is not None:
                    children.append(child)
                    continue
            else:
                pair = space.crossover(parent, _tournament(pool, pool_scores, size, rng), rng)
                if pair is not None:
                    children.extend(pair)
                    continue
        children.append(space.mutate(parent, rng))  # also when no compatible crossover exists
    return children


def evolve(
    problem: AcquisitionProblem,
    seeds: Sequence[Tree],
    p_self_crossover: float,
    settings: EvolutionSettings = EvolutionSettings(),
) -> Tree | None:
    """Evolve a pool of ``seeds`` plus random samples towards high scores; the best allowed tree."""
    pool = list(dict.fromkeys(seeds))[: problem.pool_size]
    pool += problem.random_samples(problem.pool_size - len(pool))
    if not pool:  # no seeds and no unseen sample: nothing to breed from
        return None
    pool_scores = problem.scores(pool)
    best, unchanged = problem.best_allowed_score(), 0
    for generation in range(1, settings.max_generations + 1):
        children = _offspring(problem, pool, pool_scores, p_self_crossover, settings)
        merged = list(dict.fromkeys(pool + children))
        merged_scores = problem.scores(merged)
        keep = np.argsort(-merged_scores, kind="stable")[: problem.pool_size]
        pool, pool_scores = [merged[i] for i in keep], merged_scores[keep]
        score = problem.best_allowed_score()
        unchanged = unchanged + 1 if score == best else 0
        best = score
        problem.generations = generation
        if generation >= settings.min_generations and unchanged >= settings.patience:
            break
    return problem.best_allowed()


def random_pool(problem: AcquisitionProblem) -> Tree | None:
    """The best of ``pool_size`` random samples."""
    problem.scores(problem.random_samples(problem.pool_size))
    return problem.best_allowed()


def mutation_pool(problem: AcquisitionProblem, incumbent: Tree) -> Tree | None:
    """The best of ``pool_size`` mutants of the incumbent."""
    problem.scores([problem.space.mutate(incumbent, problem.rng) for _ in range(problem.pool_size)])
    return problem.best_allowed()


def optimize_acquisition(
    strategy: str,
    problem: AcquisitionProblem,
    observed: Sequence[Tree],
    p_self_crossover: float,
) -> Tree | None:
    """Run pool strategy ``strategy``; ``observed`` are evaluated trees sorted best first.

    Returns ``None`` when no allowed tree was met (the caller falls back to a random sample).
    """
    if strategy == "evolution":
        return evolve(problem, observed[: EvolutionSettings.n_best], p_self_crossover)
    if strategy == "random":
        return random_pool(problem)
    if strategy == "mutation":
        return mutation_pool(problem, observed[0])
    raise ValueError(f"unknown pool strategy {strategy!r}")
