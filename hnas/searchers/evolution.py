"""Regularized evolution (Real et al., 2019) in ask/tell form.

The first ``population_size`` asks are random samples. After that, each ask draws
``sample_size`` members of the population at random (a tournament), mutates the best of them and
proposes the child. Each told result joins the population and, past ``population_size``
members, the oldest dies (ageing, not the worst). Failed trials never join the population.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from hnas.grammar.tree import Tree
from hnas.searchers.base import Searcher

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["RegularizedEvolution", "MUTATION_TRIES"]

MUTATION_TRIES = 50
"""Mutations of a tournament winner tried before falling back to a random sample."""


class RegularizedEvolution(Searcher):
    """Tournament selection of a parent, mutation, and the oldest member dies."""

    name = "regularized_evolution"

    def __init__(
        self, space: SearchSpace, *, seed: int, population_size: int = 30, sample_size: int = 10
    ) -> None:
        super().__init__(space, seed=seed)
        self.population_size = population_size
        self.sample_size = sample_size
        self._population: deque[tuple[Tree, float]] = deque(maxlen=population_size)
        self._n_asked = 0

    def options(self) -> dict[str, Any]:
        return {"population_size": self.population_size, "sample_size": self.sample_size}

    @property
    def population(self) -> tuple[tuple[Tree, float], ...]:
        """The living members and their losses, oldest first."""
        return tuple(self._population)

    def _propose(self) -> Tree:
        self._n_asked += 1
        if self._n_asked <= self.population_size or not self._population:
            return self._sample_new()
        k = min(self.sample_size, len(self._population))
        picks = self.rng.choice(len(self._population), size=k, replace=False)
        parent = min((self._population[i] for i in sorted(picks)), key=lambda member: member[1])[0]
        for _ in range(MUTATION_TRIES):
            child = self.space.mutate(parent, self.rng)
            if not self.is_known(child):
                return child
        return self._sample_new()

    def _on_tell(self, tree: Tree, loss: float | None) -> None:
        if loss is not None:
            self._population.append((tree, loss))  # a full deque drops its oldest member

    def _extra_state(self) -> dict[str, Any]:
        return {"population": list(self._population), "n_asked": self._n_asked}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self._population = deque(extra["population"], maxlen=self.population_size)
        self._n_asked = extra["n_asked"]
