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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

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


class _Edges(NamedTuple):
    """A batch's edges grouped by source node (``src`` sorted), each edge's ``rank`` in its group,
    and per node its ``out_degree`` and the ``start`` of its group."""

    src: np.ndarray
    dst: np.ndarray
    out_degree: np.ndarray
    start: np.ndarray
    rank: np.ndarray


class WLFeaturizer:
    """Extracts WL features with one growing dictionary of compressed labels.

    Iteration-0 labels (the graphs' own labels) are looked up in a dict. A relabelling signature
    (own label, sorted successor labels) is looked up by a 64-bit hash in a sorted array, all
    signatures of a batch at once; its id's stored signature is compared with it, so a hash
    collision never merges two signatures (a colliding one gets its own id through an exact,
    byte-keyed dict).
    """

    def __init__(self) -> None:
        self._strings: dict[object, int] = {}  # iteration-0 label -> id
        self._n = 0
        # Signature of each id: row (own + 1, successors + 1 sorted, 0-padded); zero for strings.
        self._rows = np.zeros((0, 1), dtype=np.int64)
        self._hashes = np.empty(0, dtype=np.uint64)  # sorted hashes of the hash-indexed signatures
        self._hash_ids = np.empty(0, dtype=np.int64)  # their ids
        # Signatures whose hash another one holds, and wide ones (> STORED_WIDTH entries, stored
        # as a zero row): exact bytes keys.
        self._collided: dict[bytes, int] = {}

    @property
    def n_labels(self) -> int:
        """Number of compressed labels in the dictionary (the width of feature matrices)."""
        return self._n

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
        rows = self._rows[labels]
        shifted = np.concatenate(([0], new_id + 1))[rows]  # label + 1 -> new label + 1, 0 stays 0
        if np.any((rows > 0) & (shifted == 0)):
            raise ValueError("labels to retain are not closed under WL signatures (whole features needed)")
        self._strings = {key: int(new_id[old]) for key, old in self._strings.items() if new_id[old] >= 0}
        self._n = len(labels)
        self._rows = shifted
        # Rebuild the hash index: per hash, its lowest id; the other signatures of that hash (rare
        # collisions) go to the exact dict.
        signatures = np.flatnonzero(shifted[:, 0] > 0)
        hashes = _row_hashes(shifted[signatures])
        order = np.argsort(hashes, kind="stable")
        hashes, signatures = hashes[order], signatures[order]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        self._hashes, self._hash_ids = hashes[first], signatures[first]
        collided = {_signature_key(shifted[i]): int(i) for i in signatures[~first].tolist()}
        # Wide signatures (zero rows) keep their exact keys, renumbered.
        for key, old in self._collided.items():
            if new_id[old] >= 0 and not rows[new_id[old], 0]:
                signature = np.concatenate(([0], new_id + 1))[np.frombuffer(key, dtype=np.int64)]
                if not np.all(signature):
                    raise ValueError("labels to retain are not closed under WL signatures (whole features needed)")
                collided[signature.tobytes()] = int(new_id[old])
        self._collided = collided
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

        label = self._label_ids([s for a in arrays for s in a[0]])
        per_iteration = [label]
        if depth:
            # Edges grouped by source node (stable), each one's rank within its group, and where
            # each node's group starts: fixed for every round.
            by_source = np.argsort(src, kind="stable")
            src, dst = src[by_source], dst[by_source]
            out_degree = np.bincount(src, minlength=n)
            start = np.cumsum(out_degree) - out_degree
            edges = _Edges(src, dst, out_degree, start, np.arange(len(src)) - start[src])
        for _ in range(depth):
            label = self._relabel(label, edges)
            per_iteration.append(label)
        return _histograms(per_iteration, graph_of_node, len(graphs))

    def label_features(self, counts: Mapping[object, int]) -> WLFeatures:
        """Depth-0 features of a graph given by its labels' multiplicities: the same as
        :meth:`features` of the graph at depth 0, without the graph."""
        ids = self._label_ids(list(counts))
        order = np.argsort(ids)
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))[order]
        return WLFeatures(indices=ids[order], counts=values, ptr=(0, len(ids)), sq_norms=(float(values @ values),))

    def _label_ids(self, labels: list) -> np.ndarray:
        """Ids of iteration-0 labels; new labels get new ids in order of first occurrence."""
        table = self._strings
        for key in dict.fromkeys(labels):
            if key not in table:
                table[key] = self._new_ids(1)[0]
        return np.fromiter(map(table.__getitem__, labels), dtype=np.int64, count=len(labels))

    def _new_ids(self, k: int, rows: np.ndarray | None = None) -> np.ndarray:
        """``k`` new ids with signature ``rows`` (zero rows: iteration-0 labels)."""
        ids = np.arange(self._n, self._n + k, dtype=np.int64)
        self._n += k
        rows = None if rows is None else rows[:, :STORED_WIDTH]  # wider entries are zero (see _lookup)
        width = self._rows.shape[1] if rows is None else max(self._rows.shape[1], rows.shape[1])
        if self._n > len(self._rows) or width > self._rows.shape[1]:
            grown = np.zeros((max(self._n, 2 * len(self._rows), 1024), width), dtype=np.int64)
            grown[: len(self._rows), : self._rows.shape[1]] = self._rows
            self._rows = grown
        if rows is not None:
            self._rows[ids, : rows.shape[1]] = rows
        return ids

    def _relabel(self, label: np.ndarray, edges: _Edges) -> np.ndarray:
        """One WL round: new label = id of (own label, sorted successor labels).

        A signature is hashed from the edges directly (:func:`_row_hashes` of its row); nodes are
        grouped by hash and each checked against its group's first node edge by edge, and only the
        distinct signatures are laid out as rows. A collision falls back to exact rows.
        """
        n = len(label)
        own = label + 1
        src = edges.src
        if len(src):
            # Successors sorted by label within each source (src is sorted): one integer sort.
            stride = int(label.max()) + 2
            key = src * stride + (label[edges.dst] + 1)
            key.sort()
            succ = key - src * stride
        else:
            succ = src
        width = 1 + int(edges.out_degree.max(initial=0))
        multipliers = _multipliers(width)
        with np.errstate(over="ignore"):
            hashes = own.astype(np.uint64) * multipliers[0]
            if len(src):
                terms = succ.astype(np.uint64) * multipliers[1 + edges.rank]
                has_edges = edges.out_degree > 0
                hashes[has_edges] += np.add.reduceat(terms, edges.start[has_edges], dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        sorted_hashes = hashes[order]
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
        group_of_sorted = np.cumsum(new_group) - 1
        first = order[new_group]
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = group_of_sorted
        # Exactness: each node has its group leader's own label, out-degree and successors.
        leader = first[inverse]
        same = np.array_equal(own, own[leader]) and np.array_equal(edges.out_degree, edges.out_degree[leader])
        if same and len(src):
            at_leader = edges.start[leader[src]] + edges.rank
            same = np.array_equal(succ, succ[at_leader])
        if not same:
            rows = _rows(own, succ, edges, np.arange(n), width)
            keys = rows.view(np.dtype((np.void, rows.itemsize * width))).ravel()
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            return self._lookup(rows[first], _row_hashes(rows[first]))[inverse.ravel()]
        return self._lookup(_rows(own, succ, edges, first, width), sorted_hashes[new_group])[inverse]

    def _lookup(self, rows: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        """Ids of the distinct signature ``rows`` (hashes ``hashes``), adding the new ones."""
        ids = np.full(len(rows), -1, dtype=np.int64)
        if len(self._hashes):
            pos = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
            hit = self._hashes[pos] == hashes
            candidate = self._hash_ids[pos[hit]]
            stored = self._rows[candidate]
            width = max(stored.shape[1], rows.shape[1])
            same = np.all(_pad(stored, width) == _pad(rows[hit], width), axis=1)
            ids[np.flatnonzero(hit)[same]] = candidate[same]
        else:
            hit = np.zeros(len(rows), dtype=bool)
        missing = np.flatnonzero(ids < 0)
        if not len(missing):
            return ids
        # A signature whose hash is taken (by a stored one or an earlier one of this batch) goes
        # through the exact dict; the others enter the hash table.
        _, first_of_hash = np.unique(hashes[missing], return_index=True)
        indexed = np.zeros(len(missing), dtype=bool)
        indexed[first_of_hash] = True
        indexed &= ~hit[missing]
        wide = np.zeros(len(rows), dtype=bool)
        if rows.shape[1] > STORED_WIDTH:
            wide = rows[:, STORED_WIDTH:].any(axis=1)
            indexed &= ~wide[missing]
        new = missing[indexed]
        new = new[np.argsort(hashes[new], kind="stable")]  # the table stays sorted
        ids[new] = self._new_ids(len(new), rows[new])
        where = np.searchsorted(self._hashes, hashes[new])
        self._hashes = np.insert(self._hashes, where, hashes[new])
        self._hash_ids = np.insert(self._hash_ids, where, ids[new])
        for i in missing[~indexed].tolist():
            key = _signature_key(rows[i])
            value = self._collided.get(key)
            if value is None:
                stored = None if wide[i] else rows[i : i + 1]
                value = self._collided[key] = int(self._new_ids(1, stored)[0])
            ids[i] = value
        return ids


STORED_WIDTH = 16
"""Signatures with up to this many entries (own label + successors) are stored as rows of one
matrix and found by hash; wider ones (rare high out-degrees) only through the exact dict, so the
matrix stays narrow."""


def _pad(rows: np.ndarray, width: int) -> np.ndarray:
    if rows.shape[1] == width:
        return rows
    out = np.zeros((len(rows), width), dtype=rows.dtype)
    out[:, : rows.shape[1]] = rows
    return out


def _signature_key(row: np.ndarray) -> bytes:
    """The exact, padding-free key of a signature row."""
    return np.trim_zeros(row, "b").tobytes()


_HASH_MULTIPLIERS = np.random.default_rng(20231101).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)
"""Fixed odd multipliers of the row hash (column c times multiplier c; zero padding adds nothing)."""


def _multipliers(width: int) -> np.ndarray:
    """The first ``width`` hash multipliers (beyond 64: a fixed extension)."""
    multipliers = _HASH_MULTIPLIERS
    if width > len(multipliers):  # wider rows (huge out-degrees): splitmix64 of the column
        with np.errstate(over="ignore"):
            z = np.arange(len(multipliers), width, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        multipliers = np.concatenate([multipliers, (z ^ (z >> np.uint64(31))) | np.uint64(1)])
    return multipliers[:width]


def _row_hashes(rows: np.ndarray) -> np.ndarray:
    """64-bit hashes of signature rows, independent of their zero padding."""
    with np.errstate(over="ignore"):
        return (rows.astype(np.uint64) * _multipliers(rows.shape[1])).sum(axis=1, dtype=np.uint64)


def _rows(own: np.ndarray, succ: np.ndarray, edges: _Edges, nodes: np.ndarray, width: int) -> np.ndarray:
    """Signature rows of ``nodes``: own label + 1, then the sorted successor labels + 1, 0-padded."""
    rows = np.zeros((len(nodes), width), dtype=np.int64)
    rows[:, 0] = own[nodes]
    if len(edges.src):
        position = np.full(len(own), -1, dtype=np.int64)
        position[nodes] = np.arange(len(nodes))
        row = position[edges.src]
        kept = row >= 0
        rows[row[kept], 1 + edges.rank[kept]] = succ[kept]
    return rows


def _histograms(
    per_iteration: list[np.ndarray], graph_of_node: np.ndarray, n_graphs: int
) -> list[WLFeatures]:
    """Per-graph label counts, sorted by (iteration, label), from the batch's node labels."""
    n_iter = len(per_iteration)
    label = np.concatenate(per_iteration)
    # One integer key per (graph, iteration, label): a single sort groups them.
    stride = int(label.max(initial=0)) + 1
    key = np.concatenate([(graph_of_node * n_iter + i) * stride for i in range(n_iter)]) + label
    key.sort()
    new_run = np.ones(len(key), dtype=bool)
    new_run[1:] = key[1:] != key[:-1]
    run_start = np.flatnonzero(new_run)
    counts = np.diff(np.append(run_start, len(key))).astype(np.float64)
    block, label = np.divmod(key[run_start], stride)
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
