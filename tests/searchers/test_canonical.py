"""Canonical keys: the built-in graph key (exact, checked against networkx and compiled networks),
user keys registered for a space, searchers that never repeat a key, and the run store's column."""

from __future__ import annotations

import itertools
from collections import defaultdict

import networkx as nx
import numpy as np
import pytest
import torch
from searcher_helpers import drive

from hnas.grammar import load_space
from hnas.searchers import SpaceExhaustedError, canonical_key_for, make_searcher, register_canonical_key
from hnas.searchers.synthetic import op_quality_loss
from hnas.semantics import compile_network
from hnas.semantics.canonical import IDENTITY_OPS, graph_key
from hnas.semantics.graphs import hierarchical_graphs


def cell(space, *ops):
    return space.parse("(CELL Cell " + " ".join(f"(OPS {op})" for op in ops) + ")")


def cells(space, ops):
    for combo in itertools.product(ops, repeat=6):
        try:
            yield cell(space, *combo)
        except ValueError:  # a disconnected cell
            pass


def test_the_shipped_spaces_use_the_graph_key_and_user_grammars_none(cell_space, tmp_path):
    assert canonical_key_for(cell_space) == ("graph", graph_key)
    grammar = tmp_path / "tiny.cfg"
    grammar.write_text('S -> "Linear2" OPS OPS\nOPS -> "id" | "conv3x3"\n')
    assert canonical_key_for(load_space(str(grammar))) == ("none", None)
    assert canonical_key_for(cell_space, "none") == ("none", None)


def test_dead_and_zero_edges_and_identities_are_pruned(cell_space):
    # edges (1,2) (1,3) (2,3) (1,4) (2,4) (3,4); node 3 never reaches the output in the second
    # cell, so its conv1x1 is dead: both compute 2x (x plus id(x)) through different edges
    assert graph_key(cell(cell_space, "id", "zero", "id", "id", "id", "zero")) == graph_key(
        cell(cell_space, "id", "conv1x1", "zero", "id", "id", "zero")
    )
    # conv3x3 on the input, reached directly or through an identity node
    assert graph_key(cell(cell_space, "zero", "zero", "zero", "conv3x3", "zero", "zero")) == graph_key(
        cell(cell_space, "id", "zero", "zero", "zero", "conv3x3", "zero")
    )


def test_different_functions_get_different_keys(cell_space):
    # one conv used twice (2x + 2 conv(x)) versus two independent convs (2x + conv_a(x) + conv_b(x))
    shared = cell(cell_space, "conv1x1", "id", "id", "id", "id", "id")
    separate = cell(cell_space, "id", "conv1x1", "conv1x1", "id", "id", "id")
    assert graph_key(shared) != graph_key(separate)
    # x + x versus x alone
    assert graph_key(cell(cell_space, "id", "zero", "zero", "id", "id", "zero")) != graph_key(
        cell(cell_space, "zero", "zero", "zero", "id", "zero", "zero")
    )


def contracted(tree) -> nx.MultiDiGraph:
    """The oracle: networkx's graph of the tree with identity nodes contracted (as a multigraph)."""
    graph = nx.MultiDiGraph(hierarchical_graphs(tree, 0)[0])
    for node in list(nx.topological_sort(graph)):
        if graph.nodes[node]["label"] in IDENTITY_OPS:
            for p, _ in graph.in_edges(node):
                for _, w in graph.out_edges(node):
                    graph.add_edge(p, w)
            graph.remove_node(node)
    return graph


@pytest.mark.slow
def test_keys_partition_cells_exactly_as_networkx_isomorphism(cell_space):
    trees = list(cells(cell_space, ["id", "zero", "conv3x3", "avg_pool"]))[::6]  # ~650 cells
    classes: list[tuple[nx.MultiDiGraph, list]] = []
    buckets = defaultdict(list)
    for tree in trees:
        graph = contracted(tree)
        bucket = buckets[nx.weisfeiler_lehman_graph_hash(nx.DiGraph(graph), node_attr="label"), graph.size()]
        match = lambda g, h: nx.is_isomorphic(g, h, node_match=lambda a, b: a["label"] == b["label"])  # noqa: E731
        for index in bucket:
            if match(classes[index][0], graph):
                classes[index][1].append(tree)
                break
        else:
            bucket.append(len(classes))
            classes.append((graph, [tree]))
    keys = [{graph_key(t) for t in members} for _, members in classes]
    assert all(len(k) == 1 for k in keys)  # isomorphic: one key
    assert len(set.union(*keys)) == len(classes)  # not isomorphic: different keys
    assert 100 < len(classes) < len(trees)


def constant_network(tree):
    network = compile_network(tree, num_classes=3, rng=np.random.default_rng(0)).eval()
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            parameter.fill_(0.05 if "weight" in name else 0.01)
    return network


def test_merged_cells_have_equal_parameters_and_outputs(cell_space):
    from hnas.semantics import count_parameters

    groups = defaultdict(list)
    for tree in list(cells(cell_space, ["id", "zero", "conv1x1", "avg_pool"]))[::7]:
        groups[graph_key(tree)].append(tree)
    pairs = [members[:2] for members in groups.values() if len(members) > 1][:8]
    assert len(pairs) == 8
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for a, b in pairs:
        net_a, net_b = constant_network(a), constant_network(b)
        assert count_parameters(net_a) == count_parameters(net_b)
        torch.testing.assert_close(net_a(x), net_b(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["random_search", "regularized_evolution", "bayesian_optimization"])
def test_searchers_never_ask_a_known_key(cell_space, name):
    options = {"n_init": 4, "pool_size": 30} if name == "bayesian_optimization" else {}
    if name == "regularized_evolution":
        options = {"population_size": 5, "sample_size": 3}
    searcher = make_searcher(name, cell_space, seed=3, **options)
    asked = drive(searcher, op_quality_loss, 14)
    assert len({graph_key(t) for t in asked}) == 14


def test_a_told_tree_makes_its_equivalents_known(cell_space):
    searcher = make_searcher("random_search", cell_space, seed=0)
    searcher.tell(cell(cell_space, "id", "zero", "id", "id", "id", "zero"), 0.3)  # not asked: warm start
    assert searcher.is_known(cell(cell_space, "id", "conv1x1", "zero", "id", "id", "zero"))
    assert not make_searcher("random_search", cell_space, seed=0, canonical_key="none").is_known(
        cell(cell_space, "id", "conv1x1", "zero", "id", "id", "zero")
    )


def test_a_user_key_registered_for_a_space_merges_its_trees(tmp_path):
    grammar = tmp_path / "pairs.cfg"
    grammar.write_text('S -> "Linear2" OPS OPS\nOPS -> "id" | "conv3x3" | "conv1x1"\n')
    space = load_space(str(grammar))
    leaves = lambda tree: ",".join(sorted(n.op for n in tree.walk() if not n.children))  # noqa: E731
    register_canonical_key("leaf_multiset_test", leaves, spaces=lambda s: s.name.endswith("pairs.cfg"))
    assert canonical_key_for(space)[0] == "leaf_multiset_test"
    searcher = make_searcher("random_search", space, seed=0)
    asked = drive(searcher, op_quality_loss, 6)  # 9 trees, 6 multisets of two of three ops
    assert len({leaves(t) for t in asked}) == 6
    with pytest.raises(SpaceExhaustedError):
        searcher.ask()


def test_the_run_store_records_each_trials_key(tmp_path):
    from hnas.runner import RunConfig, load_trials, run_search

    config = RunConfig(search_space="nb201_fixed_1_none", objective="params", searcher="random_search",
                       max_evaluations_total=6)  # fmt: skip
    run_search(config, tmp_path / "run")
    space = load_space("nb201_fixed_1_none")
    trials = load_trials(tmp_path / "run")
    assert [t.canonical_key for t in trials] == [graph_key(space.parse(t.architecture)) for t in trials]
    run_search(config.replace(canonical_key="none"), tmp_path / "plain")
    assert [t.canonical_key for t in load_trials(tmp_path / "plain")] == [None] * 6
