"""Pool set-up without canonical keys: random samples skip only trees equal to known ones, the
lazy ``is_allowed`` check still keeps every other known architecture from being proposed, and the
tournament picks what a plain ``max`` over (score, -position) picks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hnas.grammar import load_space
from hnas.grammar.tree import Tree
from hnas.searchers import AcquisitionProblem, EvolutionPool, MutationPool, RandomPool, Searcher
from hnas.searchers.pools import _tournament


class Plain(Searcher):
    def propose(self) -> Tree:
        return self.sample_new()


@pytest.fixture
def nine(tmp_path):
    """A space of nine architectures: two edges, three operations each."""
    path = tmp_path / "nine.cfg"
    path.write_text('A -> "Linear2" O O\nO -> "id" | "conv3x3" | "avg_pool"\n')
    return load_space(str(path))


def op_multiset(tree: Tree) -> str:
    """Canonical key: the operations regardless of their order (so mirrored chains are one)."""
    return " ".join(sorted(child.op for child in tree.children))


def test_random_samples_skip_told_and_pending_trees_without_computing_keys(nine):
    keyed: list[Tree] = []

    def key(tree: Tree) -> str:
        keyed.append(tree)
        return str(tree)

    searcher = Plain(nine, seed=0, canonical_key=key)
    everything = sorted({nine.sample(np.random.default_rng(s)) for s in range(200)})
    assert len(everything) == 9
    for tree in everything[:4]:
        searcher.tell(tree, 1.0)
    searcher._pending[everything[4]] = None  # pending, as after an ask
    keyed.clear()
    rank = {tree: float(i) for i, tree in enumerate(everything)}
    problem = AcquisitionProblem.of_searcher(searcher, lambda trees: np.array([-rank[t] for t in trees]))
    samples = problem.random_samples(9)
    assert sorted(samples) == everything[5:]  # all four unknown trees, once each, nothing known
    assert keyed == []  # no canonical key computed for the pool's samples
    assert [searcher.is_known_tree(t) for t in everything] == [True] * 5 + [False] * 4
    problem.scores(everything)  # the five known trees score best: rejected without their keys
    assert problem.best_allowed() == everything[5] and keyed == [everything[5]]


@pytest.mark.parametrize("strategy", [RandomPool(pool_size=20), EvolutionPool(pool_size=20), MutationPool(pool_size=20)])
def test_trees_known_by_key_but_not_equal_are_scored_never_proposed(nine, strategy):
    searcher = Plain(nine, seed=1, canonical_key=op_multiset)
    best = nine.parse("(A Linear2 (O conv3x3) (O id))")
    mirrored = nine.parse("(A Linear2 (O id) (O conv3x3))")  # the same key as best
    searcher.tell(mirrored, 0.5)
    score = {"conv3x3": 2.0, "id": 1.0, "avg_pool": 0.0}
    scored: list[Tree] = []

    def scores(trees: list[Tree]) -> np.ndarray:
        scored.extend(trees)
        return np.array([sum(score[c.op] for c in t.children) + (t == best) for t in trees], dtype=float)

    problem = AcquisitionProblem.of_searcher(searcher, scores)
    proposal = strategy.propose(problem, [mirrored])
    assert best in scored  # the highest score of all: met, and not allowed
    assert proposal is not None and not searcher.is_known(proposal)
    assert proposal == nine.parse("(A Linear2 (O conv3x3) (O conv3x3))")  # the best allowed tree


def test_tournament_picks_the_first_maximum_of_score_and_position():
    rng = np.random.default_rng(5)
    pool = list(range(30))
    for trial in range(300):
        scores = rng.integers(0, 4, 30).astype(float)  # many ties
        if trial % 3 == 0:
            scores[rng.choice(30, 6, replace=False)] = math.nan
        seed = int(rng.integers(1 << 31))
        picks = np.random.default_rng(seed).choice(30, size=7, replace=False)
        expected = max(picks, key=lambda i: (scores[i], -i))  # as the pool ranked before
        assert _tournament(pool, scores.tolist(), 7, np.random.default_rng(seed)) == expected


def test_an_evolution_checks_only_the_tree_it_returns_when_that_one_is_allowed(nine):
    checked: list[Tree] = []

    def is_allowed(tree: Tree) -> bool:
        checked.append(tree)
        return True

    def score(trees: list[Tree]) -> np.ndarray:
        return np.array([sum(c.op == "conv3x3" for c in t.children) for t in trees], dtype=float)

    problem = AcquisitionProblem(nine, score, is_allowed, np.random.default_rng(0), is_fresh=lambda t: True)
    best = EvolutionPool(pool_size=6, min_generations=3).propose(problem, [])
    assert problem.generations >= 3
    assert checked == [best] == [nine.parse("(A Linear2 (O conv3x3) (O conv3x3))")]
