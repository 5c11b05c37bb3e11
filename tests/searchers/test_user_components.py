"""A user's searcher, acquisition function and pool strategy, registered as a plugin would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from searcher_helpers import drive

from hnas.errors import RegistryError
from hnas.grammar.tree import Tree
from hnas.searchers import (
    Acquisition,
    OptionsError,
    PoolStrategy,
    Searcher,
    make_searcher,
    register_acquisition,
    register_pool_strategy,
    register_searcher,
)
from hnas.searchers.options import check_int
from hnas.searchers.synthetic import op_quality_loss


class LocalSearch(Searcher):
    """Mutates the incumbent ``n_neighbours`` times per round; random until the first result."""

    @dataclass(frozen=True)
    class Options:
        first_random: int = 3

        def __post_init__(self) -> None:
            check_int("first_random", self.first_random, 1)

    def __init__(self, space, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.asked = 0  # changed by propose: part of state_dict
        self.n_failed = 0  # rebuilt by observe

    def propose(self) -> Tree:
        self.asked += 1
        if self.asked <= self.options.first_random or self.incumbent is None:
            return self.sample_new()
        for _ in range(50):
            child = self.space.mutate(self.incumbent[0], self.rng)
            if not self.is_known(child):
                return child
        return self.sample_new()

    def observe(self, tree: Tree, loss: float | None) -> None:
        self.n_failed += loss is None

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.asked = state["asked"]


@dataclass(frozen=True)
class LowestMean(Acquisition):
    def __call__(self, mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
        return -np.asarray(mean)


@dataclass(frozen=True)
class ObservedOnly(PoolStrategy):
    """Mutants of the n best observed trees."""

    n: int = 3

    def propose(self, problem, observed):
        problem.scores([problem.space.mutate(t, problem.rng) for t in observed[: self.n] for _ in range(5)])
        return problem.best_allowed()


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_searcher("local_search_test", LocalSearch)
    register_acquisition("lowest_mean_test", LowestMean)
    register_pool_strategy("observed_only_test", ObservedOnly)


def test_a_user_searcher_is_built_by_name_with_its_options_and_resumes_exactly(cell_space):
    searcher = make_searcher("local_search_test", cell_space, seed=1, first_random=4)
    assert searcher.options.first_random == 4
    drive(searcher, op_quality_loss, 6)
    busy = searcher.ask()
    searcher.tell(searcher.ask(), None)
    copy = make_searcher("local_search_test", cell_space, seed=1, first_random=4)
    copy.restore(searcher.checkpoint(), [(t, loss, None) for t, loss in searcher.history], [(busy, None)])
    assert (copy.asked, copy.n_failed) == (searcher.asked, searcher.n_failed) == (8, 1)
    assert drive(copy, op_quality_loss, 5) == drive(searcher, op_quality_loss, 5)
    with pytest.raises(OptionsError, match="option first_random must be an integer >= 1"):
        make_searcher("local_search_test", cell_space, seed=1, first_random=0)


def test_registering_a_taken_name_needs_replace():
    with pytest.raises(RegistryError, match="searcher 'random_search' is already registered"):
        register_searcher("random_search", LocalSearch)
    with pytest.raises(RegistryError, match="pool strategy 'evolution' is already registered"):
        register_pool_strategy("evolution", ObservedOnly)
    with pytest.raises(TypeError, match="expected a subclass of Searcher"):
        register_searcher("not_a_searcher", object)


def test_bo_uses_a_user_acquisition_and_pool_strategy(cell_space):
    bo = make_searcher(
        "bayesian_optimization", cell_space, seed=2, n_init=4, acquisition="lowest_mean_test",
        pool_strategy="observed_only_test", n=2,
    )  # fmt: skip
    assert bo.options.pool_strategy == ObservedOnly(n=2)
    asked = drive(bo, op_quality_loss, 6)
    best_two = sorted(asked[:4], key=op_quality_loss)[:2]
    # the fifth ask is a mutant of one of the two best observed trees: one cell edge differs
    fifth = [n.op for n in asked[4].walk() if not n.children]
    distances = [sum(a != b for a, b in zip(fifth, [n.op for n in t.walk() if not n.children])) for t in best_two]
    assert min(distances) <= len(fifth) // 6
