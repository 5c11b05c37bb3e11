"""BANAT: Bayesian optimisation with a (hierarchical) WL-kernel GP and expected improvement.

The first ``n_init`` asks are random samples. Each later ask is, with probability
``random_interleave_prob``, a random sample too (as the paper's code's ``--random_interleave_prob``:
it keeps BO from stalling around one good architecture); otherwise it fits the surrogate on all
evaluated trees (failed trials are left out), their losses under ``target_transform``
(:mod:`hnas.surrogates.transforms`), and returns the tree that maximises expected improvement
(incumbent = best transformed loss, xi = 0) found by the pool strategy, never a tree that was
evaluated, failed or is pending. The fit is reused while no new result was told.

Pending trials (parallel workers) are handled with a *kriging believer*: the surrogate's mean at
each pending tree is taken as if it had been observed, so the variance shrinks around pending
trees and the next proposal looks elsewhere. A surrogate with ``condition(trees, y)`` (the
built-in GPs) is conditioned on these fantasies with its fitted hyperparameters kept (a rank-k
update, no refit); another one is fitted again on observations plus fantasies. Pending trees are
also never proposed.

The defaults (surrogate ``gp_hierarchical`` with its profiled fit, ``target_transform="rank"``,
``random_interleave_prob=0.1``) are the best measured on NAS-Bench-Graph (docs/surrogates.md). The
paper's BANAT is ``surrogate_model="gp_hierarchical_paper", target_transform="none",
random_interleave_prob=0.0``: with one worker its asks are exactly those of hnas before these
options existed (pending trials are now conditioned on instead of refitted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.searchers.acquisition import AcquisitionProblem, expected_improvement, optimize_acquisition
from hnas.searchers.base import Searcher
from hnas.surrogates.transforms import transform_targets

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
        random_interleave_prob: float = 0.1,
        target_transform: str = "rank",
    ) -> None:
        from hnas.surrogates import get_surrogate  # torch stays unimported until BO is built

        super().__init__(space, seed=seed)
        self.surrogate_model = surrogate_model
        self.pool_strategy = pool_strategy
        self.pool_size = pool_size
        self.n_init = n_init
        self.p_self_crossover = p_self_crossover
        self.random_interleave_prob = random_interleave_prob
        self.target_transform = target_transform
        transform_targets(target_transform, np.ones(1))  # an unknown transform fails here, not mid-run
        self.surrogate = get_surrogate(surrogate_model, space)
        """The model the latest ask scored with (conditioned on pending trees, if any)."""
        self._fitted = self.surrogate
        self._fit_key: tuple[Tree, ...] | None = None
        self.last_acquisition: dict[str, float] = {}
        """Statistics of the latest model-based ask: generations, trees scored, best EI."""

    def options(self) -> dict[str, Any]:
        return {
            "surrogate_model": self.surrogate_model,
            "pool_strategy": self.pool_strategy,
            "pool_size": self.pool_size,
            "n_init": self.n_init,
            "p_self_crossover": self.p_self_crossover,
            "random_interleave_prob": self.random_interleave_prob,
            "target_transform": self.target_transform,
        }

    def _propose(self) -> Tree:
        trees, losses = self.observations()
        n_asked = len(self._history) + len(self._pending)
        if n_asked < self.n_init or len(trees) < MIN_OBSERVATIONS:
            return self._sample_new()
        if self.random_interleave_prob > 0 and self.rng.random() < self.random_interleave_prob:
            return self._sample_new()
        targets = transform_targets(self.target_transform, losses)
        model = self._fit(trees, targets)
        best = float(targets.min())

        def score(candidates: list[Tree]) -> np.ndarray:
            mean, var = model.predict(candidates)
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

    def _fit(self, trees: list[Tree], targets: np.ndarray) -> Any:
        """The surrogate fitted on the observations (reused until a new result is told), then
        given kriging-believer fantasies at the pending trees; also kept as ``self.surrogate``."""
        key = tuple(trees)
        if key != self._fit_key:
            self._fitted.fit(trees, targets)
            self._fit_key = key
        model = self._fitted
        pending = list(self._pending)
        if pending:
            fantasies = np.asarray(model.predict(pending)[0], dtype=float)
            if hasattr(model, "condition"):
                model = model.condition(pending, fantasies)
            else:
                model.fit(trees + pending, np.concatenate([targets, fantasies]))
                self._fit_key = None  # fitted on fantasies: refit on the next ask
        self.surrogate = model
        return model
