"""WL features of architectures: the flattened graph and each hierarchy level, cached per tree.

:class:`TreeWLFeatures` turns derivation trees into the graphs of
:func:`hnas.semantics.hierarchical_graphs` (``flattened, level_1, ..., level_n``; read as
arrays), extracts WL features of each graph once, and keeps them keyed on the tree (trees are
immutable and hash to a cached value) for as long as the tree object is alive: the evaluated
trees a searcher holds stay cached, a pool of candidates is freed with the pool (as the
graphs of :mod:`hnas.semantics` are). :meth:`TreeWLFeatures.gram` returns a stack of
cosine-normalised Gram matrices, one per requested *component* ``(graph index, WL depth)``;
this is what the hierarchical WL kernel (a softmax-weighted sum of such components) is built on.

Only the graphs a computation's components use are built (one level at a time:
:func:`hnas.semantics.hierarchical_graph_level`), and the flattened graph at WL depth 0 is not
built at all: its features are its label counts, composed on the tree from the counts of its
subtrees (:func:`hnas.semantics.flattened_label_counts`), which a bred tree shares with its parents.

The hierarchy levels' features are also kept by graph *content* (labels and edges, for graphs
given as arrays), for the last ``max_content_graphs`` distinct level graphs met: most levels of a
mutated or crossed-over tree are the same graphs as its parent's, so a candidate pool extracts
them once. (The flattened graph of a new tree is almost always new, so it is not kept.)

The label dictionary would otherwise grow with every tree ever scored (a BO run scores thousands
of candidates per step): once it holds ``min_compact_labels`` labels and twice as many as after
the last compaction, it is cut down to the labels of the trees still cached and those trees'
features are renumbered. This bounds both its memory and the width of the feature matrices
(the cost of a Gram matrix grows with it). Kernel values do not depend on label ids, so this
changes memory and speed, never results.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache
from weakref import WeakKeyDictionary

import numpy as np
import scipy.sparse as sp

from hnas.grammar.tree import Tree
from hnas.kernels.wl import (
    LabelledGraph,
    WLFeatures,
    WLFeaturizer,
    normalise_gram,
    symmetric_grams,
    used_labels,
)
from hnas.semantics.graphs import flattened_label_counts, hierarchical_graph_level

__all__ = ["Component", "TreeWLFeatures", "shared_tree_features"]

Component = tuple[int, int]
"""``(graph index, WL depth)``: graph 0 is the flattened graph, graph k the hierarchy level k."""

class TreeWLFeatures:
    """WL features of the first ``len(depths)`` hierarchical graphs of trees, cached per tree.

    ``depths[j]`` is the largest WL depth extracted for graph ``j``; ``graphs_of(tree)`` returns
    all the graphs (default: each graph built alone, when needed, by
    ``hnas.semantics.hierarchical_graph_level``: the array form of ``hierarchical_graphs``, same
    nodes in the same order, so the same kernel).
    ``min_compact_labels``: dictionary size from which unused labels are dropped (see the module);
    ``max_content_graphs``: level graphs whose features are kept by content (see the module).
    """

    def __init__(
        self,
        n_levels: int,
        depths: Sequence[int],
        *,
        graphs_of: Callable[[Tree], Sequence[LabelledGraph]] | None = None,
        min_compact_labels: int = 1 << 17,
        max_content_graphs: int = 4096,
    ) -> None:
        if min_compact_labels < 1:
            raise ValueError(f"min_compact_labels must be >= 1, got {min_compact_labels}")
        if n_levels < 0:
            raise ValueError(f"n_levels must be >= 0, got {n_levels}")
        if not depths or len(depths) > n_levels + 1 or min(depths) < 0:
            raise ValueError(
                f"need 1 to {n_levels + 1} non-negative WL depths (flattened graph, then levels), "
                f"got {list(depths)}"
            )
        self.n_levels = n_levels
        self.depths = tuple(int(d) for d in depths)
        self._graphs_of = graphs_of
        self._featurizer = WLFeaturizer()
        self._cache: WeakKeyDictionary[Tree, tuple[WLFeatures, ...]] = WeakKeyDictionary()
        self._min_compact_labels = min_compact_labels
        self._compact_at = min_compact_labels
        # Features of graphs met before, by (depth, graph content), least recently used first.
        self._by_content: OrderedDict[tuple, WLFeatures] = OrderedDict()
        self._max_content = max_content_graphs
        self._generation = 0  # label numbering: changes with every compaction
        self._reference: _Reference | None = None  # the latest cross-Gram's right-hand side

    @property
    def n_labels(self) -> int:
        """Number of labels in the dictionary (bounded by compaction, see the module)."""
        return self._featurizer.n_labels

    @property
    def n_graphs(self) -> int:
        """Number of graphs used per tree (flattened graph first)."""
        return len(self.depths)

    def features(
        self, trees: Sequence[Tree], depths: Sequence[int | None] | None = None
    ) -> list[tuple[WLFeatures | None, ...]]:
        """Per tree, the features of its graphs to at least ``depths`` (per graph; default: the
        extracted depths; ``None``: a graph not needed, whose graph is not even built). Trees not
        cached to these depths are extracted in one batch, only the graphs they lack, to ``depths``
        (a candidate scored at the chosen depth costs no deeper rounds); a graph not needed is
        ``None`` unless an earlier call extracted it.

        Cache hits are copied out at once: the weak cache may drop an entry whose key is an equal
        tree object that the garbage collector frees in the middle of this call. Features from
        separate calls are comparable only until the next compaction, which may start any call:
        take all the features one computation needs from one call.
        """
        need = self.depths if depths is None else tuple(None if d is None else int(d) for d in depths)
        if len(need) != self.n_graphs or any(
            d is not None and not 0 <= d <= top for d, top in zip(need, self.depths)
        ):
            raise ValueError(f"depths {list(need)} outside the extracted depths {list(self.depths)}")
        if self._featurizer.n_labels >= self._compact_at:
            self._compact()
        found: dict[Tree, tuple[WLFeatures | None, ...]] = {}
        missing: dict[Tree, tuple[WLFeatures | None, ...] | None] = {}
        for tree in trees:
            if not isinstance(tree, Tree):
                raise TypeError(f"expected derivation trees (hnas.grammar.Tree), got {type(tree).__name__}")
            if tree not in found and tree not in missing:
                cached = self._cache.get(tree)
                if cached is None or any(d is not None and (f is None or f.depth < d) for f, d in zip(cached, need)):
                    missing[tree] = cached
                else:
                    found[tree] = cached
        if missing:
            extracted = self._extract(missing, need)
            self._cache.update(extracted)
            found.update(extracted)
        return [found[tree] for tree in trees]

    def _compact(self) -> None:
        """Drop the labels no cached tree uses and renumber the cached features to match."""
        entries = list(self._cache.items())
        # Features shared between graphs (and trees) stay shared: gram() relies on identity.
        distinct = {id(f): f for _, feats in entries for f in feats if f is not None}
        new_id = self._featurizer.retain(used_labels(list(distinct.values())))
        renumbered = {key: replace(f, indices=new_id[f.indices]) for key, f in distinct.items()}
        for tree, feats in entries:
            self._cache[tree] = tuple(None if f is None else renumbered[id(f)] for f in feats)
        # Graphs met before keep their features only while a cached tree uses them.
        self._by_content = OrderedDict(
            (key, renumbered[id(f)]) for key, f in self._by_content.items() if id(f) in renumbered
        )
        self._compact_at = max(self._min_compact_labels, 2 * self._featurizer.n_labels)
        self._generation += 1

    def _graphs(self, tree: Tree, wanted: list[int]) -> list[LabelledGraph]:
        """The graphs ``wanted`` of ``tree`` (only those are built, unless ``graphs_of`` was given)."""
        if self._graphs_of is None:
            return [hierarchical_graph_level(tree, j) for j in wanted]
        graphs = tuple(self._graphs_of(tree))
        if len(graphs) < self.n_graphs:
            raise ValueError(f"graphs_of returned {len(graphs)} graphs for a tree, {self.n_graphs} needed")
        return [graphs[j] for j in wanted]

    def _extract(
        self, trees: dict[Tree, tuple[WLFeatures | None, ...] | None], need: tuple[int | None, ...]
    ) -> dict[Tree, tuple[WLFeatures | None, ...]]:
        """Features of ``trees`` (with what is cached of them) completed to ``need``."""
        wanted = [j for j, d in enumerate(need) if d is not None]
        # The flattened graph at depth 0 is its label counts: composed on the tree, never built.
        by_counts = self._graphs_of is None and need[0] == 0
        built = [j for j in wanted if j or not by_counts]
        features: list[list[WLFeatures | None]] = []
        per_tree: list[dict[int, LabelledGraph]] = []
        source: list[dict[int, int]] = []  # graph j of a tree takes the features of its graph source[j]
        for tree, cached in trees.items():
            feats = [None] * self.n_graphs if cached is None else list(cached)
            if by_counts and feats[0] is None:
                feats[0] = self._featurizer.label_features(flattened_label_counts(tree))
            graphs = dict(zip(built, self._graphs(tree, built)))
            src: dict[int, int] = {}
            for j in wanted:
                if feats[j] is not None and feats[j].depth >= need[j]:
                    continue
                # A level that is the very same graph object as an earlier one (levels beyond a
                # tree's depth are its flattened graph) reuses that graph's features.
                src[j] = next((k for k in built if k < j and graphs[k] is graphs[j] and need[k] >= need[j]), j)
            features.append(feats)
            per_tree.append(graphs)
            source.append(src)
        # One batch per WL depth (all levels together): fewer, larger numpy passes. A graph equal
        # to one met before (most hierarchy levels of a mutated or crossed-over tree are its
        # parent's) reuses its features; equal graphs within the batch are extracted once.
        for depth in sorted({need[j] for j in wanted}):
            todo: dict[object, list[tuple[int, int]]] = {}
            for i, src in enumerate(source):
                for j, k in src.items():
                    if k != j or need[j] != depth:
                        continue
                    # The flattened graph of a new tree is almost always new: not kept by content.
                    key = None if j == 0 else _content_key(per_tree[i][j], depth)
                    known = None if key is None else self._by_content.get(key)
                    if known is not None:
                        self._by_content.move_to_end(key)
                        features[i][j] = known
                    else:  # a graph without a content key is its own group
                        todo.setdefault(("graph", i, j) if key is None else key, []).append((i, j))
            firsts = [places[0] for places in todo.values()]
            extracted = self._featurizer.features([per_tree[i][j] for i, j in firsts], depth)
            for key, places, f in zip(todo, todo.values(), extracted):
                for i, j in places:
                    features[i][j] = f
                if key[0] != "graph":
                    self._by_content[key] = f
        while len(self._by_content) > self._max_content:
            self._by_content.popitem(last=False)
        for feats, src in zip(features, source):
            for j, k in src.items():
                feats[j] = feats[k]
        return {tree: tuple(feats) for tree, feats in zip(trees, features)}

    def gram(
        self,
        trees_a: Sequence[Tree],
        trees_b: Sequence[Tree] | None = None,
        components: Sequence[Component] = ((0, 2),),
    ) -> np.ndarray:
        """Cosine-normalised WL Gram matrices, shape ``(len(components), len(a), len(b))``.

        ``trees_b=None`` gives the symmetric Gram of ``trees_a`` (features used once), every
        component in one :func:`~hnas.kernels.wl.symmetric_grams` call. Components on the same
        graph share their products: depths ``d0 < d1 < ...`` cost one product per iteration range
        ``0..d0, d0+1..d1, ...``; a level whose graph is the flattened graph for all these trees
        costs nothing more.

        A cross Gram (``trees_b`` given: e.g. candidates against a GP's training trees) keeps the
        right-hand side's stacked feature matrix for the next call with the same ``trees_b`` and
        components, and computes every component in one sparse product.
        """
        if trees_b is not None and len(trees_a) and len(trees_b) and len(components):
            return self._cross_gram(trees_a, trees_b, tuple(components))
        if trees_b is not None:  # no tree or no component on one side
            self._need(components)  # still checked
            return np.zeros((len(components), len(trees_a), len(trees_b)))
        feats = self.features(trees_a, self._need(components))
        # Graphs whose features are the same objects for every tree (e.g. a level that is the
        # flattened graph for all these trees) share one computation.
        representative: dict[int, int] = {}
        seen: dict[tuple[int, ...], int] = {}
        for j in sorted({j for j, _ in components}):
            representative[j] = seen.setdefault(tuple(id(f[j]) for f in feats), j)
        # One piece per graph and iteration range first..depth (depths d0 < d1 < ... of a graph:
        # 0..d0, d0+1..d1, ...), all computed together.
        pieces: list[tuple[list[WLFeatures], int, int]] = []
        ends: list[tuple[int, int]] = []
        for rep in sorted(set(representative.values())):
            column = [f[rep] for f in feats]
            first = 0
            for depth in sorted({d for j, d in components if representative[j] == rep}):
                pieces.append((column, first, depth))
                ends.append((rep, depth))
                first = depth + 1
        raw = symmetric_grams(pieces)
        normalised: dict[tuple[int, int], np.ndarray] = {}
        for p, (rep, depth) in enumerate(ends):
            if p and ends[p - 1][0] == rep:
                raw[p] += raw[p - 1]  # iterations 0..depth of this graph
            diag = np.array([f[rep].sq_norms[depth] for f in feats])
            normalised[rep, depth] = normalise_gram(raw[p], diag)
        out = np.empty((len(components), len(feats), len(feats)))
        for c, (j, d) in enumerate(components):
            out[c] = normalised[representative[j], d]
        return out

    def _cross_gram(
        self, trees_a: Sequence[Tree], trees_b: Sequence[Tree], components: tuple[Component, ...]
    ) -> np.ndarray:
        need = self._need(components)
        while True:  # a compaction during the extraction renumbers labels: build the reference again
            reference = self._reference
            if reference is None or not reference.matches(trees_b, components, self._generation):
                feats_b = self.features(trees_b, need)
                reference = self._reference = _Reference(
                    list(trees_b), components, self._generation, feats_b, self._featurizer.n_labels
                )
            feats_a = self.features(trees_a, need)
            if reference.generation == self._generation:
                break
        return reference.gram(feats_a)

    def _need(self, components: Sequence[Component]) -> tuple[int | None, ...]:
        """Per graph, the largest depth ``components`` use (``None`` for a graph they do not use)."""
        need: list[int | None] = [None] * self.n_graphs
        for j, depth in components:
            if not 0 <= j < self.n_graphs or not 0 <= depth <= self.depths[j]:
                raise ValueError(
                    f"component (graph {j}, depth {depth}) outside the extracted "
                    f"graphs/depths {list(enumerate(self.depths))}"
                )
            need[j] = depth if need[j] is None else max(need[j], depth)
        return tuple(need)

    def self_similarity(self, trees: Sequence[Tree], components: Sequence[Component]) -> np.ndarray:
        """Diagonal of the normalised Gram, shape ``(len(components), len(trees))``: 1, or 0 for an empty graph."""
        feats = self.features(trees, self._need(components))
        return np.array(
            [[1.0 if f[j].sq_norms[depth] > 0 else 0.0 for f in feats] for j, depth in components]
        )


class _Reference:
    """The right-hand side of cross Grams: ``trees`` (held, so identity checks are sound), their
    components' features stacked side by side (component ``c`` in columns ``c * width ...``), as the
    transposed matrix a product needs, and their squared norms; valid for one label numbering."""

    def __init__(
        self, trees: list[Tree], components: tuple[Component, ...], generation: int,
        features: list[tuple[WLFeatures, ...]], n_labels: int,
    ) -> None:  # fmt: skip
        self.trees, self.components, self.generation = trees, components, generation
        self.width = n_labels  # labels added later have no count here: their products are 0
        self.transposed = _stacked(features, components, self.width, blocks=True).T.tocsr()
        self.sq_norms = np.array([[f[j].sq_norms[d] for f in features] for j, d in components])

    def matches(self, trees: Sequence[Tree], components: tuple[Component, ...], generation: int) -> bool:
        return (
            generation == self.generation
            and components == self.components
            and len(trees) == len(self.trees)
            and all(a is b for a, b in zip(trees, self.trees))
        )

    def gram(self, features: list[tuple[WLFeatures, ...]]) -> np.ndarray:
        """Normalised Grams of ``features`` against the reference, ``(components, len(features), n)``."""
        n_comp, n = len(self.components), len(self.trees)
        # Labels beyond the reference's width (new since it was built) match nothing in it.
        raw = (_stacked(features, self.components, self.width) @ self.transposed).toarray()
        raw = raw.reshape(len(features), n_comp, n).transpose(1, 0, 2)
        sq_a = np.array([[f[j].sq_norms[d] for f in features] for j, d in self.components])
        out = np.empty_like(raw)
        for c in range(n_comp):
            out[c] = normalise_gram(raw[c], sq_a[c], self.sq_norms[c])
        return out


def _stacked(
    features: list[tuple[WLFeatures, ...]], components: tuple[Component, ...], width: int, *, blocks: bool = False
) -> sp.csr_matrix:
    """The counts of iterations ``0..d`` of graph ``j`` for each component ``(j, d)``, component
    ``c`` shifted to columns ``c * width ...`` (labels ``>= width`` dropped): one row per tree with
    every component side by side, or (``blocks``) one row per component and tree, component-major,
    so that ``rows @ blocks.T`` holds every component's products side by side."""
    if blocks:
        order = [(feats, c) for c in range(len(components)) for feats in features]
    else:
        order = [(feats, c) for feats in features for c in range(len(components))]
    pieces = [_counts(feats[components[c][0]], components[c][1], width, c * width) for feats, c in order]
    lengths = np.array([len(indices) for indices, _ in pieces], dtype=np.int64)
    if not blocks:  # all components of a tree in one row
        lengths = lengths.reshape(len(features), len(components)).sum(1)
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return sp.csr_matrix(
        (np.concatenate([v for _, v in pieces]), np.concatenate([i for i, _ in pieces]), indptr),
        shape=(len(lengths), len(components) * width),
    )


def _counts(f: WLFeatures, depth: int, width: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Label columns (shifted by ``offset``) and counts of iterations ``0..depth``, labels below ``width``."""
    end = f.ptr[depth + 1]
    indices, counts = f.indices[:end], f.counts[:end]
    if len(indices) and indices.max() >= width:  # sorted within each iteration only
        keep = indices < width
        indices, counts = indices[keep], counts[keep]
    return indices + offset, counts


def _content_key(graph: LabelledGraph, depth: int) -> tuple | None:
    """A hashable key of a graph given as arrays (labels, sources, targets) and a WL depth; None
    for other graphs (not cached by content)."""
    labels = getattr(graph, "labels", None)
    if labels is None or not hasattr(graph, "sources") or not hasattr(graph, "targets"):
        return None
    sources, targets = np.asarray(graph.sources), np.asarray(graph.targets)
    return (depth, tuple(labels), sources.dtype.str, sources.tobytes(), targets.dtype.str, targets.tobytes())


@cache
def shared_tree_features(n_levels: int, depths: tuple[int, ...]) -> TreeWLFeatures:
    """The process-wide :class:`TreeWLFeatures` for these settings, so features outlive a surrogate.

    Kernel values do not depend on which trees were seen before (only label ids do), so sharing
    the cache between surrogates changes speed, never results.
    """
    return TreeWLFeatures(n_levels, depths)
