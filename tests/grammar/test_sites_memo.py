"""A space's memo of each tree's listed sites (grammars with shared blocks) gives the sites and the
breeding of a space without it."""

from __future__ import annotations

import numpy as np

from hnas.grammar import load_space, space as space_module
from hnas.grammar.treeops import sites


def _breed(space, seed: int, n: int = 60) -> list:
    """A breeding run (mutation, crossover, self-crossover of a small evolving population)."""
    rng = np.random.default_rng(seed)
    population = [space.sample(rng) for _ in range(6)]
    out = []
    for _ in range(n):
        a, b = population[rng.integers(len(population))], population[rng.integers(len(population))]
        children = [space.mutate(a, rng), *(space.crossover(a, b, rng) or ()), space.self_crossover(a, rng)]
        out.extend(children)
        population.extend(child for child in children if child is not None)
    return out


def test_breeding_with_the_memo_equals_breeding_without(monkeypatch):
    space = load_space("nb201_fixed_1_none")
    memoised = _breed(space, seed=3)
    assert space._sites_cache
    monkeypatch.setattr(space_module, "_SITES_CACHE_SIZE", 0)  # every tree's sites listed afresh
    fresh_space = load_space("nb201_fixed_1_none")
    assert _breed(fresh_space, seed=3) == memoised
    assert not fresh_space._sites_cache


def test_memoised_sites_are_the_sites_of_the_tree(monkeypatch):
    space = load_space("nb201_fixed_1_none")
    monkeypatch.setattr(space_module, "_SITES_CACHE_SIZE", 5)
    trees = [t for t in _breed(space, seed=4, n=10) if t is not None]
    for tree in trees + trees[::-1]:  # the second pass hits entries, and evicts the oldest ones
        index = space._index(tree)
        mutable, groups = index.mutable, index.groups
        listed = sites(tree, space._shared)
        assert [(s.path, s.node) for s in mutable] == [
            (s.path, s.node) for s in listed if space._local[s.node.symbol] >= 2
        ]
        assert {k: [(s.path, s.node) for s in v] for k, v in groups.items()} == {
            symbol: [(s.path, s.node) for s in listed if s.node.symbol == symbol]
            for symbol in dict.fromkeys(s.node.symbol for s in listed)
        }
        assert len(space._sites_cache) <= 5
