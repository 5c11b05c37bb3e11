"""Weisfeiler-Lehman subtree features and Gram matrices on directed, labelled graphs.

A graph is a :class:`networkx.DiGraph` whose nodes carry a ``label`` attribute (or the same graph
as arrays, see :class:`GraphArraysLike`). Iteration 0 uses
the labels themselves; iteration ``i`` relabels each node by its previous label together with the
sorted multiset of its *successors'* previous labels (edge direction is kept: information flows
against the edges, exactly as ``grakel`` does with a directed edge dictionary). The WL subtree
kernel of depth ``h`` is the dot product of the label histograms of iterations ``0..h``.

Depth ``h`` equals ``grakel.kernels.WeisfeilerLehman(n_iter=h, base_graph_kernel=VertexHistogram)``
(grakel's ``n_iter`` counts relabelling rounds and adds the initial labels, i.e. ``h + 1``
histograms); depth 0 (labels only) is grakel's plain ``VertexHistogram``, since grakel refuses
``n_iter=0``.

Compressed labels come from one dictionary shared by every graph a :class:`WLFeaturizer` has seen,
so features extracted at different times are comparable; :meth:`WLFeaturizer.retain` drops the
labels no live feature uses (the owner of the features decides which are live). A batch of graphs
is relabelled as one disjoint union with numpy; only the distinct signatures of an iteration go
through the dictionary. Feature matrices have one column per label of the dictionary, so their
cost grows with its size: an owner that keeps extracting features must :meth:`~WLFeaturizer.retain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import networkx as nx
import numpy as np
import scipy.sparse as sp

__all__ = ["GraphArraysLike", "LabelledGraph", "WLFeatures", "WLFeaturizer", "feature_matrix", "gram", "normalise_gram", "used_labels"]


@dataclass(frozen=True, eq=False)
class WLFeatures:
    """Sparse WL label counts of one graph for iterations ``0..depth``.

    ``indices[ptr[i]:ptr[i + 1]]`` are the (sorted) compressed labels of iteration ``i`` and
    ``counts`` their multiplicities; ``sq_norms[h]`` is the squared norm of iterations ``0..h``,
    i.e. the graph's unnormalised self-similarity at depth ``h``.
    """

    indices: np.ndarray
    counts: np.ndarray
    ptr: tuple[int, ...]
    sq_norms: tuple[float, ...]

    @property
    def depth(self) -> int:
        return len(self.ptr) - 2


class GraphArraysLike(Protocol):
    """A labelled directed graph as arrays: ``labels[i]`` of node i, edges ``sources[j] -> targets[j]``
    (e.g. :class:`hnas.semantics.GraphArrays`, much cheaper to build than a networkx graph)."""

    labels: Sequence[str]
    sources: np.ndarray
    targets: np.ndarray


LabelledGraph = nx.DiGraph | GraphArraysLike
"""What WL features are extracted from: a networkx DiGraph with node attribute ``label``, or arrays."""


def _graph_arrays(graph: LabelledGraph) -> tuple[Sequence[str], np.ndarray, np.ndarray]:
    """Labels in node order and the (source, target) positions of the edges."""
    if isinstance(graph, nx.DiGraph):
        return _networkx_arrays(graph)
    if all(hasattr(graph, name) for name in ("labels", "sources", "targets")):
        n = len(graph.labels)
        sources = np.asarray(graph.sources, dtype=np.int64)
        targets = np.asarray(graph.targets, dtype=np.int64)
        if len(sources) != len(targets) or (
            len(sources) and (min(sources.min(), targets.min()) < 0 or max(sources.max(), targets.max()) >= n)
        ):
            raise ValueError(f"graph arrays: edges must join nodes 0..{n - 1} (sources and targets of equal length)")
        return graph.labels, sources, targets
    raise TypeError(
        f"WL features need a networkx.DiGraph or graph arrays (labels, sources, targets), got {type(graph).__name__}"
    )


def _networkx_arrays(graph: nx.DiGraph) -> tuple[list[str], np.ndarray, np.ndarray]:
    labels = []
    for node, label in graph.nodes(data="label"):
        if label is None:
            raise ValueError(f"graph node {node!r} has no 'label' attribute")
        labels.append(str(label))
    position = {node: i for i, node in enumerate(graph)}
    n_edges = graph.number_of_edges()
    flat = np.fromiter(
        (position[end] for edge in graph.edges() for end in edge), dtype=np.int64, count=2 * n_edges
    )
    return labels, flat[0::2], flat[1::2]


class WLFeaturizer:
    """Extracts WL features with one growing dictionary of compressed labels."""

    def __init__(self) -> None:
        self._labels: dict[object, int] = {}

    @property
    def n_labels(self) -> int:
        """Number of compressed labels in the dictionary (the width of feature matrices)."""
        return len(self._labels)

    def retain(self, labels: np.ndarray) -> np.ndarray:
        """Keep only the sorted, distinct label ids ``labels``, renumbered ``0..len(labels) - 1``.

        Returns the map ``old id -> new id`` (-1 for a dropped label); features extracted before
        must be renumbered with it. ``labels`` must be closed under WL signatures, which holds for
        all labels of whole features (a label of iteration i is the signature of iteration-(i-1)
        labels of the same graph).
        """
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) and (labels[0] < 0 or labels[-1] >= self.n_labels or np.any(np.diff(labels) <= 0)):
            raise ValueError(f"labels to retain must be sorted, distinct ids below {self.n_labels}")
        new_id = np.full(self.n_labels, -1, dtype=np.int64)
        new_id[labels] = np.arange(len(labels))
        kept = [(key, int(new_id[old])) for key, old in self._labels.items() if new_id[old] >= 0]
        # Relabelling keys are int64 label ids as bytes: renumber them all in one pass.
        signatures = [key for key, _ in kept if isinstance(key, bytes)]
        renumbered = new_id[np.frombuffer(b"".join(signatures), dtype=np.int64)]
        if np.any(renumbered < 0):
            raise ValueError("labels to retain are not closed under WL signatures (whole features needed)")
        buffer = renumbered.tobytes()
        ends = np.cumsum([len(key) for key in signatures]).tolist()
        remapped = iter(buffer[end - len(key) : end] for key, end in zip(signatures, ends))
        self._labels = {key if not isinstance(key, bytes) else next(remapped): new for key, new in kept}
        return new_id

    def features(self, graphs: Sequence[LabelledGraph], depth: int) -> list[WLFeatures]:
        """WL features of iterations ``0..depth`` for each graph."""
        if not isinstance(depth, int | np.integer) or depth < 0:
            raise ValueError(f"WL depth must be a non-negative integer, got {depth!r}")
        if not graphs:
            return []
        arrays = [_graph_arrays(g) for g in graphs]
        sizes = np.array([len(a[0]) for a in arrays], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)))
        n = int(offsets[-1])
        graph_of_node = np.repeat(np.arange(len(graphs), dtype=np.int64), sizes)
        src = np.concatenate([a[1] + o for a, o in zip(arrays, offsets)])
        dst = np.concatenate([a[2] + o for a, o in zip(arrays, offsets)])

        setdefault, table = self._labels.setdefault, self._labels
        label = np.fromiter(
            (setdefault(s, len(table)) for a in arrays for s in a[0]), dtype=np.int64, count=n
        )
        per_iteration = [label]
        out_degree = np.bincount(src, minlength=n)
        start = np.cumsum(out_degree) - out_degree
        for _ in range(depth):
            label = self._relabel(label, src, dst, out_degree, start)
            per_iteration.append(label)
        return _histograms(per_iteration, graph_of_node, len(graphs))

    def _relabel(
        self,
        label: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        out_degree: np.ndarray,
        start: np.ndarray,
    ) -> np.ndarray:
        """One WL round: new label = id of (own label, sorted successor labels)."""
        n = len(label)
        width = 1 + (int(out_degree.max()) if n else 0)
        rows = np.full((n, width), -1, dtype=np.int64)
        rows[:, 0] = label
        if len(src):
            succ_label = label[dst]
            order = np.lexsort((succ_label, src))
            s = src[order]
            rows[s, 1 + np.arange(len(s)) - start[s]] = succ_label[order]
        first, inverse = _distinct_rows(rows)
        # The shared dictionary is keyed on the unpadded signature, so batches of any width agree.
        buffer, stride = rows[first].tobytes(), 8 * width
        ends = (np.arange(len(first)) * stride + 8 * (1 + out_degree[first])).tolist()
        table = self._labels
        ids = []
        for begin, end in zip(range(0, len(buffer), stride), ends):
            key = buffer[begin:end]
            value = table.get(key)
            if value is None:
                value = table[key] = len(table)
            ids.append(value)
        return np.array(ids, dtype=np.int64)[inverse]


_HASH_MULTIPLIERS = np.random.default_rng(20231101).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)
"""Fixed odd multipliers of the row hash used to find distinct signatures (collisions are checked)."""


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)``: a representative row index of each distinct row, and each row's group.

    Rows are grouped by a 64-bit hash (one integer sort instead of a sort of byte strings); the
    groups are then checked row by row, and a collision falls back to an exact byte-wise sort.
    """
    n, width = rows.shape
    if width > len(_HASH_MULTIPLIERS):
        return _distinct_rows_exact(rows)
    with np.errstate(over="ignore"):
        hashes = (rows.astype(np.uint64) * _HASH_MULTIPLIERS[:width]).sum(axis=1, dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
    group_of_sorted = np.cumsum(new_group) - 1
    leaders = order[new_group]
    # Exactness: every row must equal its group's leader.
    if not np.array_equal(rows[order], rows[leaders[group_of_sorted]]):
        return _distinct_rows_exact(rows)
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group_of_sorted
    return leaders, inverse


def _distinct_rows_exact(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.ascontiguousarray(rows).view(np.dtype((np.void, rows.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse.ravel()


def _histograms(
    per_iteration: list[np.ndarray], graph_of_node: np.ndarray, n_graphs: int
) -> list[WLFeatures]:
    """Per-graph label counts, sorted by (iteration, label), from the batch's node labels."""
    n_iter = len(per_iteration)
    block = np.concatenate([graph_of_node * n_iter + i for i in range(n_iter)])
    label = np.concatenate(per_iteration)
    order = np.lexsort((label, block))
    block, label = block[order], label[order]
    new_run = np.ones(len(label), dtype=bool)
    new_run[1:] = (label[1:] != label[:-1]) | (block[1:] != block[:-1])
    run_start = np.flatnonzero(new_run)
    counts = np.diff(np.append(run_start, len(label))).astype(np.float64)
    label, block = label[run_start], block[run_start]
    # bounds[j * n_iter + i] = first run of graph j, iteration i.
    bounds = np.searchsorted(block, np.arange(n_graphs * n_iter + 1))
    sq_cum = np.concatenate(([0.0], np.cumsum(counts * counts)))
    result = []
    for j in range(n_graphs):
        b = bounds[j * n_iter : (j + 1) * n_iter + 1]
        lo, hi = b[0], b[-1]
        result.append(
            WLFeatures(
                indices=label[lo:hi],
                counts=counts[lo:hi],
                ptr=tuple((b - lo).tolist()),
                sq_norms=tuple((sq_cum[b[1:]] - sq_cum[lo]).tolist()),
            )
        )
    return result


def used_labels(features: Sequence[WLFeatures]) -> np.ndarray:
    """Sorted distinct label ids of these features."""
    if not features:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate([f.indices for f in features]))


def feature_matrix(
    features: Sequence[WLFeatures], n_labels: int, first: int, last: int
) -> sp.csr_matrix:
    """Rows of the label counts of iterations ``first..last`` of each graph."""
    if not 0 <= first <= last:
        raise ValueError(f"need 0 <= first <= last, got first={first}, last={last}")
    if not features:
        return sp.csr_matrix((0, n_labels))
    shallowest = min(len(f.ptr) for f in features) - 2
    if last > shallowest:
        raise ValueError(f"features extracted to depth {shallowest}, iteration {last} requested")
    bounds = [(f.ptr[first], f.ptr[last + 1]) for f in features]
    indices = np.concatenate([f.indices[b:e] for f, (b, e) in zip(features, bounds)])
    data = np.concatenate([f.counts[b:e] for f, (b, e) in zip(features, bounds)])
    indptr = np.zeros(len(features) + 1, dtype=np.int64)
    np.cumsum([e - b for b, e in bounds], out=indptr[1:])
    return sp.csr_matrix((data, indices, indptr), shape=(len(features), n_labels))


def gram(a: sp.csr_matrix, b: sp.csr_matrix | None = None) -> np.ndarray:
    """Dense unnormalised kernel matrix ``a @ b.T`` of two feature matrices (``b`` defaults to ``a``)."""
    b = a if b is None else b
    return np.asarray((a @ b.T).toarray())


def normalise_gram(k: np.ndarray, diag_a: np.ndarray, diag_b: np.ndarray | None = None) -> np.ndarray:
    """Cosine normalisation ``k[i, j] / sqrt(diag_a[i] * diag_b[j])`` (0 where a norm is 0)."""
    diag_b = diag_a if diag_b is None else diag_b
    scale = np.sqrt(np.outer(diag_a, diag_b))
    safe = np.where(scale > 0, scale, 1.0)
    return np.where(scale > 0, k / safe, 0.0)
