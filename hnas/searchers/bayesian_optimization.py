"""BANAT: Bayesian optimisation with a (hierarchical) WL-kernel GP and expected improvement.

The first ``n_init`` asks are random samples. Each later ask fits the surrogate on all evaluated
trees (failed trials are left out) and returns the tree that maximises expected improvement
(incumbent = best observed loss, xi = 0) found by the pool strategy, never a tree that was
evaluated, failed or is pending.

Pending trials (parallel workers) are handled with a *kriging believer*: after the first fit,
the surrogate's mean at each pending tree is taken as if it had been observed and the surrogate
is fitted again on observations plus these fantasies, so the variance shrinks around pending
trees and the next proposal looks elsewhere. Pending trees are also never proposed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.searchers.acquisition import AcquisitionProblem, expected_improvement, optimize_acquisition
from hnas.searchers.base import Searcher

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["BayesianOptimization"]

MIN_OBSERVATIONS = 2
"""Evaluated trees needed before the GP is used; until then asks stay random (e.g. after failures)."""


class BayesianOptimization(Searcher):
    """GP surrogate + expected improvement, maximised by an evolutionary, random or mutation pool."""

    name = "bayesian_optimization"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        surrogate_model: str = "gp_hierarchical",
        pool_strategy: str = "evolution",
        pool_size: int = 200,
        n_init: int = 10,
        p_self_crossover: float = 0.5,
    ) -> None:
        from hnas.surrogates import get_surrogate  # torch stays unimported until BO is built

        super().__init__(space, seed=seed)
        self.surrogate_model = surrogate_model
        self.pool_strategy = pool_strategy
        self.pool_size = pool_size
        self.n_init = n_init
        self.p_self_crossover = p_self_crossover
        self.surrogate = get_surrogate(surrogate_model, space)
        self.last_acquisition: dict[str, float] = {}
        """Statistics of the latest model-based ask: generations, trees scored, best EI."""

    def options(self) -> dict[str, Any]:
        return {
            "surrogate_model": self.surrogate_model,
            "pool_strategy": self.pool_strategy,
            "pool_size": self.pool_size,
            "n_init": self.n_init,
            "p_self_crossover": self.p_self_crossover,
        }

    def _propose(self) -> Tree:
        trees, losses = self.observations()
        n_asked = len(self._history) + len(self._pending)
        if n_asked < self.n_init or len(trees) < MIN_OBSERVATIONS:
            return self._sample_new()
        self._fit(trees, losses)
        best = float(losses.min())

        def score(candidates: list[Tree]) -> np.ndarray:
            mean, var = self.surrogate.predict(candidates)
            return expected_improvement(np.asarray(mean), np.asarray(var), best)

        problem = AcquisitionProblem(
            space=self.space,
            score=score,
            is_allowed=lambda tree: not self.is_known(tree),
            rng=self.rng,
            pool_size=self.pool_size,
        )
        ranked = [trees[i] for i in np.argsort(losses, kind="stable")]
        proposal = optimize_acquisition(self.pool_strategy, problem, ranked, self.p_self_crossover)
        self.last_acquisition = {
            "generations": problem.generations,
            "n_scored": problem.n_scored,
            "best_ei": problem.best_allowed_score(),
        }
        return proposal if proposal is not None else self._sample_new()

    def _fit(self, trees: list[Tree], losses: np.ndarray) -> None:
        """Fit the surrogate on the observations, then again with kriging-believer fantasies."""
        self.surrogate.fit(trees, losses)
        pending = list(self._pending)
        if pending:
            fantasies, _ = self.surrogate.predict(pending)
            self.surrogate.fit(trees + pending, np.concatenate([losses, np.asarray(fantasies, dtype=float)]))
