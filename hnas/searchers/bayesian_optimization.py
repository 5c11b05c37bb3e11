"""BANAT: Bayesian optimisation with a (hierarchical) WL-kernel GP and an acquisition function.

The first ``n_init`` asks are random samples. Each later ask fits the surrogate on all evaluated
trees (failed trials are left out) and returns the tree that maximises the acquisition function
(default expected improvement, incumbent = best observed loss, xi = 0) found by the pool
strategy, never a tree that was evaluated, failed or is pending.

Pending trials (parallel workers) are handled with a *kriging believer*: after the first fit,
the surrogate's mean at each pending tree is taken as if it had been observed and the surrogate
is fitted again on observations plus these fantasies, so the variance shrinks around pending
trees and the next proposal looks elsewhere. Pending trees are also never proposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.searchers.acquisition import Acquisition
from hnas.searchers.base import Searcher
from hnas.searchers.options import OptionsError, check_int
from hnas.searchers.pools import AcquisitionProblem, PoolStrategy

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["BayesianOptimization", "MIN_OBSERVATIONS"]

MIN_OBSERVATIONS = 2
"""Evaluated trees needed before the GP is used; until then asks stay random (e.g. after failures)."""


def _component(value: Any, kind: str, base: type) -> Any:
    """A component instance from a registered name (with its default options) or an instance."""
    from hnas.searchers.registry import get_acquisition_class, get_pool_strategy_class

    if isinstance(value, base):
        return value
    if isinstance(value, str):
        lookup = get_acquisition_class if kind == "acquisition" else get_pool_strategy_class
        try:
            return lookup(value)()
        except ValueError as error:  # RegistryError
            raise OptionsError(f"option {kind}: {error}", kind) from None
    raise OptionsError(f"option {kind} must be a name or a {base.__name__}, got {value!r}", kind)


class BayesianOptimization(Searcher):
    """GP surrogate + acquisition function, maximised by a pool strategy."""

    name = "bayesian_optimization"

    @dataclass(frozen=True)
    class Options:
        """``n_init``: random asks before the GP is used; ``surrogate_model``: a surrogate name
        (``hnas.surrogates``); ``acquisition``, ``pool_strategy``: a registered name (with that
        component's default options) or an instance. Names become instances."""

        n_init: int = 10
        surrogate_model: str = "gp_hierarchical"
        acquisition: Any = "ei"
        pool_strategy: Any = "evolution"

        def __post_init__(self) -> None:
            from hnas.surrogates import canonical_name

            check_int("n_init", self.n_init, 1)
            try:
                surrogate = canonical_name(self.surrogate_model)
            except ValueError as error:
                raise OptionsError(f"option surrogate_model: {error}", "surrogate_model") from None
            object.__setattr__(self, "surrogate_model", surrogate)
            object.__setattr__(self, "acquisition", _component(self.acquisition, "acquisition", Acquisition))
            object.__setattr__(
                self, "pool_strategy", _component(self.pool_strategy, "pool_strategy", PoolStrategy)
            )

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        from hnas.surrogates import get_surrogate  # torch stays unimported until BO is built

        super().__init__(space, **kwargs)
        self.surrogate = get_surrogate(self.options.surrogate_model, space)
        self.last_acquisition: dict[str, float] = {}
        """Statistics of the latest model-based ask: generations, trees scored, best score."""

    def propose(self) -> Tree:
        trees, losses = self.observations()
        n_asked = self.n_told + len(self.pending)
        if n_asked < self.options.n_init or len(trees) < MIN_OBSERVATIONS:
            return self.sample_new()
        self.fit(trees, losses)
        best = float(losses.min())
        acquisition = self.options.acquisition

        def score(candidates: list[Tree]) -> np.ndarray:
            mean, var = self.surrogate.predict(candidates)
            return acquisition(np.asarray(mean), np.asarray(var), best)

        problem = AcquisitionProblem(
            space=self.space, score=score, is_allowed=lambda tree: not self.is_known(tree), rng=self.rng
        )
        ranked = [trees[i] for i in np.argsort(losses, kind="stable")]
        proposal = self.options.pool_strategy.propose(problem, ranked)
        self.last_acquisition = {
            "generations": problem.generations,
            "n_scored": problem.n_scored,
            "best_score": problem.best_allowed_score(),
        }
        return proposal if proposal is not None else self.sample_new()

    def fit(self, trees: list[Tree], losses: np.ndarray) -> None:
        """Fit the surrogate on the observations, then again with kriging-believer fantasies."""
        self.surrogate.fit(trees, losses)
        pending = list(self.pending)
        if pending:
            fantasies, _ = self.surrogate.predict(pending)
            self.surrogate.fit(trees + pending, np.concatenate([losses, np.asarray(fantasies, dtype=float)]))
