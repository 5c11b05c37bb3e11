"""nltk interop: grammars to and from nltk.CFG / nltk.PCFG, trees to and from nltk.Tree."""

from __future__ import annotations

import subprocess
import sys

import nltk
import numpy as np
import pytest

from grammar_checks import write
from hnas.grammar import GrammarError, load_space, tree_from_nltk, tree_to_nltk

PCFG_TEXT = """
NET -> 'Linear2' CELL 'resBlock' [0.6] | 'Residual2' CELL CELL OPS [0.4]
CELL -> 'Diamond2' OPS OPS OPS OPS [1.0]
OPS -> 'id' [0.5] | 'zero' [0.2] | 'conv3x3' [0.3]
"""
FILE_TEXT = """
NET -> "Linear2" CELL "resBlock" [0.6] | "Residual2" CELL CELL OPS [0.4]
CELL -> "Diamond2" OPS OPS OPS OPS
OPS -> "id" [5] | "zero" [2] | "conv3x3" [3]
"""


def test_load_space_accepts_an_nltk_pcfg_with_its_probabilities(tmp_path):
    from_nltk = load_space(nltk.PCFG.fromstring(PCFG_TEXT))
    from_file = load_space(write(tmp_path, "g.cfg", FILE_TEXT))
    assert from_nltk.count() == from_file.count() and from_nltk.count(constrained=False) == 3 ** 4 + 3 ** 9
    assert [(p.op, p.weight) for p in from_nltk.grammar.rules["OPS"]] == [("id", 0.5), ("zero", 0.2), ("conv3x3", 0.3)]
    assert from_nltk.grammar.start == "NET" and from_nltk.spec == ()
    a, b = np.random.default_rng(3), np.random.default_rng(3)  # same relative weights: same samples
    assert [from_nltk.sample(a) for _ in range(200)] == [from_file.sample(b) for _ in range(200)]


def test_load_space_accepts_an_unweighted_nltk_cfg():
    space = load_space(nltk.CFG.fromstring("A -> 'Linear1' B\nB -> 'id' | 'conv1x1'"))
    assert [p.weight for p in space.grammar.rules["B"]] == [1.0, 1.0] and space.count() == 2


def test_to_nltk_round_trips_rules_and_normalised_weights(tmp_path):
    space = load_space(write(tmp_path, "g.cfg", FILE_TEXT))
    pcfg = space.to_nltk()
    assert isinstance(pcfg, nltk.PCFG) and pcfg.start() == nltk.Nonterminal("NET")
    ops = {p.rhs()[0]: p.prob() for p in pcfg.productions(lhs=nltk.Nonterminal("OPS"))}
    assert ops == pytest.approx({"id": 0.5, "zero": 0.2, "conv3x3": 0.3})
    again = load_space(pcfg)
    assert {nt: [(p.op, p.children) for p in alts] for nt, alts in again.grammar.rules.items()} == \
        {nt: [(p.op, p.children) for p in alts] for nt, alts in space.grammar.rules.items()}
    assert again.count() == space.count()


def test_trees_convert_to_nltk_parse_trees_and_back(tmp_path, hierarchical, cell_space):
    small = load_space(write(tmp_path, "g.cfg", FILE_TEXT))
    parser = nltk.ChartParser(small.to_nltk())
    rng = np.random.default_rng(4)
    for _ in range(20):
        tree = small.sample(rng)
        converted = tree_to_nltk(tree)
        # nltk's own parser derives the same tree from the leaves: the two notations agree
        assert converted in list(parser.parse(converted.leaves()))
        assert tree_from_nltk(small, converted) == tree
    for space in (hierarchical, cell_space):
        for _ in range(20):
            tree = space.sample(rng)
            converted = tree_to_nltk(tree)
            assert converted.label() == tree.symbol and converted[0] == tree.op
            assert tree_from_nltk(space, converted) == tree


def test_tree_from_nltk_checks_the_tree_against_the_space(cell_space):
    cut = nltk.Tree("CELL", ["Cell"] + [nltk.Tree("OPS", ["id"])] * 3 + [nltk.Tree("OPS", ["zero"])] * 3)
    with pytest.raises(GrammarError, match="no derivation of nb201_fixed_1_none: 'zero' children disconnect"):
        tree_from_nltk(cell_space, cut)
    with pytest.raises(GrammarError, match="expected Tree\\(NONTERMINAL, \\[op, children...\\]\\)"):
        tree_from_nltk(cell_space, nltk.Tree("CELL", [nltk.Tree("OPS", ["id"])]))


def test_nltk_grammar_errors_name_the_production():
    with pytest.raises(GrammarError) as info:
        load_space(nltk.CFG.fromstring("A -> 'Linear1' B\nB -> C 'id'\nC -> 'id'"))
    assert str(info.value).startswith("<nltk.CFG>:2: a right-hand side must start with an operator terminal")
    with pytest.raises(GrammarError, match=r"^<nltk.CFG>:1: unknown terminal 'Nope'"):
        load_space(nltk.CFG.fromstring("A -> 'Nope' B\nB -> 'id'"))


def test_nltk_is_imported_only_for_interop():
    code = ("import sys, numpy as np, hnas.grammar as g; s = g.load_space('nb201_variable_multi_multi'); "
            "s.mutate(s.sample(np.random.default_rng(0)), np.random.default_rng(1)); print('nltk' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
