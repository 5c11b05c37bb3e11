"""Pool strategies: the optimisers that search the space for the tree maximising the acquisition.

A pool strategy is a frozen dataclass (its fields are its options, validated in
``__post_init__``) deriving from :class:`PoolStrategy`; ``strategy.propose(problem, observed)``
gets an :class:`AcquisitionProblem` (the space, the batched scorer, which trees are allowed, the
searcher's generator) and the evaluated trees best first, and returns the best allowed tree it met
(``None`` if none: the searcher then falls back to a random sample). Scores are cached per tree
within one problem, so a tree met twice is predicted once. Register your own with
:func:`hnas.searchers.register_pool_strategy`. Searchers run a strategy through
:meth:`AcquisitionProblem.solve`, with the cyclic garbage collector paused.

- ``evolution``: a pool of the ``n_best`` best observed trees plus random samples evolves for
  ``min_generations`` to ``max_generations`` generations (stopping once the best score of a fresh
  tree has not changed for ``patience``: see :meth:`AcquisitionProblem.best_fresh_score`). Each
  generation breeds ``offspring_fraction * pool_size`` children:
  parents are chosen by tournament over ``tournament_fraction`` of the pool, children come from
  crossover (probability ``p_crossover``; of which self-crossover with probability
  ``p_self_crossover``) or else mutation, and the pool keeps its best ``pool_size`` members
  (parents and children together). Its defaults are the paper's optimiser (SPEC §6), except that
  a generation breeds a quarter of the pool rather than all of it.
- ``elite_evolution``: the same evolution with a small pool under strong selection (5 trees, the
  3 best observed among them; 5 children per generation from tournaments of 2; up to 200
  generations, stopping after 20 without a change). On the hierarchical space it reaches a higher
  expected improvement with ~1,000 scored trees than ``evolution`` with ~2,700 (10 of 10 seeds),
  but BO searched worse with it on NAS-Bench-Graph (it explores less): a faster option, not the
  default (docs/searchers.md).
- ``sampled_elite``: the elite started from the best ``pool_size`` of the ``n_best`` best observed
  trees and ``n_random`` (100) random samples, evolved for exactly 140 generations (no patience
  stop: on a small space such as NAS-Bench-Graph's the elite otherwise stops after ~100 trees and
  searches too narrowly). ~830 trees per step on the hierarchical space; a higher EI than
  ``evolution`` there (7 of 10 seeds) in half the step time, and a regret level with
  ``evolution``'s over NAS-Bench-Graph cora, citeseer and photo and the synthetic objective on the
  hierarchical space (paired seeds; both kernels on NAS-Bench-Graph): an option, not the default
  (docs/searchers.md).
- ``random``: a pool of ``pool_size`` random samples.
- ``mutation``: ``pool_size`` mutants of the incumbent.
"""

from __future__ import annotations

import heapq
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hnas.collector import collector_paused
from hnas.grammar.tree import Tree
from hnas.searchers.options import OptionsError, check_int, check_probability

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace
    from hnas.searchers.base import Searcher

__all__ = [
    "AcquisitionProblem", "PoolStrategy", "EvolutionPool", "EliteEvolutionPool", "SampledEliteEvolutionPool",
    "RandomPool", "MutationPool",
]  # fmt: skip

Score = Callable[[list[Tree]], np.ndarray]


@dataclass
class AcquisitionProblem:
    """What a pool strategy works on: the space, the scorer and the trees it may not return.

    ``is_allowed`` decides whether a tree may be returned (it may be costly: a canonical graph key)
    and is asked lazily, when the best allowed tree is asked for, best first, only until one is
    allowed; ``is_fresh`` (optional) is a cheap necessary condition for it (e.g. not equal to a
    told or pending tree), asked of every tree that could be the best, and the only check of
    random samples."""

    space: SearchSpace
    score: Score
    is_allowed: Callable[[Tree], bool]
    rng: np.random.Generator
    is_fresh: Callable[[Tree], bool] | None = None

    @classmethod
    def of_searcher(cls, searcher: Searcher, score: Score) -> AcquisitionProblem:
        """The problem of finding, in ``searcher``'s space with its generator, the best-scoring tree
        that ``searcher`` does not know (:meth:`~hnas.searchers.base.Searcher.is_known`)."""
        return cls(
            searcher.space, score, lambda tree: not searcher.is_known(tree), searcher.rng,
            is_fresh=lambda tree: not searcher.is_known_tree(tree),
        )  # fmt: skip

    def __post_init__(self) -> None:
        self._cache: dict[Tree, float] = {}
        self._best: Tree | None = None  # highest-scoring allowed tree met so far (first met on ties)
        self._best_score = -math.inf
        # fresh trees met since, scoring above the best, not yet checked: a heap of (-score, order met, tree)
        self._contenders: list[tuple[float, int, Tree]] = []
        self.generations = 0  # generations the evolutionary optimiser ran

    def solve(self, strategy: PoolStrategy, observed: Sequence[Tree]) -> Tree | None:
        """``strategy.propose(self, observed)`` with Python's cyclic garbage collector paused
        (:func:`hnas.collector.collector_paused`): an acquisition step creates ~10^5 long-lived
        objects and no reference cycle. A user's strategy or model that creates cyclic garbage keeps
        it until the step ends."""
        with collector_paused():
            return strategy.propose(self, observed)

    @property
    def n_scored(self) -> int:
        """Distinct trees scored so far (each predicted once)."""
        return len(self._cache)

    def scores(self, trees: Sequence[Tree]) -> np.ndarray:
        """Scores of ``trees``, computing only those not met before (in one batch)."""
        new = [t for t in dict.fromkeys(trees) if t not in self._cache]
        if new:
            values = np.asarray(self.score(new), dtype=float)
            self._cache.update(zip(new, values.tolist()))
            self._update_best(new, values)
        return np.array([self._cache[t] for t in trees], dtype=float)

    def _update_best(self, new: list[Tree], values: np.ndarray) -> None:
        """Keep the new fresh trees that score above the best allowed tree so far as contenders,
        in the order met (for ties); :meth:`_check_contenders` asks ``is_allowed`` when needed."""
        is_fresh = self.is_fresh
        met = len(self._cache) - len(new)
        scores = values.tolist()
        for i in np.flatnonzero(values > self._best_score).tolist():
            if is_fresh is None or is_fresh(new[i]):
                heapq.heappush(self._contenders, (-scores[i], met + i, new[i]))

    def _check_contenders(self) -> None:
        """The best allowed tree: the first allowed contender, highest score first and the first met
        on ties (the same tree as checking every tree in the order met); the rest score no higher."""
        contenders = self._contenders
        while contenders:
            negated, _, tree = heapq.heappop(contenders)
            if self.is_allowed(tree):
                self._best, self._best_score = tree, -negated
                contenders.clear()

    def best_allowed(self) -> Tree | None:
        """The highest-scoring allowed tree met so far (the first met on ties), if any."""
        self._check_contenders()
        return self._best

    def best_allowed_score(self) -> float:
        self._check_contenders()
        return self._best_score

    def best_fresh_score(self) -> float:
        """The highest score of a fresh tree met so far, allowed or not (not checked: no canonical
        key), or of the best allowed one; what the evolution's stopping rule watches."""
        return max(self._best_score, -self._contenders[0][0]) if self._contenders else self._best_score

    def random_samples(self, n: int) -> list[Tree]:
        """Up to ``n`` distinct random samples that pass ``is_fresh`` (fewer when the space runs out).
        They are not checked with ``is_allowed``: one that is not allowed may be scored and bred,
        never returned (see :meth:`best_allowed`)."""
        out: dict[Tree, None] = {}
        is_fresh = self.is_fresh
        for _ in range(4 * n):
            if len(out) >= n:
                break
            tree = self.space.sample(self.rng)
            if is_fresh is None or is_fresh(tree):
                out[tree] = None
        return list(out)


@dataclass(frozen=True)
class PoolStrategy(ABC):
    """Base of pool strategies (see the module doc); ``pool_size``: candidates per pool."""

    pool_size: int = 200

    def __post_init__(self) -> None:
        check_int("pool_size", self.pool_size, 1)

    @abstractmethod
    def propose(self, problem: AcquisitionProblem, observed: Sequence[Tree]) -> Tree | None:
        """The best allowed tree met (``observed``: evaluated trees, best first), or ``None``."""


@dataclass(frozen=True)
class EvolutionPool(PoolStrategy):
    """Evolve a pool of the best observed trees plus random samples (see the module doc)."""

    p_self_crossover: float = 0.5
    n_best: int = 10
    min_generations: int = 10
    max_generations: int = 50
    patience: int = 5
    tournament_fraction: float = 0.2
    p_crossover: float = 0.5
    offspring_fraction: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("p_self_crossover", "tournament_fraction", "p_crossover", "offspring_fraction"):
            check_probability(name, getattr(self, name))
        for name, low in (("n_best", 0), ("min_generations", 0), ("max_generations", 1), ("patience", 1)):
            check_int(name, getattr(self, name), low)
        if self.min_generations > self.max_generations:
            raise OptionsError(
                f"option min_generations ({self.min_generations}) must not exceed "
                f"max_generations ({self.max_generations})",
                "min_generations",
            )

    def propose(self, problem: AcquisitionProblem, observed: Sequence[Tree]) -> Tree | None:
        pool = list(dict.fromkeys(observed[: self.n_best]))[: self.pool_size]
        pool += problem.random_samples(self.pool_size - len(pool))
        if not pool:  # no seeds and no unseen sample: nothing to breed from
            return None
        return self._evolve(problem, pool, problem.scores(pool))

    def _evolve(self, problem: AcquisitionProblem, pool: list[Tree], pool_scores: np.ndarray) -> Tree | None:
        """Run the generations from ``pool`` (scored ``pool_scores``); the best allowed tree met."""
        best, unchanged = problem.best_fresh_score(), 0
        for generation in range(1, self.max_generations + 1):
            children = self._offspring(problem, pool, pool_scores)
            merged = list(dict.fromkeys(pool + children))
            merged_scores = problem.scores(merged)
            keep = np.argsort(-merged_scores, kind="stable")[: self.pool_size]
            pool, pool_scores = [merged[i] for i in keep], merged_scores[keep]
            score = problem.best_fresh_score()
            unchanged = unchanged + 1 if score == best else 0
            best = score
            problem.generations = generation
            if generation >= self.min_generations and unchanged >= self.patience:
                break
        return problem.best_allowed()

    def _offspring(self, problem: AcquisitionProblem, pool: list[Tree], pool_scores: np.ndarray) -> list[Tree]:
        space, rng = problem.space, problem.rng
        size = max(2, math.ceil(self.tournament_fraction * len(pool)))
        n_children = max(1, round(self.offspring_fraction * self.pool_size))
        scores = pool_scores.tolist()
        children: list[Tree] = []
        while len(children) < n_children:
            parent = _tournament(pool, scores, size, rng)
            if rng.random() < self.p_crossover:
                if rng.random() < self.p_self_crossover:
                    child = space.self_crossover(parent, rng)
                    if child is not None:
                        children.append(child)
                        continue
                else:
                    pair = space.crossover(parent, _tournament(pool, scores, size, rng), rng)
                    if pair is not None:
                        children.extend(pair)
                        continue
            children.append(space.mutate(parent, rng))  # also when no compatible crossover exists
        return children


def _tournament(pool: list[Tree], scores: list[float], size: int, rng: np.random.Generator) -> Tree:
    """The best of ``size`` distinct random members of ``pool``, the first in the pool on ties: what
    ``max(picks, key=lambda i: (scores[i], -i))`` gives (NaN scores included), without the tuples."""
    picks = rng.choice(len(pool), size=min(size, len(pool)), replace=False).tolist()
    best = picks[0]
    best_score = scores[best]
    for i in picks:
        score = scores[i]
        if score > best_score or (score == best_score and i < best):
            best, best_score = i, score
    return pool[best]


@dataclass(frozen=True)
class EliteEvolutionPool(EvolutionPool):
    """The evolution pool with a small elite under strong selection (see the module doc)."""

    pool_size: int = 5
    n_best: int = 3
    max_generations: int = 200
    patience: int = 20
    tournament_fraction: float = 0.4
    offspring_fraction: float = 1.0


@dataclass(frozen=True)
class SampledEliteEvolutionPool(EliteEvolutionPool):
    """The elite pool started from the best of the observed seeds and ``n_random`` random samples,
    evolved for a fixed number of generations (see the module doc)."""

    n_random: int = 100
    min_generations: int = 140
    max_generations: int = 140

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("n_random", self.n_random, 0)

    def propose(self, problem: AcquisitionProblem, observed: Sequence[Tree]) -> Tree | None:
        candidates = list(dict.fromkeys(observed[: self.n_best])) + problem.random_samples(self.n_random)
        if not candidates:
            return None
        scores = problem.scores(candidates)
        keep = np.argsort(-scores, kind="stable")[: self.pool_size]
        return self._evolve(problem, [candidates[i] for i in keep], scores[keep])


@dataclass(frozen=True)
class RandomPool(PoolStrategy):
    """The best of ``pool_size`` random samples."""

    def propose(self, problem: AcquisitionProblem, observed: Sequence[Tree]) -> Tree | None:
        problem.scores(problem.random_samples(self.pool_size))
        return problem.best_allowed()


@dataclass(frozen=True)
class MutationPool(PoolStrategy):
    """The best of ``pool_size`` mutants of the incumbent (random samples before any observation)."""

    def propose(self, problem: AcquisitionProblem, observed: Sequence[Tree]) -> Tree | None:
        if not observed:
            return RandomPool(self.pool_size).propose(problem, observed)
        problem.scores([problem.space.mutate(observed[0], problem.rng) for _ in range(self.pool_size)])
        return problem.best_allowed()
