"""Mutation and crossover give exactly the trees of a plain reference that lists every site of a
parent for each operation (the implementation before site tallies), drawing the same random numbers.

The reference below is deliberately simple: it lists the sites with ``treeops.sites`` and picks
from the lists; only the edit helpers of the space (zero constraint, replacing and unifying
subtrees), which these operations share with it, are reused.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Callable

import numpy as np
import pytest

from grammar_checks import write
from hnas.grammar import GrammarError, SearchSpace, Tree, load_space
from hnas.grammar import space as space_module
from hnas.grammar.derivation import uniform_stream
from hnas.grammar.treeops import Site, nth_site, shared_blocks, sites, tally

Uniform = Callable[[], float]


def listed(space: SearchSpace, tree: Tree) -> tuple[list[Site], dict[str, list[Site]]]:
    """The mutation candidates (nonterminals with at least two derivations) and the sites by nonterminal."""
    every = sites(tree, space._shared)
    groups: dict[str, list[Site]] = {}
    for site in every:
        groups.setdefault(site.node.symbol, []).append(site)
    return [s for s in every if space._local[s.node.symbol] >= 2], groups


def reference_mutate(space: SearchSpace, tree: Tree, uniform: Uniform, dropped: list[Site]) -> Tree:
    candidates, _ = listed(space, tree)
    blocks = shared_blocks(tree, space._shared)
    deriver = space._deriver
    while candidates:
        k = int(uniform() * len(candidates))
        site = candidates[k]
        symbol = site.node.symbol
        zero_ok = deriver.can_be(symbol, True) and space._zero_ok(site)
        zero, nonzero = space._class_counts(symbol)
        if nonzero + (zero if zero_ok else 0) < 2:  # drop the candidate: the last one takes its place
            dropped.append(candidates[k])
            candidates[k] = candidates[-1]
            candidates.pop()
            continue
        new = deriver.derive(symbol, deriver.draw_class(symbol, zero_ok, True, uniform), uniform, blocks)
        if new != site.node:
            return space._edited(tree, [(site, new)])
    raise GrammarError("no alternative")


def reference_pair(groups_a: dict, groups_b: dict, attempt: Callable, uniform: Uniform, disjoint: bool):
    """32 random pairs by nonterminal (weighted by the number of pairs), then a uniform pick among every
    pair that works."""
    symbols = [s for s in groups_a if s in groups_b]
    if not symbols:
        return None
    weights = [len(groups_a[s]) * len(groups_b[s]) for s in symbols]
    cum = list(np.cumsum(weights))
    for _ in range(32):
        symbol = symbols[bisect(cum, uniform() * sum(weights))]
        x = groups_a[symbol][int(uniform() * len(groups_a[symbol]))]
        y = groups_b[symbol][int(uniform() * len(groups_b[symbol]))]
        if (result := attempt(x, y)) is not None:
            return result
    results = []
    for s in symbols:
        for i, x in enumerate(groups_a[s]):
            for y in groups_b[s][i + 1 :] if disjoint else groups_b[s]:
                if (result := attempt(x, y)) is not None:
                    results.append(result)
    return results[int(uniform() * len(results))] if results else None


def reference_crossover(space: SearchSpace, a: Tree, b: Tree, uniform: Uniform):
    apart = None if space._shared else space_module._divergence(a, b)

    def attempt(x: Site, y: Site):
        if x.node == y.node or (x.parent is None and y.parent is None):
            return None
        if apart is not None and x.path == y.path == apart[: len(x.path)]:
            return None
        if not (space._swappable(x, y.node) and space._swappable(y, x.node)):
            return None
        children = space._edited(a, [(x, y.node)]), space._edited(b, [(y, x.node)])
        return None if children[0] == a or children[1] == b or children == (b, a) else children

    return reference_pair(listed(space, a)[1], listed(space, b)[1], attempt, uniform, disjoint=False)


def reference_self_crossover(space: SearchSpace, tree: Tree, uniform: Uniform):
    def attempt(x: Site, y: Site):
        n = min(len(x.path), len(y.path))
        if x.path[:n] == y.path[:n] or x.node == y.node:
            return None
        if not (space._swappable(x, y.node) and space._swappable(y, x.node)):
            return None
        child = space._edited(tree, [(x, y.node), (y, x.node)])
        return child if child != tree else None

    groups = listed(space, tree)[1]
    return reference_pair(groups, groups, attempt, uniform, disjoint=True)


class Counted:
    """A uniform stream that counts its draws."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.draw, self.n = uniform_stream(rng), 0

    def __call__(self) -> float:
        self.n += 1
        return self.draw()


@pytest.fixture
def counted_streams(monkeypatch) -> list[Counted]:
    """The streams the space's operations draw from, in order."""
    made: list[Counted] = []

    def stream(rng: np.random.Generator) -> Counted:
        made.append(Counted(rng))
        return made[-1]

    monkeypatch.setattr(space_module, "uniform_stream", stream)
    return made


def removal_space(tmp_path) -> SearchSpace:
    """A space where most mutation candidates turn out to have no alternative (``O`` may not become
    ``zero`` in a chain), so candidates are dropped and replaced often."""
    grammar = 'A -> "Linear7" O O O O O P P | "Residual2" O P P\nO -> "id" | "zero"\nP -> "conv3x3" | "id" | "Linear2" O P\n'
    return load_space(write(tmp_path, "removal.cfg", grammar))


@pytest.mark.parametrize("name", ["nb201_variable_multi_multi", "listed", "nb201_fixed_1_none", "darts", "removal"])
def test_breeding_equals_the_reference_with_the_same_draws(name, tmp_path, counted_streams, monkeypatch):
    if name == "listed":  # the hierarchical space with its sites listed, as large grammars have them
        monkeypatch.setattr(space_module, "_TALLY_MAX_NONTERMINALS", 0)
        name = "nb201_variable_multi_multi"
    space = removal_space(tmp_path) if name == "removal" else load_space(name)
    assert space._tallied == (name != "nb201_fixed_1_none" and space_module._TALLY_MAX_NONTERMINALS > 0)
    rng = np.random.default_rng(11)
    population = [space.sample(rng) for _ in range(8)]
    n_ops = 60 if name == "nb201_variable_multi_multi" else 150
    outcomes, dropped = set(), []
    for step in range(n_ops):
        a, b = population[rng.integers(len(population))], population[rng.integers(len(population))]
        kind = step % 3
        seed = int(rng.integers(1 << 31))
        reference_stream = Counted(np.random.default_rng(seed))
        if kind == 0:
            result = space.mutate(a, np.random.default_rng(seed))
            expected = reference_mutate(space, a, reference_stream, dropped)
        elif kind == 1:
            result = space.crossover(a, b, np.random.default_rng(seed))
            expected = reference_crossover(space, a, b, reference_stream)
        else:
            result = space.self_crossover(a, np.random.default_rng(seed))
            expected = reference_self_crossover(space, a, reference_stream)
        assert result == expected
        assert counted_streams[-1].n == reference_stream.n  # the same random numbers drawn
        outcomes.add((kind, result is None))
        children = [] if result is None else [result] if isinstance(result, Tree) else list(result)
        population = (population + children)[-30:]  # children become parents: tallies reused, extended
    assert {(0, False), (1, False), (2, False)} <= outcomes
    assert name != "removal" or len(dropped) > 20


def test_tallies_and_nth_site_agree_with_the_listed_sites(hierarchical, tmp_path):
    rng = np.random.default_rng(2)
    small = removal_space(tmp_path)
    trees = [hierarchical.sample(rng) for _ in range(5)] + [small.sample(rng) for _ in range(20)]
    # children share all but a few nodes with a tallied parent
    trees += [hierarchical.mutate(t, rng) for t in trees[:5]] + [hierarchical.self_crossover(t, rng) for t in trees[:5]]
    trees += [*hierarchical.crossover(trees[0], trees[1], rng), *small.crossover(trees[5], trees[6], rng)]
    assert None not in trees  # (these seeds give every edit)
    for tree in trees:
        every = [(s.path, s.node, s.parent, s.index) for s in sites(tree, ())]
        total, counts = tally(tree)
        assert total == len(every)
        symbols = list(dict.fromkeys(node.symbol for _, node, _, _ in every))
        assert list(counts) == symbols  # in order of first occurrence
        for symbol in symbols:
            group = [site for site in every if site[1].symbol == symbol]
            assert counts[symbol] == len(group)
            found = [nth_site(tree, i, symbol) for i in range(len(group))]
            assert [(s.path, s.node, s.parent, s.index) for s in found] == group
        excluded = {"O", "ACT"}
        kept = [site for site in every if site[1].symbol not in excluded]
        found = [nth_site(tree, i, None, excluded) for i in range(len(kept))]
        assert [(s.path, s.node, s.parent, s.index) for s in found] == kept
        assert [nth_site(tree, i).node for i in range(total)] == [node for _, node, _, _ in every]
        with pytest.raises(IndexError):
            nth_site(tree, total)
