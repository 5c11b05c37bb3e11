"""WL kernels on the hierarchical graphs of both named spaces: grakel as oracle, PSD, caching."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
from grakel_oracle import grakel_gram

from hnas.grammar import Tree, load_space
from hnas.kernels.hierarchical import TreeWLFeatures
from hnas.semantics import hierarchical_graphs

SPACES = ("nb201_variable_multi_multi", "nb201_fixed_1_none")


def space_and_trees(name: str, n: int, seed: int = 0) -> tuple[object, list[Tree]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hierarchical grammar warns about its weighted production
        space = load_space(name)
    rng = np.random.default_rng(seed)
    return space, [space.sample(rng) for _ in range(n)]


@pytest.mark.parametrize("name", SPACES)
def test_every_graph_and_depth_matches_grakel(name: str) -> None:
    space, trees = space_and_trees(name, 30)
    n_levels = space.hierarchy_depth
    features = TreeWLFeatures(n_levels, (4,) + (2,) * n_levels)
    components = [(0, d) for d in range(5)] + [(j, 2) for j in range(1, n_levels + 1)]
    ours = features.gram(trees, None, components)
    graphs = [hierarchical_graphs(t, n_levels) for t in trees]
    for c, (j, depth) in enumerate(components):
        expected = grakel_gram([g[j] for g in graphs], depth)
        np.testing.assert_allclose(ours[c], expected, atol=1e-6, rtol=0, err_msg=f"graph {j}, depth {depth}")


@pytest.mark.parametrize("name", SPACES)
def test_gram_is_psd_with_unit_diagonal(name: str) -> None:
    space, trees = space_and_trees(name, 60, seed=1)
    features = TreeWLFeatures(space.hierarchy_depth, (4, 2))
    for k in features.gram(trees, None, [(0, 0), (0, 2), (0, 4), (1, 2)]):
        np.testing.assert_array_equal(np.diag(k), 1.0)
        np.testing.assert_allclose(k, k.T, atol=1e-12)
        assert np.linalg.eigvalsh(k).min() > -1e-9


def test_cross_gram_agrees_with_the_joint_gram() -> None:
    """Features of trees met at different times (a pool after a training set) are comparable."""
    space, trees = space_and_trees("nb201_variable_multi_multi", 40, seed=2)
    components = [(0, 3), (2, 2), (4, 2)]
    joint = TreeWLFeatures(space.hierarchy_depth, (4, 2, 2, 2, 2)).gram(trees, None, components)
    staged = TreeWLFeatures(space.hierarchy_depth, (4, 2, 2, 2, 2))
    staged.features(trees[:25])
    cross = staged.gram(trees[25:], trees[:25], components)
    np.testing.assert_allclose(cross, joint[:, 25:, :25], atol=1e-12)
    np.testing.assert_array_equal(staged.self_similarity(trees[25:], components), 1.0)


def test_label_dictionary_stays_bounded_over_many_calls_on_fresh_trees() -> None:
    """A BO run scores fresh candidates every step: dead trees' labels are dropped, results exact."""
    space, train = space_and_trees("nb201_variable_multi_multi", 20, seed=6)
    components = [(0, 4), (1, 2), (3, 2)]
    depths = (4,) + (2,) * space.hierarchy_depth
    features = TreeWLFeatures(space.hierarchy_depth, depths, min_compact_labels=3000)
    rng = np.random.default_rng(7)
    sizes = []
    for _ in range(25):
        pool = [space.sample(rng) for _ in range(15)]
        cross = features.gram(pool, train, components)
        # A fresh instance (no compaction yet, other label ids) gives the very same kernel.
        expected = TreeWLFeatures(space.hierarchy_depth, depths).gram(pool, train, components)
        np.testing.assert_allclose(cross, expected, atol=1e-12, rtol=0)
        sizes.append(features.n_labels)
    assert max(sizes) < 2 * sizes[0]  # without compaction the dictionary ends ~10x its first size


def test_features_are_cached_per_tree_while_the_tree_lives() -> None:
    space, trees = space_and_trees("nb201_fixed_1_none", 12, seed=3)
    calls: list[str] = []

    def graphs_of(tree: Tree) -> tuple:
        calls.append(str(tree))
        return hierarchical_graphs(tree, space.hierarchy_depth)

    features = TreeWLFeatures(space.hierarchy_depth, (2,), graphs_of=graphs_of)
    first = features.features(trees[:5])
    assert features.features(trees[:5])[2] is first[2]
    # An equal tree built anew (parsed from its string) finds the cached features.
    assert features.features([space.parse(str(trees[2]))])[0] is first[2]
    assert len(calls) == 5
    features.features(trees)
    assert len(calls) == 12
    del trees[6:], first
    gc.collect()
    assert len(features._cache) == 6  # the features of dropped trees are freed with them


def test_a_cache_hit_survives_its_key_being_freed_during_extraction() -> None:
    space, (first, other) = space_and_trees("nb201_fixed_1_none", 2, seed=5)
    holder = [first]
    twin = space.parse(space.to_string(first))  # equal to `first`, another object
    assert twin == first and twin is not first and other != first
    del first

    def graphs_of(tree: Tree) -> tuple:
        if tree == other:
            holder.clear()  # frees the tree object that keys the cached entry `twin` hits
        return hierarchical_graphs(tree, space.hierarchy_depth)

    features = TreeWLFeatures(space.hierarchy_depth, (2,), graphs_of=graphs_of)
    expected = features.features(holder)[0]
    got = features.features([twin, other])
    assert got[0] is expected and len(got) == 2


def test_levels_beyond_the_tree_reuse_the_flattened_features() -> None:
    space, trees = space_and_trees("nb201_fixed_1_none", 5, seed=4)
    n_levels = space.hierarchy_depth
    features = TreeWLFeatures(n_levels, (4,) + (2,) * n_levels)
    for tree, feats in zip(trees, features.features(trees)):
        graphs = hierarchical_graphs(tree, n_levels)
        for j in range(1, n_levels + 1):
            assert (feats[j] is feats[0]) == (graphs[j] is graphs[0])
        assert any(feats[j] is feats[0] for j in range(1, n_levels + 1))


def test_bad_components_and_settings_are_rejected() -> None:
    space, trees = space_and_trees("nb201_fixed_1_none", 3)
    features = TreeWLFeatures(space.hierarchy_depth, (2, 2))
    with pytest.raises(ValueError, match=r"component \(graph 0, depth 3\)"):
        features.gram(trees, None, [(0, 3)])
    with pytest.raises(ValueError, match=r"component \(graph 2, depth 1\)"):
        features.gram(trees, None, [(2, 1)])
    with pytest.raises(ValueError, match="WL depths"):
        TreeWLFeatures(1, (2, 2, 2))
    with pytest.raises(TypeError, match="derivation trees"):
        features.features(["(CELL Cell ...)"])


def test_graphs_met_before_reuse_their_features_and_give_the_same_kernel() -> None:
    """Children share most hierarchy levels with their parents: those features are reused by graph
    content, and the kernel equals the one extracted from scratch (also across compactions)."""
    from test_wl import edited_trees

    trees, n_levels = edited_trees(80, seed=11)
    depths = (4,) + (2,) * n_levels
    components = [(0, d) for d in range(5)] + [(j, 2) for j in range(1, n_levels + 1)]
    warm = TreeWLFeatures(n_levels, depths, min_compact_labels=2000)
    for start in range(0, len(trees), 9):  # parents first, children in later calls, as a pool breeds
        warm.features(trees[start : start + 9])
    scratch = TreeWLFeatures(n_levels, depths, max_content_graphs=0)
    np.testing.assert_allclose(
        warm.gram(trees, None, components), scratch.gram(trees, None, components), atol=1e-12, rtol=0
    )
    feats = warm.features(trees)
    shared = {id(f[1]) for f in feats}
    assert len(shared) < len(trees) // 4  # level 1 is extracted once per distinct graph, not per tree


def test_features_go_as_deep_as_a_gram_needs_and_deeper_later() -> None:
    """Candidates are extracted to the depth asked for; a deeper Gram later extracts them again,
    and every Gram equals one from a fresh instance."""
    space, trees = space_and_trees("nb201_variable_multi_multi", 25, seed=13)
    n_levels = space.hierarchy_depth
    depths = (4,) + (2,) * n_levels
    features = TreeWLFeatures(n_levels, depths)
    features.gram(trees, None, [(0, 1), (2, 2)])
    assert {f[0].depth for f in features.features(trees, [0] * (n_levels + 1))} == {1}  # no deeper rounds
    for components in ([(0, 1), (2, 2)], [(0, 4), (0, 1), (3, 1)], [(0, 2)]):
        ours = features.gram(trees[:15], trees[10:], components)
        expected = TreeWLFeatures(n_levels, depths).gram(trees[:15], trees[10:], components)
        np.testing.assert_array_equal(ours, expected)
        need = max(d for j, d in components if j == 0)
        assert min(f[0].depth for f in features.features(trees, [need] + [0] * n_levels)) >= need
    assert features.features(trees[:1], [1] + [0] * n_levels)[0][0].depth == 4  # deeper cache serves
    with pytest.raises(ValueError, match="outside the extracted"):
        features.features(trees, [5] + [0] * n_levels)


def test_cross_grams_reuse_their_reference_across_label_compactions() -> None:
    """The right-hand side of cross Grams is kept between calls; a compaction in between (labels
    renumbered) rebuilds it, and every call equals the joint Gram."""
    space, trees = space_and_trees("nb201_variable_multi_multi", 60, seed=5)
    components = ((0, 2), (1, 2), (3, 1))
    joint = TreeWLFeatures(space.hierarchy_depth, (4, 2, 2, 2)).gram(trees, None, components)
    staged = TreeWLFeatures(space.hierarchy_depth, (4, 2, 2, 2))
    staged.features(space_and_trees("nb201_variable_multi_multi", 20, seed=6)[1])  # lowest label ids, freed
    gc.collect()
    reference = trees[:20]
    for start in (20, 30, 40, 50):
        cross = staged.gram(trees[start : start + 10], reference, components)
        np.testing.assert_allclose(cross, joint[:, start : start + 10, :20], atol=1e-12)
        del cross
        if start == 30:  # the freed trees' labels are dropped, the others renumbered
            n_labels = staged.n_labels
            staged._compact()
            assert staged.n_labels < n_labels


def test_flattened_depth_zero_features_of_bred_trees_come_from_label_counts_exactly() -> None:
    """Incremental features: at depth 0 the flattened graph's features are its label counts,
    composed on the tree from its subtrees' counts (shared with its parents), and the graph is never
    built; they equal grakel's on the built graphs, alone and across a cross Gram."""
    from test_wl import edited_trees

    from hnas.semantics import graphs as graph_module

    trees, n_levels = edited_trees(60, seed=3)
    features = TreeWLFeatures(n_levels, (4,) + (2,) * n_levels)
    ours = features.gram(trees, None, [(0, 0), (2, 2)])
    assert not any(0 in graph_module._ARRAY_CACHE.get(t, {}) for t in trees[20:])  # bred: never built
    cross = features.gram(trees[:20], trees[20:], [(0, 0), (2, 2)])
    graphs = [hierarchical_graphs(t, n_levels) for t in trees]
    for c, j, depth in ((0, 0, 0), (1, 2, 2)):
        expected = grakel_gram([g[j] for g in graphs], depth)
        np.testing.assert_allclose(ours[c], expected, atol=1e-12, rtol=0)
        np.testing.assert_allclose(cross[c], expected[:20, 20:], atol=1e-12, rtol=0)
