"""Hierarchical graphs: exact small cases, levels, caching, agreement with the compiler."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import pytest

from hnas.grammar.tree import Tree
from hnas.semantics import SemanticsError, compile_network, hierarchical_graph_arrays, hierarchical_graphs
from hnas.semantics.build import TERMINAL_ATTRIBUTE
from tests.semantics.conftest import cell


def labelled_edges(graph) -> set[tuple[str, str]]:
    return {(graph.nodes[a]["label"], graph.nodes[b]["label"]) for a, b in graph.edges}


def test_cell_graph_is_the_line_graph_without_zero_edges():
    # edges (1,2) conv3x3, (1,3) zero, (2,3) id, (1,4) avg_pool, (2,4) zero, (3,4) conv1x1
    flattened, level_1 = hierarchical_graphs(cell("conv3x3", "zero", "id", "avg_pool", "zero", "conv1x1"), 1)
    assert sorted(label for _, label in flattened.nodes(data="label")) == sorted(
        ["input", "output", "conv3x3", "id", "avg_pool", "conv1x1"]
    )
    assert labelled_edges(flattened) == {
        ("input", "conv3x3"), ("conv3x3", "id"), ("id", "conv1x1"), ("conv1x1", "output"),
        ("input", "avg_pool"), ("avg_pool", "output"),
    }
    assert level_1 is flattened  # a one-level tree: level 1 is the flattened graph


def test_levels_expand_to_their_depth_and_collapse_deeper_subtrees():
    # the cell's output receives nothing (node 3 gets nothing, (1,4) is zero): the cell is cut,
    # Linear2 with it, so node 2 of Residual2 is dead and its edge (2,3) is pruned as well
    inner = Tree("C", "Linear2", (cell("id", "zero", "zero", "zero", "zero", "conv3x3"), Tree(None, "resBlock")))
    tree = Tree("D", "Residual2", (inner, Tree("OPS", "avg_pool"), Tree(None, "resBlock")))
    flattened, level_1, level_2, level_3, level_4 = hierarchical_graphs(tree, 4)
    assert labelled_edges(level_1) == {("input", "avg_pool"), ("avg_pool", "output")}
    assert level_2 is not flattened and labelled_edges(level_2) == labelled_edges(flattened)
    assert level_3 is flattened and level_4 is flattened


def test_level_graphs_of_a_nested_tree():
    cell_tree = cell("conv3x3", "zero", "zero", "zero", "zero", "zero")  # cut: input never reaches output
    good_cell = cell("zero", "zero", "zero", "conv1x1", "zero", "zero")  # only (1,4)
    assert hierarchical_graphs(cell_tree, 1)[0].number_of_edges() == 0
    stage = Tree("S", "Linear2", (good_cell, good_cell))
    tree = Tree("N", "Residual2", (stage, Tree("OPS", "id"), Tree(None, "conv3x3")))
    flattened, level_1, level_2, level_3 = hierarchical_graphs(tree, 3)
    # Residual2: (1,2) stage, (1,3) id, (2,3) conv3x3
    assert labelled_edges(level_1) == {
        ("input", "Linear2"), ("Linear2", "conv3x3"), ("conv3x3", "output"), ("input", "id"), ("id", "output"),
    }
    assert Counter(label for _, label in level_2.nodes(data="label"))["Cell"] == 2
    assert Counter(label for _, label in flattened.nodes(data="label")) == Counter(
        {"input": 1, "output": 1, "conv1x1": 2, "id": 1, "conv3x3": 1}
    )
    assert level_3 is flattened


def test_graphs_are_cached_and_arrays_match_networkx(hierarchical_space):
    tree = hierarchical_space.sample(np.random.default_rng(11))
    graphs = hierarchical_graphs(tree, hierarchical_space.hierarchy_depth)
    assert len(graphs) == hierarchical_space.hierarchy_depth + 1
    assert hierarchical_graphs(tree, hierarchical_space.hierarchy_depth) is graphs
    same = hierarchical_space.parse(hierarchical_space.to_string(tree))
    assert hierarchical_graphs(same, hierarchical_space.hierarchy_depth) is graphs  # equal trees share the cache
    arrays = hierarchical_graph_arrays(tree, hierarchical_space.hierarchy_depth)
    for graph, (labels, sources, targets) in zip(graphs, arrays):
        assert [graph.nodes[i]["label"] for i in range(len(graph))] == labels
        assert set(graph.edges) == set(zip(sources.tolist(), targets.tolist()))
        reference = nx.DiGraph()  # built through the public API
        reference.add_nodes_from((i, {"label": label}) for i, label in enumerate(labels))
        reference.add_edges_from(zip(sources.tolist(), targets.tolist()))
        assert nx.utils.graphs_equal(graph, reference)
        assert list(graph.predecessors(len(graph) - 1)) == list(reference.predecessors(len(graph) - 1))
    sizes = [len(g) for g in graphs[1:]]
    assert sizes == sorted(sizes) and sizes[-1] == len(graphs[0])  # deeper levels show more


def test_fewer_levels_reuse_the_graphs_of_more(hierarchical_space):
    """A canonical key's flattened graph (0 levels) after a kernel's levels: the same objects,
    equal to a build of its own."""
    rng = np.random.default_rng(12)
    tree = hierarchical_space.sample(rng)
    depth = hierarchical_space.hierarchy_depth
    wide = hierarchical_graph_arrays(tree, depth)
    narrow = hierarchical_graph_arrays(tree, 2)
    assert all(a is b for a, b in zip(narrow, wide)) and len(narrow) == 3
    from hnas.semantics.graphs import _build_arrays

    fresh = _build_arrays(tree, 2)  # uncached
    assert len(hierarchical_graph_arrays(hierarchical_space.sample(rng), 0)) == 1  # nothing wider: built
    for a, b in zip(narrow, fresh):
        assert a.labels == b.labels and np.array_equal(a.sources, b.sources) and np.array_equal(a.targets, b.targets)


def test_flattened_graph_has_exactly_the_compiled_primitives(hierarchical_space):
    rng = np.random.default_rng(5)
    for _ in range(20):
        tree = hierarchical_space.sample(rng)
        labels = Counter(hierarchical_graph_arrays(tree, 0)[0].labels)
        del labels["input"], labels["output"]
        network = compile_network(tree, num_classes=10)
        modules = network.body.modules()
        tags = Counter(m.__dict__[TERMINAL_ATTRIBUTE] for m in modules if TERMINAL_ATTRIBUTE in m.__dict__)
        assert labels == tags


def test_bad_trees_and_levels_are_clear_errors():
    with pytest.raises(SemanticsError, match="'Cell' has 6 edges but has 1 children"):
        hierarchical_graphs(Tree("CELL", "Cell", (Tree("OPS", "id"),)), 1)
    with pytest.raises(ValueError, match="n_levels must be a non-negative integer"):
        hierarchical_graphs(cell(*("id",) * 6), -1)
