"""Exact counting: the NB201 cell numbers, and brute-force enumeration on small grammars."""

from __future__ import annotations

import functools
import itertools
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from grammar_checks import connected, disconnected_nodes, write
from hnas.grammar import Tree, load_space
from hnas.grammar.spaces import GRAMMAR_DIR


def test_cell_space_counts(cell_space):
    assert cell_space.count(constrained=False) == 15_625
    assert cell_space.count() == 15_284
    assert cell_space.log10_count() == pytest.approx(math.log10(15_284))


def _count_from_file(path: Path) -> tuple[int, int]:
    """(constrained, unconstrained) size of a grammar file without shared blocks, by a plain recursion
    over its text (no hnas code): a nonterminal has (zero, non-zero) counts; a topology production
    sums, over the zero patterns that keep input and output connected, the products of its children's
    counts; a production listed twice counts once; weights ``[w]`` are ignored."""
    rules: dict[str, set[tuple[str, ...]]] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            lhs, rhs = line.split("->")
            for alt in rhs.split("|"):
                rules.setdefault(lhs.strip(), set()).add(tuple(re.sub(r"\[.*?\]", "", alt).split()))
    start = next(iter(rules))

    @functools.cache
    def counts(item: str, constrained: bool) -> tuple[int, int]:
        if item.startswith('"'):
            return (1, 0) if item == '"zero"' else (0, 1)
        zero = nonzero = 0
        for op, *children in rules[item]:
            if op == '"zero"':
                zero += 1
                continue
            kids = [counts(c, constrained) for c in children]
            for cut in itertools.product((False, True), repeat=len(kids)):
                if constrained and kids and not connected(op.strip('"'), tuple(Tree(None, "zero" if c else "id") for c in cut)):
                    continue
                product = 1
                for (z, nz), c in zip(kids, cut):
                    product *= z if c else nz
                nonzero += product
        return zero, nonzero

    return sum(counts(start, True)), sum(counts(start, False))


def test_hierarchical_space_size_is_the_independently_computed_integer(hierarchical):
    constrained, unconstrained = _count_from_file(GRAMMAR_DIR / "nb201_variable_multi_multi.cfg")
    assert hierarchical.count() == constrained and isinstance(hierarchical.count(), int)
    assert hierarchical.count(constrained=False) == unconstrained
    assert len(str(constrained)) == 376 and str(constrained).startswith("69970233233449491367")
    assert constrained < unconstrained  # the duplicated conv block of the paper's code counts once


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
    allowed_set = set(allowed)
    assert [t for t in set(everything) if (t in space) != (t in allowed_set)] == []  # membership is the constraint
