"""Regularized evolution (Real et al., 2019) in ask/tell form.

The first ``population_size`` asks are random samples. After that, each ask draws
``sample_size`` members of the population at random (a tournament), mutates the best of them and
proposes the child. Each told result joins the population and, past ``population_size``
members, the oldest dies (ageing, not the worst). Failed trials never join the population.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hnas.grammar.tree import Tree
from hnas.searchers.base import Searcher
from hnas.searchers.options import OptionsError, check_int

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["RegularizedEvolution", "MUTATION_TRIES"]

MUTATION_TRIES = 50
"""Mutations of a tournament winner tried before falling back to a random sample."""


class RegularizedEvolution(Searcher):
    """Tournament selection of a parent, mutation, and the oldest member dies."""

    name = "regularized_evolution"

    @dataclass(frozen=True)
    class Options:
        """``population_size``: living members (and random asks before evolution starts);
        ``sample_size``: members drawn per tournament (at most ``population_size``)."""

        population_size: int = 30
        sample_size: int = 10

        def __post_init__(self) -> None:
            check_int("population_size", self.population_size, 1)
            check_int("sample_size", self.sample_size, 1)
            if self.sample_size > self.population_size:
                raise OptionsError(
                    f"option sample_size ({self.sample_size}) must not exceed "
                    f"population_size ({self.population_size})",
                    "sample_size",
                )

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self._population: deque[tuple[Tree, float]] = deque(maxlen=self.options.population_size)
        self._n_asked = 0

    @property
    def population(self) -> tuple[tuple[Tree, float], ...]:
        """The living members and their losses, oldest first."""
        return tuple(self._population)

    def propose(self) -> Tree:
        self._n_asked += 1
        if self._n_asked <= self.options.population_size or not self._population:
            return self.sample_new()
        k = min(self.options.sample_size, len(self._population))
        picks = self.rng.choice(len(self._population), size=k, replace=False)
        parent = min((self._population[i] for i in sorted(picks)), key=lambda member: member[1])[0]
        for _ in range(MUTATION_TRIES):
            child = self.space.mutate(parent, self.rng)
            if not self.is_known(child):
                return child
        return self.sample_new()

    def observe(self, tree: Tree, loss: float | None) -> None:
        if loss is not None:
            self._population.append((tree, loss))  # a full deque drops its oldest member

    def state_dict(self) -> dict[str, Any]:
        return {"n_asked": self._n_asked}  # the population is rebuilt from the told results

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._n_asked = int(state["n_asked"])
