"""Exact counting: the NB201 cell numbers, and brute-force enumeration on small grammars."""

from __future__ import annotations

import itertools
import math
import time
import warnings

import numpy as np
import pytest

from grammar_checks import disconnected_nodes, write
from hnas.grammar import Tree, load_space


def test_cell_space_counts(cell_space):
    assert cell_space.count(constrained=False) == 15_625
    assert cell_space.count() == 15_284
    assert cell_space.log10_count() == pytest.approx(math.log10(15_284))


def test_hierarchical_space_is_counted_exactly_and_fast(hierarchical):
    from hnas.grammar.analysis import Analysis

    started = time.perf_counter()
    size = Analysis(hierarchical.grammar).count()
    elapsed = time.perf_counter() - started
    assert size == hierarchical.count() and isinstance(size, int)
    assert 375 < math.log10(size) < 376  # the duplicated conv block counts once
    assert hierarchical.count() < hierarchical.count(constrained=False)
    assert elapsed < 0.1


def _all_trees(grammar, symbol: str) -> list[Tree]:
    """Every derivation of ``symbol``, ignoring constraints and sharing (brute force)."""
    out = []
    for prod in grammar.rules[symbol]:
        options = [[Tree(None, c.name)] if c.terminal else _all_trees(grammar, c.name) for c in prod.children]
        out.extend(Tree(symbol, prod.op, children) for children in itertools.product(*options))
    return out


def _shared_consistent(tree: Tree, shared: set[str]) -> bool:
    seen: dict[str, Tree] = {}
    return all(seen.setdefault(n.symbol, n) == n for n in tree.walk() if n.symbol in shared)


SMALL = [
    # (main grammar, shared sub-grammars)
    ('A -> "Cell" O O O O O O\nO -> "id" | "zero" | "conv3x3"\n', {}),
    ('A -> "Diamond2" O O P P | "Residual2" P O "zero"\nO -> "id" | "zero"\nP -> "Linear1" O | "zero" | "avg_pool"\n', {}),
    ('A -> "Residual3" B O O B | "Linear2" B "resBlock"\nB -> "Linear2" O O | "Residual2" O O O\nO -> "id" | "zero" | "avg_pool" | "id"\n', {}),
    ('N -> "Linear3" "Blk" M "Blk" | "Residual2" "Blk" "zero" M\nM -> "id" | "zero" | "Linear1" "Blk"\n',
     {"Blk": 'X -> "Diamond2" Y Y Y Y | "conv1x1"\nY -> "id" | "zero"\n'}),
    ('N -> "Residual2" "B1" "B2" "B1" | "Linear1" "B2"\n',
     {"B1": 'P -> "Linear2" Q "B2" | "id"\nQ -> "conv3x3" | "zero" | "id"\n', "B2": 'R -> "Residual2" S S S\nS -> "zero" | "id"\n'}),
]


@pytest.mark.parametrize(("main", "blocks"), SMALL)
def test_counts_equal_brute_force(tmp_path, main, blocks):
    items = [write(tmp_path, "main.cfg", main)]
    items += [f"{name}={write(tmp_path, name + '.cfg', text)}" for name, text in blocks.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one grammar lists a production twice
        space = load_space(items)
    grammar = space.grammar
    shared = set(grammar.shared.values())
    everything = [t for t in _all_trees(grammar, grammar.start) if _shared_consistent(t, shared)]
    allowed = [t for t in everything if not disconnected_nodes(t)]
    assert space.count(constrained=False) == len(set(everything))
    assert space.count() == len(set(allowed))
    assert 0 < len(allowed) < len(everything)
    samples = {space.sample(np.random.default_rng(s)) for s in range(300)}
    assert samples <= set(allowed)
