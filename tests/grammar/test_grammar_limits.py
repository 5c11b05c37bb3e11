"""Extreme grammars: depth is bounded by memory, not by Python's recursion limit; sizes beyond
what can be printed or counted exactly stop with clear errors; sampling a recursive grammar that
grows without end stops at a node budget."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from grammar_checks import write
from hnas.grammar import GrammarError, Tree, load_space, tree_from_nltk, tree_to_nltk
from hnas.grammar import derivation
from hnas.grammar.analysis import MAX_COUNT_DIGITS


def chain(n: int, alternative: str = "") -> str:
    """A0 -> A1 -> ... -> An through Linear1, An a choice of two primitives."""
    rules = [f'A{i} -> "Linear1" A{i + 1}{alternative}' for i in range(n)]
    return "\n".join(rules + [f'A{n} -> "id" | "conv3x3"']) + "\n"


def doubling(n: int) -> str:
    """c_i = c_{i+1}^2 + 1: a doubly exponential number of architectures."""
    rules = [f'A{i} -> "Linear2" A{i + 1} A{i + 1} | "id"' for i in range(n)]
    return "\n".join(rules + [f'A{n} -> "id" | "conv3x3"']) + "\n"


def test_a_chain_of_5000_nonterminals_works_everywhere(tmp_path):
    space = load_space(write(tmp_path, "chain.cfg", chain(5000)))
    assert space.count() == 2 and space.count(constrained=False) == 2 and space.is_finite
    rng = np.random.default_rng(0)
    tree = space.sample(rng)
    assert tree.depth() == 5001 and tree.size() == 5001
    text = space.to_string(tree)
    assert text.count("(") == 5001 and text.endswith(f"(A5000 {_last(tree)})" + ")" * 5000)
    parsed = space.parse(text)
    assert parsed == tree and hash(parsed) == hash(tree) and parsed is not tree and str(parsed) == text
    assert pickle.loads(pickle.dumps(tree)) == tree
    mutant = space.mutate(tree, rng)
    assert mutant != tree and mutant in space
    # the two chains differ only in their last node: every swap would just exchange them
    assert space.crossover(tree, mutant, rng) is None and space.self_crossover(tree, rng) is None
    assert tree_from_nltk(space, tree_to_nltk(tree)) == tree
    bad = text.replace("(A5000 ", "(A5000 bogus ")
    with pytest.raises(GrammarError, match="A5000 has no production with operator 'bogus'") as info:
        space.parse(bad)
    assert info.value.position == bad.index("bogus") + 1


def _last(tree: Tree) -> str:
    while tree.children:
        tree = tree.children[0]
    return tree.op


def test_deep_trees_compare_hash_and_pickle_without_recursion():
    leaf = Tree("X", "id")
    a = b = leaf
    for _ in range(20_000):
        a, b = Tree("X", "Linear1", (a,)), Tree("X", "Linear1", (b,))
    assert a == b and hash(a) == hash(b) and a is not b
    assert a.depth() == 20_001 and a.size() == 20_001
    assert pickle.loads(pickle.dumps(a)) == a
    c = Tree("X", "Linear1", (Tree("X", "conv3x3"),))
    for _ in range(19_999):
        c = Tree("X", "Linear1", (c,))
    assert c != a and len(str(c)) == len(str(a)) + len("conv3x3") - len("id")


def test_shared_subtrees_pickle_once_and_stay_shared(cell_space):
    tree = cell_space.sample(np.random.default_rng(0))
    copy = pickle.loads(pickle.dumps(tree))
    cells = {id(n) for n in copy.walk() if n.symbol == "CELL"}
    assert copy == tree and len(cells) == 1


@pytest.mark.slow
def test_a_chain_of_50000_nonterminals_loads_and_samples(tmp_path):
    space = load_space(write(tmp_path, "chain.cfg", chain(50_000, ' | "id"')))
    assert space.count() == 50_001 + 1  # stop at A_i with id (i < 50,000) or A_50000 with id / conv3x3
    rng = np.random.default_rng(0)
    tree = space.sample(rng)
    assert space.parse(space.to_string(tree)) == tree


def test_doubly_exponential_space_at_depth_40_gives_its_log10(tmp_path):
    space = load_space(write(tmp_path, "d.cfg", doubling(40)))
    expected = math.log10(2)  # A40: 2 architectures; A_i: c^2 + 1, in log10 space
    for _ in range(40):
        expected = 2 * expected + math.log10(1 + 10 ** (-2 * expected))
    assert space.log10_count() == pytest.approx(expected, rel=1e-9)
    with pytest.raises(GrammarError, match=f"the space has about 10\\^{expected:.2f} architectures: too many to count "
                                           f"exactly \\(exact counts stop at {MAX_COUNT_DIGITS:,} digits\\)"):
        space.count()
    assert space.sample(np.random.default_rng(0)) in space


def test_counts_beyond_python_printing_limit_are_exact(tmp_path):
    space = load_space(write(tmp_path, "d.cfg", doubling(15)))
    expected = 2
    for _ in range(15):
        expected = expected * expected + 1
    assert space.count() == expected and expected.bit_length() > 4300 * 3.33


def test_runaway_recursion_stops_at_the_node_budget(tmp_path, monkeypatch):
    space = load_space(write(tmp_path, "r.cfg", 'A -> "Linear2" A A [9] | "id" [1]\n'))
    monkeypatch.setattr(derivation, "MAX_SAMPLE_NODES", 2000)
    with pytest.raises(GrammarError, match="sampling A passed 2,000 topology nodes: lower the weights of its recursive"):
        for seed in range(20):  # the branching process is supercritical: it survives with probability 8/9
            space.sample(np.random.default_rng(seed))
