"""The graph memo (analyses of topology nodes, fragments of cells and blocks spliced into graphs,
level graphs shared by structure, across trees) gives the graphs emitted from scratch."""

from __future__ import annotations

import math
from weakref import WeakKeyDictionary

import numpy as np
import pytest

from hnas.grammar import load_space, register_topology
from hnas.grammar.tree import Tree
from hnas.semantics import graphs
from hnas.semantics.graphs import hierarchical_graph_arrays, topology_depth


def _fresh_arrays(tree: Tree, n_levels: int) -> tuple:
    """The graphs of ``tree`` emitted node by node: an empty memo, no per-tree cache, no spliced
    fragments (nothing reused)."""
    saved = graphs._memo, graphs._ARRAY_CACHE, graphs._FRAGMENT_HEIGHT
    graphs._memo, graphs._ARRAY_CACHE, graphs._FRAGMENT_HEIGHT = {}, WeakKeyDictionary(), math.inf
    try:
        return graphs._build_arrays(tree, n_levels)
    finally:
        graphs._memo, graphs._ARRAY_CACHE, graphs._FRAGMENT_HEIGHT = saved


def _build_uncached(tree: Tree):
    """The flattened graph of ``tree`` built again with the memo as it is (no per-tree cache)."""
    saved = graphs._ARRAY_CACHE
    graphs._ARRAY_CACHE = WeakKeyDictionary()
    try:
        return graphs._build_arrays(tree, 0)[0]
    finally:
        graphs._ARRAY_CACHE = saved


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(
        x.labels == y.labels and np.array_equal(x.sources, y.sources) and np.array_equal(x.targets, y.targets)
        for x, y in zip(a, b)
    )


@pytest.fixture(scope="module")
def bred() -> list[Tree]:
    """Random, mutated, crossed-over and self-crossed trees of the hierarchical space: children share
    most subtree objects with their parents, so their analysis mostly hits the memo."""
    space = load_space("nb201_variable_multi_multi")
    rng = np.random.default_rng(7)
    trees = [space.sample(rng) for _ in range(8)]
    for _ in range(40):
        a, b = trees[rng.integers(len(trees))], trees[rng.integers(len(trees))]
        trees.append(space.mutate(a, rng))
        pair = space.crossover(a, b, rng)
        trees.extend(pair or ())
        child = space.self_crossover(a, rng)
        if child is not None:
            trees.append(child)
    return trees


def test_memoised_graphs_equal_graphs_from_scratch(bred, monkeypatch):
    monkeypatch.setattr(graphs, "_memo", {})  # only this test's entries (earlier tests' are kept)
    n_levels = 6
    for tree in bred:
        memoised = hierarchical_graph_arrays(tree, n_levels)
        assert _same(memoised, _fresh_arrays(tree, n_levels))
        assert topology_depth(tree) == 6  # the space's trees nest six topologies deep
    assert len(graphs._memo) < sum(t.size() for t in bred)  # shared subtrees were analysed once
    # Subtrees met again were spliced from fragments, blocks above the cells too.
    memo = graphs._memo
    built = [
        key[0] for key, entry in memo.items() if isinstance(key, tuple) and isinstance(key[1], int) and len(entry) > 1
    ]
    assert max(memo[node][2] for node in built if node in memo) > graphs._FRAGMENT_HEIGHT


def test_trees_of_one_structure_at_a_level_share_its_graph(bred):
    """A level where a bred tree has its parent's structure (ops down to that depth, and which nodes
    there output nothing) is its parent's graph object; every graph equals the graph from scratch,
    also in a cell space, where zero edges cut whole paths."""
    for level in range(1, 6):
        at_level = [graphs.hierarchical_graph_level(tree, level) for tree in bred]
        for tree, graph in zip(bred, at_level):
            assert _same((graph,), _fresh_arrays(tree, level)[level:])
        distinct = len({id(graph) for graph in at_level})
        assert distinct < len(bred) / (3 if level <= 3 else 1.2), level  # shared with parents
    cell = load_space("nb201_fixed_1_none")
    rng = np.random.default_rng(5)
    cells = [cell.sample(rng) for _ in range(20)]
    cells += [cell.mutate(cells[i % 20], rng) for i in range(60)]
    for tree in cells:
        assert _same(tuple(graphs.hierarchical_graph_level(tree, k) for k in (0, 1)), _fresh_arrays(tree, 1))


def test_graphs_built_after_the_flattened_one_equal_graphs_from_scratch(bred):
    """A canonical key builds the flattened graph alone first; the levels added later match."""
    for tree in bred[:20]:
        copy = Tree(tree.symbol, tree.op, tree.children)  # a new object: no per-tree cache yet
        flat = hierarchical_graph_arrays(copy, 0)
        wider = hierarchical_graph_arrays(copy, 4)
        assert wider[0] is flat[0]
        assert _same(wider, _fresh_arrays(tree, 4))


def test_memo_follows_a_replaced_topology():
    register_topology("TestMemoSwap2", [(1, 2), (2, 3)])
    tree = Tree("S", "TestMemoSwap2", (Tree("A", "conv"), Tree("A", "pool")))
    chain = hierarchical_graph_arrays(tree, 0)[0]
    assert (chain.sources.tolist(), chain.targets.tolist()) == ([0, 1, 2], [1, 2, 3])
    register_topology("TestMemoSwap2", [(1, 2), (1, 2)], replace=True)  # now two parallel edges
    fork = _build_uncached(tree)  # the same node objects: the memo must not keep the old plan
    assert chain.labels == fork.labels
    assert sorted(zip(fork.sources.tolist(), fork.targets.tolist())) == [(0, 1), (0, 2), (1, 3), (2, 3)]


def test_memo_starts_afresh_past_its_size(monkeypatch, bred):
    monkeypatch.setattr(graphs, "_MEMO_SIZE", 50)
    for tree in bred[:10]:
        assert _same(graphs._build_arrays(tree, 3), _fresh_arrays(tree, 3))
        assert len(graphs._memo) <= 50 + tree.size()


def test_label_counts_composed_per_subtree_equal_the_labels_of_graphs_from_scratch(bred):
    """The flattened graph's label counts, composed from memoised subtree counts (a bred tree
    reuses its parents'), equal the labels of its graph emitted node by node."""
    from collections import Counter

    from hnas.semantics import flattened_label_counts

    for tree in bred:
        assert flattened_label_counts(tree) == Counter(_fresh_arrays(tree, 0)[0].labels)
    cell = load_space("nb201_fixed_1_none")
    rng = np.random.default_rng(3)
    for tree in (cell.sample(rng) for _ in range(30)):  # zero edges cut whole paths here
        assert flattened_label_counts(tree) == Counter(_fresh_arrays(tree, 0)[0].labels)


def test_building_graphs_leaves_no_reference_cycles(bred):
    """Emission creates no cyclic garbage (a recursive closure per graph did: thousands of cycles per
    BO step, with their edge lists, left to the garbage collector)."""
    import gc

    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for tree in bred[:30]:
            graphs._build_arrays(tree, 6)
            graphs._emit(tree, graphs._Analysis(tree), 2, "Cell")  # what tree_graph draws
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()
