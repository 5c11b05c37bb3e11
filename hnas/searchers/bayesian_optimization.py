"""BANAT: Bayesian optimisation with a (hierarchical) WL-kernel GP and an acquisition function.

The first ``n_init`` asks are random samples. Each later ask is, with probability
``random_interleave_prob``, a random sample too (as the paper's code's ``--random_interleave_prob``:
it keeps BO from stalling around one good architecture); otherwise it fits the surrogate on all
evaluated trees (failed trials are left out), their losses under ``target_transform``
(:mod:`hnas.surrogates.transforms`), and returns the tree that maximises the acquisition function
(default expected improvement, incumbent = best transformed loss, xi = 0) found by the pool
strategy, never a tree that was evaluated, failed or is pending. The fit is reused while no new
result was told.

A *stall rule* (``stall_patience`` > 0, off by default): once that many results in a row brought
no new best loss, model-based asks maximise the acquisition with ``stall_pool_strategy`` (e.g.
``mutation``: mutants of the incumbent, or ``random``: fresh samples) instead of ``pool_strategy``;
``last_source`` says which kind of ask the latest was. docs/surrogates.md has the measurements
behind keeping it off.

Pending trials (parallel workers) are handled with a *kriging believer*: the surrogate's mean at
each pending tree is taken as if it had been observed, so the variance shrinks around pending
trees and the next proposal looks elsewhere. A surrogate with ``condition(trees, y)`` (the
built-in GPs) is conditioned on these fantasies with its fitted hyperparameters kept (a rank-k
update, no refit); another one is fitted again on observations plus fantasies. Pending trees are
also never proposed.

The defaults (surrogate ``gp_hierarchical`` with its profiled fit, ``target_transform="rank"``,
``random_interleave_prob=0.1``) are the best measured on NAS-Bench-Graph (docs/surrogates.md). The
paper's BANAT is ``surrogate_model="gp_hierarchical_paper", target_transform="none",
random_interleave_prob=0.0``. ``pool_strategy="elite_evolution"`` makes a step ~2x faster and finds
a higher EI, but gave a worse regret on NAS-Bench-Graph (docs/searchers.md), so it is not the default.
``pool_strategy="sampled_elite"`` scores ~830 trees per step instead of ~2,700 with a higher EI, in
half the time, and searched as well as ``evolution`` on four benchmarks (docs/searchers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.searchers.acquisition import Acquisition
from hnas.searchers.base import Searcher
from hnas.searchers.options import OptionsError, check_int, check_probability
from hnas.searchers.pools import AcquisitionProblem, PoolStrategy
from hnas.surrogates.transforms import TARGET_TRANSFORMS, transform_targets

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["BayesianOptimization", "MIN_OBSERVATIONS", "maximise_acquisition", "evaluations_since_improvement"]

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


def maximise_acquisition(
    searcher: Searcher, model: Any, acquisition: Acquisition, strategy: PoolStrategy, trees: list[Tree],
    targets: np.ndarray,
) -> tuple[Tree | None, AcquisitionProblem]:
    """The tree ``strategy`` finds with the highest ``acquisition`` under ``model`` (incumbent: the
    lowest target), never one ``searcher`` knows, searched from the evaluated ``trees`` best first;
    ``None`` when it found no allowed tree. Also the problem, with its statistics."""
    best = float(targets.min())

    def score(candidates: list[Tree]) -> np.ndarray:
        mean, var = model.predict(candidates)
        return acquisition(np.asarray(mean), np.asarray(var), best)

    problem = AcquisitionProblem.of_searcher(searcher, score)
    ranked = [trees[i] for i in np.argsort(targets, kind="stable")]
    return problem.solve(strategy, ranked), problem


class BayesianOptimization(Searcher):
    """GP surrogate + acquisition function, maximised by a pool strategy."""

    @dataclass(frozen=True)
    class Options:
        """``n_init``: random asks before the GP is used; ``surrogate_model``: a surrogate name
        (``hnas.surrogates``); ``acquisition``, ``pool_strategy``: a registered name (with that
        component's default options) or an instance. Names become instances.
        ``random_interleave_prob``: probability that a model-based ask is a random sample instead;
        ``target_transform``: the losses the GP is fitted on (one of ``TARGET_TRANSFORMS``);
        ``stall_patience``: after this many results without a new best loss, model-based asks
        maximise the acquisition with the pool strategy named ``stall_pool_strategy`` (default
        options, ``pool_strategy``'s pool size) instead (0: never)."""

        n_init: int = 10
        surrogate_model: str = "gp_hierarchical"
        acquisition: Any = "ei"
        pool_strategy: Any = "evolution"
        random_interleave_prob: float = 0.1
        target_transform: str = "rank"
        stall_patience: int = 0
        stall_pool_strategy: str = "mutation"

        def __post_init__(self) -> None:
            from hnas.surrogates import canonical_name

            check_int("n_init", self.n_init, 1)
            check_int("stall_patience", self.stall_patience, 0)
            check_probability("random_interleave_prob", self.random_interleave_prob)
            if self.target_transform not in TARGET_TRANSFORMS:
                raise OptionsError(
                    f"option target_transform: unknown value {self.target_transform!r}; "
                    f"choose one of {', '.join(TARGET_TRANSFORMS)}",
                    "target_transform",
                )
            try:
                surrogate = canonical_name(self.surrogate_model)
            except ValueError as error:
                raise OptionsError(f"option surrogate_model: {error}", "surrogate_model") from None
            object.__setattr__(self, "surrogate_model", surrogate)
            object.__setattr__(self, "acquisition", _component(self.acquisition, "acquisition", Acquisition))
            object.__setattr__(
                self, "pool_strategy", _component(self.pool_strategy, "pool_strategy", PoolStrategy)
            )
            if not isinstance(self.stall_pool_strategy, str):
                raise OptionsError(
                    f"option stall_pool_strategy must be a pool strategy name, got {self.stall_pool_strategy!r}",
                    "stall_pool_strategy",
                )
            _component(self.stall_pool_strategy, "stall_pool_strategy", PoolStrategy)  # a known name

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        from hnas.surrogates import get_surrogate  # torch stays unimported until BO is built

        super().__init__(space, **kwargs)
        self.surrogate = get_surrogate(self.options.surrogate_model, space)
        """The model the latest ask scored with (conditioned on pending trees, if any)."""
        self._fitted = self.surrogate
        stall_strategy = _component(self.options.stall_pool_strategy, "stall_pool_strategy", PoolStrategy)
        self._stall_strategy = replace(stall_strategy, pool_size=self.options.pool_strategy.pool_size)
        self._fit_key: tuple[Tree, ...] | None = None
        self.last_acquisition: dict[str, float] = {}
        """Statistics of the latest model-based ask: generations, trees scored, best score."""
        self.last_source = ""
        """Where the latest ask came from: ``initial`` or ``interleave`` (random samples), ``model``
        (the acquisition maximised by ``pool_strategy``) or ``stall`` (by ``stall_pool_strategy``)."""

    def propose(self) -> Tree:
        trees, losses = self.observations()
        n_asked = self.n_told + len(self.pending)
        if n_asked < self.options.n_init or len(trees) < MIN_OBSERVATIONS:
            self.last_source = "initial"
            return self.sample_new()
        if self.options.random_interleave_prob > 0 and self.rng.random() < self.options.random_interleave_prob:
            self.last_source = "interleave"
            return self.sample_new()
        stalled = 0 < self.options.stall_patience <= evaluations_since_improvement(losses)
        self.last_source = "stall" if stalled else "model"
        targets = transform_targets(self.options.target_transform, losses)
        model = self.fit(trees, targets)
        strategy = self._stall_strategy if stalled else self.options.pool_strategy
        proposal, problem = maximise_acquisition(self, model, self.options.acquisition, strategy, trees, targets)
        self.last_acquisition = {
            "generations": problem.generations,
            "n_scored": problem.n_scored,
            "best_score": problem.best_allowed_score(),
        }
        return proposal if proposal is not None else self.sample_new()

    def fit(self, trees: list[Tree], targets: np.ndarray) -> Any:
        """The surrogate fitted on the observations (reused until a new result is told), then
        given kriging-believer fantasies at the pending trees; also kept as ``self.surrogate``."""
        key = tuple(trees)
        if key != self._fit_key:
            self._fitted.fit(trees, targets)
            self._fit_key = key
        model = self._fitted
        pending = list(self.pending)
        if pending:
            fantasies = np.asarray(model.predict(pending)[0], dtype=float)
            if hasattr(model, "condition"):
                model = model.condition(pending, fantasies)
            else:
                model.fit(trees + pending, np.concatenate([targets, fantasies]))
                self._fit_key = None  # fitted on fantasies: refit on the next ask
        self.surrogate = model
        return model


def evaluations_since_improvement(losses: np.ndarray) -> int:
    """Results told after the first one that reached the lowest loss (0: the last one did)."""
    losses = np.asarray(losses, dtype=float)
    return 0 if len(losses) == 0 else len(losses) - 1 - int(np.argmin(losses))
