"""The WL subtree kernel against grakel (the oracle) on random directed labelled graphs."""

from __future__ import annotations

import dataclasses
from collections import Counter

import networkx as nx
import numpy as np
import pytest
from grakel_oracle import grakel_gram

from hnas.kernels import WLFeaturizer, feature_matrix, gram, normalise_gram
from hnas.kernels.wl import symmetric_grams, used_labels


def random_graph(rng: np.random.Generator, labels: str = "abcd") -> nx.DiGraph:
    """A random directed graph (cycles, sinks, isolated nodes allowed) with node labels."""
    n = int(rng.integers(1, 15))
    graph = nx.DiGraph()
    # Node names are shuffled strings so that node order and identity play no role.
    names = [f"v{i}" for i in rng.permutation(n)]
    for name in names:
        graph.add_node(name, label=str(rng.choice(list(labels))))
    for _ in range(int(rng.integers(0, 3 * n))):
        u, v = rng.choice(n, size=2, replace=False) if n > 1 else (0, 0)
        if u != v:
            graph.add_edge(names[u], names[v])
    return graph


def our_gram(featurizer: WLFeaturizer, a: list[nx.DiGraph], depth: int, b: list[nx.DiGraph] | None = None) -> np.ndarray:
    fa = featurizer.features(a, depth)
    fb = fa if b is None else featurizer.features(b, depth)
    xa = feature_matrix(fa, featurizer.n_labels, 0, depth)
    xb = feature_matrix(fb, featurizer.n_labels, 0, depth)
    return normalise_gram(
        gram(xa, xb), np.array([f.sq_norms[depth] for f in fa]), np.array([f.sq_norms[depth] for f in fb])
    )


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
def test_matches_grakel_on_random_graphs(depth: int) -> None:
    rng = np.random.default_rng(depth)
    graphs = [random_graph(rng) for _ in range(40)]
    ours = our_gram(WLFeaturizer(), graphs, depth)
    np.testing.assert_allclose(ours, grakel_gram(graphs, depth), atol=1e-6, rtol=0)
    assert np.ptp(ours) > 0.5  # the graphs differ: a constant kernel would not test much


@pytest.mark.parametrize("depth", [1, 3])
def test_cross_gram_matches_grakel_transform(depth: int) -> None:
    """Features extracted in separate batches share one dictionary, like grakel's fit/transform."""
    rng = np.random.default_rng(10 + depth)
    train = [random_graph(rng) for _ in range(25)]
    test = [random_graph(rng, labels="abcde") for _ in range(15)]  # 'e' unseen at fit
    featurizer = WLFeaturizer()
    featurizer.features(train, depth)
    ours = our_gram(featurizer, test, depth, train)
    np.testing.assert_allclose(ours, grakel_gram(train, depth, test), atol=1e-6, rtol=0)


def test_edge_direction_matters() -> None:
    """a -> b and b -> a have the same depth-0 features but differ from depth 1 on."""
    forward, backward = nx.DiGraph(), nx.DiGraph()
    for g in (forward, backward):
        g.add_node(0, label="a")
        g.add_node(1, label="b")
    forward.add_edge(0, 1)
    backward.add_edge(1, 0)
    featurizer = WLFeaturizer()
    assert our_gram(featurizer, [forward], 0, [backward])[0, 0] == pytest.approx(1.0)
    assert our_gram(featurizer, [forward], 1, [backward])[0, 0] == pytest.approx(0.5)  # only the 2 initial labels agree


def test_label_dictionary_is_shared_across_batches() -> None:
    rng = np.random.default_rng(3)
    graphs = [random_graph(rng) for _ in range(10)]
    featurizer = WLFeaturizer()
    together = featurizer.features(graphs, 2)
    size = featurizer.n_labels
    again = featurizer.features(graphs[::-1], 2)
    assert featurizer.n_labels == size  # nothing new on a second pass
    for f, g in zip(together, again[::-1]):
        np.testing.assert_array_equal(f.indices, g.indices)
        np.testing.assert_array_equal(f.counts, g.counts)


def test_new_labels_get_ids_in_order_of_first_occurrence() -> None:
    """Iteration-0 labels are numbered as met, across batches; a batch that fails on an unhashable
    label keeps the ids it handed out consistent with the dictionary's size."""
    from hnas.semantics import GraphArrays

    featurizer = WLFeaturizer()
    none = np.empty(0, dtype=np.int64)
    first = featurizer.features([GraphArrays(["b", "a", "b"], none, none)], 0)[0]
    np.testing.assert_array_equal(first.indices, [0, 1])  # b -> 0, a -> 1
    np.testing.assert_array_equal(first.counts, [2, 1])
    with pytest.raises(TypeError):
        featurizer.features([GraphArrays(["c", ["unhashable"]], none, none)], 0)
    assert featurizer.n_labels == 3  # 'c' got id 2 before the failure
    later = featurizer.features([GraphArrays(["d", "a", "c"], none, none)], 0)[0]
    np.testing.assert_array_equal(later.indices, [1, 2, 3])
    assert featurizer.n_labels == 4


def test_retain_keeps_features_comparable_and_drops_the_rest() -> None:
    """After dropping unused labels, renumbered old features still match grakel on new graphs."""
    rng = np.random.default_rng(6)
    train = [random_graph(rng) for _ in range(25)]
    test = [random_graph(rng, labels="abcde") for _ in range(15)]
    featurizer = WLFeaturizer()
    old = featurizer.features(train, 3)
    featurizer.features([random_graph(rng, labels="abcxyz") for _ in range(100)], 3)  # then dropped
    kept = used_labels(old)
    new_id = featurizer.retain(kept)
    assert featurizer.n_labels == len(kept)
    renumbered = [dataclasses.replace(f, indices=new_id[f.indices]) for f in old]
    for f, again in zip(renumbered, featurizer.features(train, 3)):
        np.testing.assert_array_equal(f.indices, again.indices)  # the dictionary agrees with them
    assert featurizer.n_labels == len(kept)
    fresh = featurizer.features(test, 3)
    n = featurizer.n_labels
    k = gram(feature_matrix(fresh, n, 0, 3), feature_matrix(renumbered, n, 0, 3))
    normalised = normalise_gram(
        k, np.array([f.sq_norms[3] for f in fresh]), np.array([f.sq_norms[3] for f in renumbered])
    )
    np.testing.assert_allclose(normalised, grakel_gram(train, 3, test), atol=1e-6, rtol=0)


def test_retain_rejects_labels_that_are_not_whole_features() -> None:
    rng = np.random.default_rng(7)
    featurizer = WLFeaturizer()
    feats = featurizer.features([random_graph(rng) for _ in range(5)], 2)
    with pytest.raises(ValueError, match="not closed under WL signatures"):
        featurizer.retain(np.unique(np.concatenate([f.indices[f.ptr[2] :] for f in feats])))
    with pytest.raises(ValueError, match="sorted, distinct"):
        featurizer.retain(np.array([3, 1]))


def test_features_count_nodes_per_iteration() -> None:
    rng = np.random.default_rng(4)
    graphs = [random_graph(rng) for _ in range(8)]
    for graph, f in zip(graphs, WLFeaturizer().features(graphs, 3)):
        per_iteration = [f.counts[f.ptr[i] : f.ptr[i + 1]].sum() for i in range(4)]
        assert per_iteration == [graph.number_of_nodes()] * 4


def test_empty_graph_has_zero_similarity() -> None:
    empty, single = nx.DiGraph(), nx.DiGraph()
    single.add_node(0, label="a")
    k = our_gram(WLFeaturizer(), [empty, single], 2)
    np.testing.assert_array_equal(k, [[0.0, 0.0], [0.0, 1.0]])


def test_missing_label_is_a_clear_error() -> None:
    graph = nx.DiGraph()
    graph.add_node("x")
    with pytest.raises(ValueError, match="node 'x' has no 'label' attribute"):
        WLFeaturizer().features([graph], 1)


def test_bad_depth_and_graph_type_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        WLFeaturizer().features([nx.DiGraph()], -1)
    with pytest.raises(TypeError, match="networkx.DiGraph"):
        WLFeaturizer().features([nx.Graph()], 1)


def test_hash_collisions_fall_back_to_the_exact_grouping(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a degenerate row hash (the plain sum, colliding all the time) results are unchanged."""
    import hnas.kernels.wl as wl

    rng = np.random.default_rng(20)
    graphs = [random_graph(rng) for _ in range(30)]
    monkeypatch.setattr(wl, "_HASH_MULTIPLIERS", np.ones(64, dtype=np.uint64))
    np.testing.assert_allclose(our_gram(WLFeaturizer(), graphs, 3), grakel_gram(graphs, 3), atol=1e-6, rtol=0)


def test_nodes_with_many_successors() -> None:
    """Signatures wider than the row hash (out-degree > 63) are grouped exactly too."""
    rng = np.random.default_rng(21)
    graphs = []
    for n_leaves in (70, 80, 70):
        star = nx.DiGraph()
        star.add_node("hub", label="h")
        for k in range(n_leaves):
            star.add_node(k, label=str(rng.choice(list("ab"))))
            star.add_edge("hub", k)
        graphs.append(star)
    np.testing.assert_allclose(our_gram(WLFeaturizer(), graphs, 2), grakel_gram(graphs, 2), atol=1e-6, rtol=0)
    # One graph per batch (wide signatures found again at any width), a compaction halfway, and
    # the stored signature rows stay narrow (wide ones are kept by exact key).
    from hnas.kernels.wl import STORED_WIDTH

    featurizer, feats = featurised_in_batches(graphs + graphs[:1], 2, batch=1)
    np.testing.assert_allclose(gram_of(featurizer, feats, 2), grakel_gram(graphs + graphs[:1], 2), atol=1e-6, rtol=0)
    assert featurizer._rows.shape[1] <= STORED_WIDTH < 70


def test_graph_arrays_give_the_same_kernel_as_networkx() -> None:
    from hnas.semantics import GraphArrays

    rng = np.random.default_rng(22)
    graphs = [random_graph(rng) for _ in range(20)]
    arrays = []
    for g in graphs:
        position = {v: i for i, v in enumerate(g)}
        edges = np.array([(position[u], position[v]) for u, v in g.edges()], dtype=np.int64).reshape(-1, 2)
        arrays.append(GraphArrays([g.nodes[v]["label"] for v in g], edges[:, 0], edges[:, 1]))
    np.testing.assert_array_equal(our_gram(WLFeaturizer(), arrays, 3), our_gram(WLFeaturizer(), graphs, 3))
    with pytest.raises(ValueError, match=r"edges must join nodes 0\.\.1"):
        WLFeaturizer().features([GraphArrays(["a", "b"], np.array([0]), np.array([2]))], 1)


def test_graph_arrays_are_checked_per_graph_within_a_batch() -> None:
    """Edges are checked for the whole batch at once, yet against their own graph's nodes."""
    from hnas.semantics import GraphArrays

    ok = GraphArrays(["a", "b", "c"], np.array([0, 1]), np.array([1, 2]))
    # Node 2 exists in the batch's union (of the first graph), not in the second graph.
    with pytest.raises(ValueError, match=r"edges must join nodes 0\.\.1 of their graph"):
        WLFeaturizer().features([ok, GraphArrays(["a", "b"], np.array([0]), np.array([2]))], 1)
    with pytest.raises(ValueError, match=r"edges must join nodes 0\.\.1 of their graph"):
        WLFeaturizer().features([ok, GraphArrays(["a", "b"], np.array([-1]), np.array([1]))], 1)
    with pytest.raises(ValueError, match="equal lengths"):
        WLFeaturizer().features([ok, GraphArrays(["a", "b"], np.array([0, 1]), np.array([1]))], 1)


def reference_histograms(graph: object, depth: int) -> list[Counter]:
    """Exact WL label counts of iterations 0..depth, labels kept as nested tuples (no compression,
    no hashing): an independent oracle of the label partition."""
    labels = list(graph.labels)
    successors: list[list[int]] = [[] for _ in labels]
    for u, v in zip(graph.sources.tolist(), graph.targets.tolist()):
        successors[u].append(v)
    out = [Counter(labels)]
    for _ in range(depth):
        labels = [(labels[v], tuple(sorted((labels[w] for w in successors[v]), key=repr))) for v in range(len(labels))]
        out.append(Counter(labels))
    return out


def reference_gram(graphs: list, depth: int) -> np.ndarray:
    hist = [reference_histograms(g, depth) for g in graphs]
    raw = np.array([[sum(sum(c * hb[i][k] for k, c in ha[i].items()) for i in range(depth + 1)) for hb in hist] for ha in hist], dtype=float)
    return normalise_gram(raw, np.diag(raw).copy())


def edited_trees(n: int, seed: int) -> list:
    """Random samples of the hierarchical space and their mutants and (self-)crossovers, as a BO
    pool breeds them."""
    import warnings

    from hnas.grammar import load_space

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        space = load_space("nb201_variable_multi_multi")
    rng = np.random.default_rng(seed)
    trees = [space.sample(rng) for _ in range(n // 4)]
    while len(trees) < n:
        a, b = (trees[i] for i in rng.choice(len(trees), size=2, replace=False))
        kind = len(trees) % 3
        child = space.mutate(a, rng) if kind == 0 else space.self_crossover(a, rng) if kind == 1 else space.crossover(a, b, rng)
        trees.extend(child if isinstance(child, tuple) else [] if child is None else [child])
    return trees[:n], space.hierarchy_depth


def featurised_in_batches(graphs: list, depth: int, batch: int) -> tuple[WLFeaturizer, list]:
    """Features of ``graphs`` extracted batch by batch (later batches look up the labels the earlier
    ones added), with the dictionary compacted to the live features halfway."""
    featurizer = WLFeaturizer()
    feats: list = []
    for start in range(0, len(graphs), batch):
        feats += featurizer.features(graphs[start : start + batch], depth)
        if start == batch * (len(graphs) // batch // 2):
            new_id = featurizer.retain(used_labels(feats))
            feats = [dataclasses.replace(f, indices=new_id[f.indices]) for f in feats]
    return featurizer, feats


def gram_of(featurizer: WLFeaturizer, feats: list, depth: int) -> np.ndarray:
    x = feature_matrix(feats, featurizer.n_labels, 0, depth)
    return normalise_gram(gram(x), np.array([f.sq_norms[depth] for f in feats]))


@pytest.mark.parametrize("depth", [2, 4])
def test_graphs_of_mutated_and_crossed_trees_match_an_exact_reference(depth: int) -> None:
    """The hash-indexed label lookup gives exactly the WL kernel of uncompressed labels on the
    hierarchical graphs of random, mutated and crossed-over trees, across batches and a compaction."""
    from hnas.semantics import hierarchical_graph_arrays

    trees, n_levels = edited_trees(24, seed=depth)
    graphs = [g for t in trees for g in {id(g): g for g in hierarchical_graph_arrays(t, n_levels)}.values()]
    featurizer, feats = featurised_in_batches(graphs, depth, batch=23)
    np.testing.assert_allclose(gram_of(featurizer, feats, depth), reference_gram(graphs, depth), atol=1e-12, rtol=0)


def test_hash_collisions_never_merge_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a row hash that collides constantly (the plain sum of a signature's entries), the exact
    fallbacks still give every distinct signature its own label."""
    from hnas.kernels import wl
    from hnas.semantics import GraphArrays

    monkeypatch.setattr(wl, "_HASH_MULTIPLIERS", np.ones(64, dtype=np.uint64))
    rng = np.random.default_rng(23)
    graphs = []
    for g in (random_graph(rng) for _ in range(60)):
        position = {v: i for i, v in enumerate(g)}
        edges = np.array([(position[u], position[v]) for u, v in g.edges()], dtype=np.int64).reshape(-1, 2)
        graphs.append(GraphArrays([g.nodes[v]["label"] for v in g], edges[:, 0], edges[:, 1]))
    featurizer, feats = featurised_in_batches(graphs, 3, batch=7)
    assert featurizer._collided  # the collision path was taken
    np.testing.assert_allclose(gram_of(featurizer, feats, 3), reference_gram(graphs, 3), atol=1e-12, rtol=0)


@pytest.mark.parametrize("dense_share", [1, 16, 10**6])
def test_symmetric_grams_equal_the_sparse_products(monkeypatch: pytest.MonkeyPatch, dense_share: int) -> None:
    """All pieces at once (shared labels dense, the others sparse) give exactly the per-piece
    sparse products, whichever labels count as shared (1: only labels of every graph; 10**6: all
    labels of two graphs or more)."""
    from hnas.kernels import wl

    monkeypatch.setattr(wl, "DENSE_SHARE", dense_share)
    rng = np.random.default_rng(30)
    featurizer = WLFeaturizer()
    a = featurizer.features([random_graph(rng) for _ in range(40)], 3)
    b = featurizer.features([random_graph(rng, labels="abcdefgh") for _ in range(40)], 2)
    columns = [(a, 0, 0), (a, 1, 3), (b, 0, 2), (a, 0, 3), (b, 2, 2)]
    ours = symmetric_grams(columns)
    assert ours.shape == (5, 40, 40)
    for k, (feats, first, last) in zip(ours, columns):
        np.testing.assert_array_equal(k, gram(feature_matrix(feats, featurizer.n_labels, first, last)))
    assert np.ptp(ours[1]) > 0
    assert symmetric_grams([]).shape == (0, 0, 0)
    empty = featurizer.features([nx.DiGraph(), nx.DiGraph()], 1)  # no label at all
    np.testing.assert_array_equal(symmetric_grams([(empty, 0, 1)]), np.zeros((1, 2, 2)))
    assert symmetric_grams([([], 0, 2)]).shape == (1, 0, 0)


def test_symmetric_grams_reject_mismatched_columns() -> None:
    rng = np.random.default_rng(31)
    feats = WLFeaturizer().features([random_graph(rng) for _ in range(5)], 2)
    with pytest.raises(ValueError, match="same 5 graphs"):
        symmetric_grams([(feats, 0, 2), (feats[:4], 0, 2)])
    with pytest.raises(ValueError, match="iteration 3 requested"):
        symmetric_grams([(feats, 0, 3)])
    with pytest.raises(ValueError, match="first <= last"):
        symmetric_grams([(feats, 2, 1)])
