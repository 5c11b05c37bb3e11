"""Sampling, printing/parsing, mutation and crossover on the named spaces."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest

from grammar_checks import disconnected_nodes, write
from hnas.grammar import GrammarError, Tree, load_space

PAPER_ID = "(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id) (OPS conv3x3))"


def _shared_copies_equal(tree: Tree, symbol: str) -> bool:
    return len({n for n in tree.walk() if n.symbol == symbol}) <= 1


def test_ten_thousand_hierarchical_samples_keep_every_topology_connected(hierarchical):
    rng = np.random.default_rng(0)
    trees = [hierarchical.sample(rng) for _ in range(10_000)]
    verified: set[Tree] = set()
    bad = [t for t in trees if disconnected_nodes(t, verified)]
    assert bad == []
    zero_edges = sum(1 for t in trees[:200] for n in t.walk() if n.op == "zero")
    assert zero_edges > 500  # zero does occur, just never disconnecting


def test_thousand_samples_round_trip(hierarchical, cell_space):
    rng = np.random.default_rng(1)
    for space in (hierarchical, cell_space):
        for i in range(1000):
            tree = space.sample(rng)
            text = space.to_string(tree)
            parsed = space.parse(text)
            assert parsed == tree and str(parsed) == str(tree)
            if i < 100:
                assert space.parse(str(tree)) == tree  # the fully expanded form parses too


def test_same_seed_same_samples(hierarchical):
    first = [hierarchical.sample(np.random.default_rng(7)) for _ in range(3)]
    again = [hierarchical.sample(np.random.default_rng(7)) for _ in range(3)]
    assert first == again
    other = hierarchical.sample(np.random.default_rng(8))
    assert other != first[0]
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert [hierarchical.mutate(first[0], rng_a) for _ in range(3)] == [hierarchical.mutate(first[0], rng_b) for _ in range(3)]


def test_sampling_follows_production_weights(hierarchical):
    rng = np.random.default_rng(2)
    ops = Counter(n.op for _ in range(300) for n in hierarchical.sample(rng).walk() if n.symbol == "OPS")
    # OPS -> id | zero | Linear1 CONVBLOCK (weight 2) | avg_pool; zero is rarer (it may not cut every edge)
    assert 1.8 < ops["Linear1"] / ops["id"] < 2.2
    assert 0.9 < ops["avg_pool"] / ops["id"] < 1.1
    assert 0.5 < ops["zero"] / ops["id"] < 1.0


def test_cell_space_samples_are_uniform_over_ops_per_edge(cell_space):
    rng = np.random.default_rng(4)
    cells = [cell_space.sample(rng) for _ in range(3000)]
    assert all(_shared_copies_equal(t, "CELL") for t in cells[:100])
    assert len({cell_space.to_string(t) for t in cells}) > 2500
    first_edge = Counter(t.children[0].children[0].children[0].op for t in cells)
    assert set(first_edge) == {"id", "zero", "conv3x3", "conv1x1", "avg_pool"}


def test_paper_identifier_parses_to_the_full_network(cell_space):
    tree = cell_space.parse(PAPER_ID)
    assert tree.symbol == "NETWORK" and tree.op == "Linear5"
    cells = [n for n in tree.walk() if n.symbol == "CELL"]
    assert len(cells) == 15 and len(set(cells)) == 1
    assert [n.op for n in tree.children if n.symbol is None] == ["resBlock", "resBlock"]
    assert cell_space.to_string(tree) == PAPER_ID
    assert tree in cell_space


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS idd) (OPS conv3x3))", 60, "operator 'idd'"),
        ("(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id))", 63, "needs more children"),
        ("(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id) (OPS id) (OPS id))", 74, "takes no nonterminal child 7"),
        ("(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id) (OPS conv3x3)", 77, "unclosed '\\(' of CELL opened at position 1"),
        ("(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (CELL id) (OPS id) (OPS conv3x3))", 47, "CELL is not allowed here"),
        ("(CELLS Cell)", 2, "unknown nonterminal 'CELLS'"),
        ("(CELL Cell (OPS id) (OPS id) (OPS id) (OPS zero) (OPS zero) (OPS zero))", 2, "disconnect the input of Cell"),
        ("CELL", 1, "expected '\\(' to start a tree, got 'CELL'"),
        ("", 1, "empty tree string"),
        (f"{PAPER_ID} {PAPER_ID}", 79, "shared block CELL given twice"),
        ("(STAGE Linear5 SharedCell SharedCell SharedCell SharedCell SharedCell)", 1, "expected a tree of"),
    ],
)
def test_parse_errors_point_at_the_first_bad_symbol(cell_space, text, position, message):
    with pytest.raises(GrammarError, match=message) as info:
        cell_space.parse(text)
    assert info.value.position == position


def test_a_zero_on_a_chain_is_rejected_like_on_any_topology(tmp_path):
    space = load_space(write(tmp_path, "chain.cfg", 'C -> "Linear2" O O | "Residual2" O O O\nO -> "conv3x3" | "zero"\n'))
    assert space.count() == 1 + 5  # Linear2: both conv; Residual2: the shortcut or the chain may be cut
    for text in ("(C Linear2 (O conv3x3) (O zero))", "(C Linear2 (O zero) (O zero))"):
        with pytest.raises(GrammarError, match="disconnect the input of Linear2") as info:
            space.parse(text)
        assert info.value.position == 2
    cut = Tree("C", "Linear2", (Tree("O", "conv3x3"), Tree("O", "zero")))
    assert cut not in space
    assert Tree("C", "Linear2", (Tree("O", "conv3x3"), Tree("O", "conv3x3"))) in space


def test_parse_checks_shared_copies_and_main_trees(tmp_path):
    macro = write(tmp_path, "macro.cfg", 'NET -> "Linear2" "Blk" X\nX -> "Blk" | "id"\n')
    with pytest.raises(GrammarError, match="cannot be an operator"):
        load_space([macro, "Blk=" + write(tmp_path, "c.cfg", 'C -> "Linear1" O\nO -> "id" | "conv3x3"\n')])
    macro = write(tmp_path, "macro.cfg", 'NET -> "Linear2" "Blk" X\nX -> "Linear1" "Blk" | "id"\n')
    space = load_space([macro, "Blk=" + write(tmp_path, "c.cfg", 'C -> "Linear1" O\nO -> "id" | "conv3x3"\n')])
    assert space.count() == 4  # 2 main trees x 2 blocks: the block is shared
    tree = space.parse("(NET Linear2 Blk (X Linear1 Blk)) (C Linear1 (O id))")
    assert space.to_string(tree) == "(NET Linear2 Blk (X Linear1 Blk)) (C Linear1 (O id))"
    assert str(tree) == "(NET Linear2 (C Linear1 (O id)) (X Linear1 (C Linear1 (O id))))"
    with pytest.raises(GrammarError, match="occurrences of the shared block C differ"):
        space.parse("(NET Linear2 (C Linear1 (O id)) (X Linear1 (C Linear1 (O conv3x3))))")
    with pytest.raises(GrammarError, match="no derivation given for the shared block Blk"):
        space.parse("(NET Linear2 Blk (X id))")
    with pytest.raises(GrammarError, match="expected a tree of NET first"):
        space.parse("(C Linear1 (O id))")


def test_mutants_always_differ_and_are_valid(hierarchical, cell_space):
    rng = np.random.default_rng(5)
    for space, n in ((hierarchical, 300), (cell_space, 300)):
        tree = space.sample(rng)
        for _ in range(n):
            mutant = space.mutate(tree, rng)
            assert mutant != tree
            assert not disconnected_nodes(mutant)
            assert mutant in space
            tree = mutant
    assert _shared_copies_equal(tree, "CELL")


def test_mutation_of_a_space_with_one_architecture_is_a_clear_error(tmp_path):
    space = load_space(write(tmp_path, "one.cfg", 'A -> "Linear2" B B\nB -> "id"\n'))
    with pytest.raises(GrammarError, match="no subtree has an alternative"):
        space.mutate(space.sample(np.random.default_rng(0)), np.random.default_rng(0))
    with pytest.raises(TypeError, match="expected a hnas.grammar.Tree"):
        space.mutate("(A id)", np.random.default_rng(0))


def test_crossover_children_are_valid_and_swap_equal_nonterminals(hierarchical, cell_space):
    rng = np.random.default_rng(6)
    for space in (hierarchical, cell_space):
        for _ in range(200):
            a, b = space.sample(rng), space.sample(rng)
            children = space.crossover(a, b, rng)
            assert children is not None
            for child in children:
                assert not disconnected_nodes(child)
                assert child in space
            assert children[0] != a and children[1] != b
            if space is hierarchical:  # no shared blocks: the two subtrees trade places, nothing else changes
                ops = Counter(n.op for t in children for n in t.walk())
                assert ops == Counter(n.op for t in (a, b) for n in t.walk())
            single = space.self_crossover(a, rng)
            if single is not None:
                assert single != a and single in space
                assert Counter(n.op for n in single.walk()) == Counter(n.op for n in a.walk())


def test_crossover_without_a_compatible_pair_returns_none(tmp_path):
    space = load_space(write(tmp_path, "g.cfg", 'A -> "Linear1" B | "Linear1" C\nB -> "id" | "conv3x3"\nC -> "avg_pool"\n'))
    a = space.parse("(A Linear1 (B id))")
    c = space.parse("(A Linear1 (C avg_pool))")
    rng = np.random.default_rng(0)
    assert space.crossover(a, a, rng) is None  # identical parents: nothing different to swap
    assert space.crossover(a, c, rng) is None  # only the roots match: swapping them is no crossover
    assert space.self_crossover(a, rng) is None


def test_crossover_never_moves_zero_onto_a_cut_edge(tmp_path):
    space = load_space(write(tmp_path, "g.cfg", 'A -> "Residual2" O O O | "Linear2" O O\nO -> "id" | "zero"\n'))
    a = space.parse("(A Residual2 (O zero) (O id) (O zero))")
    linear = space.parse("(A Linear2 (O id) (O id))")
    rng = np.random.default_rng(0)
    assert space.crossover(a, linear, rng) is None  # a zero would cut the Linear2 chain
    residual = space.parse("(A Residual2 (O id) (O id) (O id))")
    seen = set()
    for _ in range(50):
        children = space.crossover(a, residual, rng)
        assert children is not None and not any(disconnected_nodes(c) for c in children)
        seen.add(children)
    assert len(seen) == 6  # either zero of a (edges 1, 3) with any id edge of residual; all stay connected


def test_crossover_keeps_the_receivers_shared_blocks(tmp_path):
    macro = write(tmp_path, "m.cfg", 'NET -> "Linear2" X Y\nX -> "Linear1" "Blk" | "conv3x3"\nY -> "Linear1" "Blk" | "id"\n')
    space = load_space([macro, "Blk=" + write(tmp_path, "b.cfg", 'B -> "Linear1" O\nO -> "id" | "conv1x1" | "avg_pool"\n')])
    a = space.parse("(NET Linear2 (X conv3x3) (Y Linear1 Blk)) (B Linear1 (O id))")
    b = space.parse("(NET Linear2 (X Linear1 Blk) (Y id)) (B Linear1 (O conv1x1))")
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        child_a, child_b = space.crossover(a, b, rng)
        assert child_a in space and child_b in space
        seen.add(space.to_string(child_a))
    # X swapped: a gets b's X but keeps its own block; Y swapped likewise; B swapped: a gets b's block
    assert seen == {
        "(NET Linear2 (X Linear1 Blk) (Y Linear1 Blk)) (B Linear1 (O id))",
        "(NET Linear2 (X conv3x3) (Y id))",
        "(NET Linear2 (X conv3x3) (Y Linear1 Blk)) (B Linear1 (O conv1x1))",
    }


def test_wide_linear_topology_with_zero_children_loads(tmp_path):
    ops = " ".join(["OPS"] * 40)
    space = load_space(write(tmp_path, "w.cfg", f'A -> "Linear40" {ops}\nOPS -> "id" | "zero" | "conv3x3"\n'))
    assert space.count() == 2**40 and space.count(constrained=False) == 3**40
    tree = space.sample(np.random.default_rng(0))
    assert not disconnected_nodes(tree) and "zero" not in str(tree)


def test_spaces_pickle_and_keep_working(cell_space):
    copy = pickle.loads(pickle.dumps(cell_space))
    assert copy.name == "nb201_fixed_1_none" and copy.count() == 15_284
    tree = copy.sample(np.random.default_rng(0))
    assert tree == cell_space.sample(np.random.default_rng(0))
    assert copy.mutate(tree, np.random.default_rng(1)) in cell_space


def test_trees_are_hashable_picklable_values(hierarchical):
    tree = hierarchical.sample(np.random.default_rng(9))
    copy = pickle.loads(pickle.dumps(tree))
    assert copy == tree and hash(copy) == hash(tree) and copy is not tree
    assert len({tree, copy}) == 1
