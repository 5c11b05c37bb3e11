"""Multi-objective searchers: told a loss vector per architecture (every entry minimised).

- ``mo_random_search``: random samples (the baseline; its value is the front it stumbles on).
- ``mo_regularized_evolution``: steady-state NSGA-II over the grammar. The first
  ``population_size`` asks are random samples; then each ask picks a parent by a tournament of
  ``sample_size`` members ranked by non-dominated front, then crowding distance (NSGA-II's
  selection), and proposes a crossover child with another tournament winner (probability
  ``p_crossover``) or a mutant. Each told result joins the population; past ``population_size``
  members, the worst one dies (last front, least crowded: NSGA-II survival), or with
  ``ageing=True`` the oldest (regularized evolution's ageing).
- ``mo_bayesian_optimization``: ParEGO-style BO with one surrogate per objective. Each model-based
  ask draws a random weight vector w (uniform on the simplex) and maximises minus the augmented
  Chebyshev scalarisation ``max_j w_j z_j + rho * sum_j w_j z_j`` of the optimistic per-objective
  predictions ``z_j = mean_j - beta * std_j`` (each objective's targets under
  ``target_transform``, scaled to [0, 1] over the observations) with the pool strategy. The first
  ``n_init`` asks, and with probability ``random_interleave_prob`` a later one, are random.
  Pending trees are never proposed (no fantasies).

Resume: the population and the observations are rebuilt from the told results; the only own
state is the ask counter (O(1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.pareto import nsga2_order
from hnas.searchers.base import Searcher
from hnas.searchers.bayesian_optimization import MIN_OBSERVATIONS, BayesianOptimization
from hnas.searchers.evolution import MUTATION_TRIES
from hnas.searchers.options import OptionsError, check_int, check_number, check_probability
from hnas.searchers.pools import AcquisitionProblem
from hnas.surrogates.transforms import transform_targets

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["MORandomSearch", "MORegularizedEvolution", "MOBayesianOptimization", "chebyshev"]


class MORandomSearch(Searcher):
    """Each ask is a fresh random sample; told loss vectors (see the module doc)."""

    multi_objective = True

    def propose(self) -> Tree:
        return self.sample_new()


class MORegularizedEvolution(Searcher):
    """Steady-state NSGA-II: tournament by (front, crowding), crossover or mutation, survival of
    the best ranked (or ageing); see the module doc."""

    multi_objective = True

    @dataclass(frozen=True)
    class Options:
        """``population_size``: living members (and random asks first); ``sample_size``: members
        per tournament; ``p_crossover``: probability that a child is a crossover of two winners;
        ``ageing``: the oldest member dies instead of the worst ranked."""

        population_size: int = 20
        sample_size: int = 2
        p_crossover: float = 0.3
        ageing: bool = False

        def __post_init__(self) -> None:
            check_int("population_size", self.population_size, 2)
            check_int("sample_size", self.sample_size, 1)
            check_probability("p_crossover", self.p_crossover)
            if not isinstance(self.ageing, bool):
                raise OptionsError(f"option ageing must be true or false, got {self.ageing!r}", "ageing")
            if self.sample_size > self.population_size:
                raise OptionsError(
                    f"option sample_size ({self.sample_size}) must not exceed population_size ({self.population_size})",
                    "sample_size",
                )

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self._population: list[tuple[Tree, tuple[float, ...]]] = []  # oldest first
        self._n_asked = 0

    @property
    def population(self) -> tuple[tuple[Tree, tuple[float, ...]], ...]:
        """The living members and their loss vectors, oldest first."""
        return tuple(self._population)

    def _tournament(self, ranks: np.ndarray, crowding: np.ndarray) -> Tree:
        k = min(self.options.sample_size, len(self._population))
        picks = self.rng.choice(len(self._population), size=k, replace=False)
        best = min(picks, key=lambda i: (ranks[i], -crowding[i], i))
        return self._population[best][0]

    def propose(self) -> Tree:
        self._n_asked += 1
        if self._n_asked <= self.options.population_size or not self._population:
            return self.sample_new()
        ranks, crowding = nsga2_order([losses for _, losses in self._population])
        parent = self._tournament(ranks, crowding)
        if len(self._population) > 1 and self.rng.random() < self.options.p_crossover:
            pair = self.space.crossover(parent, self._tournament(ranks, crowding), self.rng)
            for child in pair or ():
                if not self.is_known(child):
                    return child
        for _ in range(MUTATION_TRIES):
            child = self.space.mutate(parent, self.rng)
            if not self.is_known(child):
                return child
        return self.sample_new()

    def observe(self, tree: Tree, loss: Any) -> None:
        if loss is None:
            return
        self._population.append((tree, loss))
        if len(self._population) <= self.options.population_size:
            return
        if self.options.ageing:
            del self._population[0]
            return
        ranks, crowding = nsga2_order([losses for _, losses in self._population])
        worst = max(range(len(self._population)), key=lambda i: (ranks[i], -crowding[i], -i))
        del self._population[worst]  # the least crowded of the last front; the youngest on ties

    def state_dict(self) -> dict[str, Any]:
        return {"n_asked": self._n_asked}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._n_asked = int(state["n_asked"])


def chebyshev(weights: np.ndarray, values: np.ndarray, rho: float) -> np.ndarray:
    """The augmented Chebyshev scalarisation of the rows of ``values``:
    ``max_j w_j v_j + rho * sum_j w_j v_j`` (ParEGO, Knowles 2006)."""
    weighted = np.asarray(values, dtype=float) * np.asarray(weights, dtype=float)
    return weighted.max(axis=-1) + rho * weighted.sum(axis=-1)


class MOBayesianOptimization(Searcher):
    """ParEGO-style random Chebyshev scalarisations over one surrogate per objective."""

    multi_objective = True

    @dataclass(frozen=True)
    class Options:
        """``n_init``: random asks first; ``surrogate_model``: the surrogate of each objective;
        ``pool_strategy``: the acquisition optimiser (a name or an instance);
        ``random_interleave_prob``: probability that a later ask is random; ``target_transform``:
        what each objective's surrogate is fitted on; ``beta``: optimism (standard deviations
        subtracted from each predicted mean); ``rho``: the augmentation of the scalarisation."""

        n_init: int = 10
        surrogate_model: str = "gp_hierarchical"
        pool_strategy: Any = "evolution"
        random_interleave_prob: float = 0.1
        target_transform: str = "rank"
        beta: float = 1.0
        rho: float = 0.05

        def __post_init__(self) -> None:
            check_number("beta", self.beta, 0.0)
            check_number("rho", self.rho, 0.0)
            shared = BayesianOptimization.Options(  # checks the options BANAT shares, canonical names out
                n_init=self.n_init, surrogate_model=self.surrogate_model, pool_strategy=self.pool_strategy,
                random_interleave_prob=self.random_interleave_prob, target_transform=self.target_transform,
            )  # fmt: skip
            object.__setattr__(self, "surrogate_model", shared.surrogate_model)
            object.__setattr__(self, "pool_strategy", shared.pool_strategy)

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.surrogates: list[Any] = []
        """One fitted surrogate per objective (after the first model-based ask)."""
        self._fit_key: tuple[Tree, ...] | None = None

    def _fit(self, trees: list[Tree], targets: np.ndarray) -> None:
        from hnas.surrogates import get_surrogate  # torch stays unimported until the first fit

        key = tuple(trees)
        if key == self._fit_key:
            return
        while len(self.surrogates) < targets.shape[1]:
            self.surrogates.append(get_surrogate(self.options.surrogate_model, self.space))
        for j, model in enumerate(self.surrogates):
            model.fit(trees, targets[:, j])
        self._fit_key = key

    def propose(self) -> Tree:
        trees, losses = self.observations()
        if self.n_told + len(self.pending) < self.options.n_init or len(trees) < MIN_OBSERVATIONS:
            return self.sample_new()
        if self.options.random_interleave_prob > 0 and self.rng.random() < self.options.random_interleave_prob:
            return self.sample_new()
        targets = np.column_stack([transform_targets(self.options.target_transform, c) for c in losses.T])
        low, span = targets.min(axis=0), np.ptp(targets, axis=0)
        span = np.where(span > 0, span, 1.0)
        self._fit(trees, targets)
        weights = self.rng.dirichlet(np.ones(losses.shape[1]))
        beta, rho = self.options.beta, self.options.rho

        def score(candidates: list[Tree]) -> np.ndarray:
            optimistic = []
            for model in self.surrogates:
                mean, var = model.predict(candidates)
                optimistic.append(np.asarray(mean) - beta * np.sqrt(np.maximum(np.asarray(var), 0.0)))
            return -chebyshev(weights, (np.column_stack(optimistic) - low) / span, rho)

        problem = AcquisitionProblem.of_searcher(self, score)
        scalarised = chebyshev(weights, (targets - low) / span, rho)
        ranked = [trees[i] for i in np.argsort(scalarised, kind="stable")]
        proposal = problem.solve(self.options.pool_strategy, ranked)
        return proposal if proposal is not None else self.sample_new()
