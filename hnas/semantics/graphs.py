"""Hierarchical graphs of derivation trees, for the (hierarchical) WL kernels. No torch.

A graph has one node per operation, labelled (attribute ``label``) with its terminal name, plus
a node ``input`` and a node ``output``; an edge ``u -> v`` means the output of ``u`` feeds ``v``
(the line graph of the networks' edge-labelled DAGs, as NAS-Bench-201 cells are usually drawn
for WL kernels). ``zero`` edges and the edges the compiler prunes are left out, so a graph shows
exactly the network :func:`hnas.semantics.compile_network` builds.

``hierarchical_graphs(tree, n_levels)`` returns ``(flattened, level_1, ..., level_n)``: level k
expands the topologies at nesting depth <= k (the root topology has depth 1); a deeper subtree is
one node labelled with its root op (e.g. ``Cell``). Levels beyond the tree's depth are the
flattened graph itself. :func:`hierarchical_graph_level` builds one of these graphs alone (a
kernel that weighs some levels 0 never builds them) and :func:`flattened_label_counts` gives the
flattened graph's label counts without building it. Results are cached per tree and level; the
analyses of topology nodes, the graphs of cells and blocks, subtrees' label counts and the level
graphs themselves (one object for all trees of the same structure to that depth) are memoised
across trees (bounded), so a bred tree redoes only what it does not share with its parent.

Fast path: :func:`hierarchical_graph_arrays` returns the same graphs as :class:`GraphArrays`
``(labels, sources, targets)`` (node labels in node order and int64 edge endpoint arrays),
about 10x cheaper than building networkx graphs; node ``i`` of the arrays is node ``i`` of
the networkx graph.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import NamedTuple
from weakref import WeakKeyDictionary, ref

import networkx as nx
import numpy as np

from hnas.grammar.terminals import ZERO, Topology, is_primitive, lookup_topology, topologies_version
from hnas.grammar.tree import Tree
from hnas.semantics.errors import SemanticsError
from hnas.semantics.structure import EdgePlan, edge_plan

__all__ = [
    "GraphArrays", "hierarchical_graphs", "hierarchical_graph_arrays", "hierarchical_graph_level", "tree_graph",
    "topology_depth", "flattened_label_counts",
]

INPUT_LABEL = "input"
OUTPUT_LABEL = "output"


class GraphArrays(NamedTuple):
    """A labelled DAG: ``labels[i]`` of node i, edges ``sources[j] -> targets[j]`` (int64)."""

    labels: list[str]
    sources: np.ndarray
    targets: np.ndarray

    def to_networkx(self) -> nx.DiGraph:
        """The same graph as a :class:`networkx.DiGraph` (nodes 0..n-1 with attribute ``label``).

        Fills the DiGraph's node and adjacency dicts directly (``_node``, ``_succ``, ``_pred``, the
        layout networkx documents for subclasses): the same graph as ``add_nodes_from`` and
        ``add_edges_from`` build, 5x faster.
        """
        graph = nx.DiGraph()
        nodes, succ, pred = graph._node, graph._succ, graph._pred
        for i, label in enumerate(self.labels):
            nodes[i] = {"label": label}
            succ[i] = {}
            pred[i] = {}
        for u, v in zip(self.sources.tolist(), self.targets.tolist()):
            succ[u][v] = pred[v][u] = {}
        return graph


_ARRAY_CACHE: WeakKeyDictionary[Tree, dict[int, GraphArrays]] = WeakKeyDictionary()  # by level (0: flattened)
_NX_CACHE: WeakKeyDictionary[Tree, dict[int, tuple[nx.DiGraph, ...]]] = WeakKeyDictionary()


_MEMO_SIZE = 200_000
"""Entries of the node memo (analyses of topology nodes, fragments, label counts, level graphs by
structure); past this many the memo starts afresh. One BO step of the default pool on the
hierarchical space adds ~50,000 (most for its ~190 random samples; a bred tree adds ~10-20), so
the memo lasts about four steps (~60 MB more at its peak than at 50,000 entries) instead of
restarting once or twice within every step, which cost ~20% of a step."""

_memo: dict = {}
_memo_version = -1
_structures: dict[tuple, int] = {}  # a subtree's structure cut off at some depth -> its number
_structure_numbers = itertools.count()


def _node_memo() -> dict:
    """The node memo: ``id(node) -> (weak reference to node, plan, topology height of its subtree,
    structure numbers by depth)`` for analysed topology nodes (:func:`_structure_number`),
    ``(id(node), levels) -> Fragment`` (or ``(weak reference,)`` once met) for subtrees emitted as
    fragments (:data:`_FRAGMENT_HEIGHT`), ``(id(node), "counts")`` for label counts and
    ``("graph", structure number) -> GraphArrays`` for the level graphs of trees of that structure.
    A node's entry counts only while its node lives and is that node (checked by identity: a dead
    node's id may be reused), so the memo keeps no tree alive (the kernels' per-tree caches and
    their label compaction depend on trees dying). A live node's subtree nodes live too, so their
    entries are in the same dict (a full memo is replaced, never pruned), and so is everything an
    analysis reads. Starts afresh when a topology is registered or replaced."""
    global _memo, _memo_version, _structures
    version = topologies_version()
    if len(_memo) > _MEMO_SIZE or version != _memo_version:
        _memo, _memo_version, _structures = {}, version, {}
    return _memo


class _Analysis:
    """Edge plans of every topology node of a tree (None: its output receives nothing), memoised
    per node across trees (:func:`_node_memo`)."""

    def __init__(self, tree: Tree) -> None:
        self.plans = _node_memo()
        # op -> (topology, arity, {cut mask: plan}), looked up once per tree: a plan by op and mask
        # is a dict lookup instead of hashing the topology for edge_plan's cache at every node
        self._ops: dict[str, tuple[Topology, int, dict[int, EdgePlan | None]]] = {}
        self.root_cut, self.height = self._cut(tree) if tree.children else (tree.op == ZERO, 0)

    def _cut(self, node: Tree) -> tuple[bool, int]:
        """Whether topology node ``node`` outputs nothing, and the topology height of its subtree;
        records the plans of its subtree on the way."""
        plans = self.plans
        entry = plans.get(id(node))
        if entry is not None and entry[0]() is node:
            return entry[1] is None, entry[2]
        children = node.children
        op = node.op
        described = self._ops.get(op)
        if described is None:
            topology = lookup_topology(op)
            if topology is None or len(children) != topology.arity:
                what = "is a primitive" if is_primitive(op) else "is not a registered topology"
                if topology is not None:
                    what = f"has {topology.arity} edges"
                raise SemanticsError(f"{op!r} {what} but has {len(children)} children in {node.symbol}")
            described = self._ops[op] = (topology, topology.arity, {})
        topology, arity, by_mask = described
        if len(children) != arity:
            raise SemanticsError(f"{op!r} has {arity} edges but has {len(children)} children in {node.symbol}")
        cut = height = 0
        for i, child in enumerate(children):
            if child.children:
                child_cut, child_height = self._cut(child)
                if child_cut:
                    cut |= 1 << i
                if child_height > height:
                    height = child_height
            elif child.op == ZERO:
                cut |= 1 << i
        plan = by_mask[cut] if cut in by_mask else by_mask.setdefault(cut, edge_plan(topology, cut))
        plans[id(node)] = (ref(node), plan, height + 1, {})
        return plan is None, height + 1


def _structure_number(node: Tree, depth: int, plans: dict) -> int:
    """The number of the structure of analysed topology node ``node``'s subtree expanded ``depth``
    topologies deep: the ops of its nodes down to that depth and whether each node there outputs
    nothing, which is all the graph expanded that deep depends on. Equal structures get equal
    numbers while the memo lasts (numbers are never reused), so the graph of a tree at a level is
    built once per structure: most levels of a bred tree are its parent's. Memoised per node and
    depth, computed on demand (only the new nodes of a bred tree, down to the depth asked)."""
    _, plan, height, numbers = plans[id(node)]
    depth = min(depth, height)  # deeper, the whole subtree
    number = numbers.get(depth)
    if number is None:
        op = node.op
        if depth:
            below = depth - 1
            key = (op, tuple([c.op if not c.children else _structure_number(c, below, plans) for c in node.children]))
        else:
            key = (op, plan is None)
        number = _structures.get(key)
        if number is None:
            number = _structures[key] = next(_structure_numbers)
        numbers[depth] = number
    return number


_FRAGMENT_HEIGHT = 3
"""Subtrees nesting at least this many topologies (cells of the shipped hierarchical space and every
block above them) are emitted in place when first met, then, met again, emitted once per level
depth as a fragment and spliced into every graph that contains them: a bred child shares all but
the subtrees on its changed path with its parent, so it splices its parent's blocks and cells
whole. Fragments (and the marks of subtrees met once) are kept in the node memo."""

Fragment = tuple[Callable[[], Tree | None], list[str], list[int], list[int], list[int]]


def _emit(tree: Tree, analysis: _Analysis, max_depth: float, collapse_op: str | None = None) -> GraphArrays:
    labels = [INPUT_LABEL]
    sources: list[int] = []
    targets: list[int] = []
    emitter = _Emitter(analysis.plans, max_depth, collapse_op, labels, sources, targets)
    exits = [] if analysis.root_cut else emitter.emit(tree, 1, [0])
    out = len(labels)
    labels.append(OUTPUT_LABEL)
    sources.extend(exits)
    targets.extend([out] * len(exits))
    return GraphArrays(labels, np.array(sources, dtype=np.int64), np.array(targets, dtype=np.int64))


class _Emitter:
    """Appends graphs of subtrees to the lists ``labels``, ``sources`` and ``targets`` (see
    :meth:`emit`). An object rather than nested functions: a recursive closure is a reference
    cycle, and one per graph left thousands of cycles (with their edge lists) per BO step for the
    garbage collector, whose passes then cost a fifth of the step."""

    __slots__ = ("plans", "max_depth", "collapse_op", "labels", "sources", "targets")

    def __init__(
        self, plans: dict, max_depth: float, collapse_op: str | None, labels: list[str], sources: list[int],
        targets: list[int],
    ) -> None:  # fmt: skip
        self.plans, self.max_depth, self.collapse_op = plans, max_depth, collapse_op
        self.labels, self.sources, self.targets = labels, sources, targets

    def fragment(self, child: Tree, levels: int) -> Fragment | None:
        """The graph of ``child`` expanded ``levels`` deep, numbered from 0, its input as node -1;
        ``None`` the first time ``child`` is met at this depth (most subtrees of a tree that is
        never bred are met once: building their fragment would only copy them one more time)."""
        plans = self.plans
        key = (id(child), levels)
        known = plans.get(key)
        if known is None or known[0]() is not child:
            plans[key] = (ref(child),)
            return None
        if len(known) == 1:
            built: tuple[list[str], list[int], list[int]] = ([], [], [])
            exits = _Emitter(plans, levels, None, *built).emit(child, 1, [-1])
            known = plans[key] = (ref(child), *built, exits)
        return known

    def emit(self, node: Tree, depth: int, preds: list[int]) -> list[int]:
        """Appends the graph of ``node`` (at ``depth``, fed by ``preds``); returns its exit nodes."""
        labels, sources, targets = self.labels, self.sources, self.targets
        plans, max_depth, collapse_op = self.plans, self.max_depth, self.collapse_op
        if not node.children or depth > max_depth or node.op == collapse_op:
            n = len(labels)
            labels.append(node.op)
            sources.extend(preds)
            targets.extend([n] * len(preds))
            return [n]
        plan = plans[id(node)][1]
        states: list[list[int]] = [preds] * plan.n_slots
        children = node.children
        deeper = depth + 1
        for i, src, dst, accumulate in plan.steps:
            child = children[i]
            inputs = states[src]
            if not child.children or deeper > max_depth or child.op == collapse_op:
                # A node of the graph: emitted here rather than by a call (most children are).
                n = len(labels)
                labels.append(child.op)
                sources.extend(inputs)
                targets.extend([n] * len(inputs))
                exits = [n]
            elif collapse_op is None and (height := plans[id(child)][2]) >= _FRAGMENT_HEIGHT and (
                known := self.fragment(child, min(max_depth - depth, height))
            ) is not None:
                _, f_labels, f_sources, f_targets, f_exits = known
                off = len(labels)
                labels.extend(f_labels)
                if len(inputs) == 1:
                    p = inputs[0]
                    sources.extend([s + off if s >= 0 else p for s in f_sources])
                    targets.extend([t + off for t in f_targets])
                else:  # an edge from the input: one edge from each input node, in order
                    for s, t in zip(f_sources, f_targets):
                        if s >= 0:
                            sources.append(s + off)
                            targets.append(t + off)
                        else:
                            sources.extend(inputs)
                            targets.extend([t + off] * len(inputs))
                exits = [x + off for x in f_exits]
            else:
                exits = self.emit(child, deeper, inputs)
            states[dst] = states[dst] + exits if accumulate else exits
        return states[-1]


def _check_levels(n_levels: int) -> int:
    if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 0:
        raise ValueError(f"n_levels must be a non-negative integer, got {n_levels!r}")
    return int(n_levels)


def hierarchical_graph_arrays(tree: Tree, n_levels: int) -> tuple[GraphArrays, ...]:
    """``(flattened, level_1, ..., level_n)`` as :class:`GraphArrays`; cached per tree."""
    return tuple(hierarchical_graph_level(tree, k) for k in range(_check_levels(n_levels) + 1))


def hierarchical_graph_level(tree: Tree, level: int) -> GraphArrays:
    """Graph ``level`` of :func:`hierarchical_graph_arrays` (0: the flattened graph), built alone
    and cached per tree: a kernel that weighs some levels 0 never builds them. A level beyond the
    tree's depth is the flattened graph object itself; a level above it is one object for all trees
    of the same structure to that depth (:func:`_structure_number`)."""
    level = _check_levels(level)
    per_tree = _entries(_ARRAY_CACHE, tree)
    graph = per_tree.get(level)
    if graph is None:
        analysis = _Analysis(tree)
        if 0 < level and level >= analysis.height:
            graph = hierarchical_graph_level(tree, 0)
        elif level == 0:  # the whole structure: rarely another tree's
            graph = _emit(tree, analysis, math.inf)
        else:
            key = ("graph", _structure_number(tree, level, analysis.plans))
            graph = analysis.plans.get(key)
            if graph is None:
                graph = analysis.plans[key] = _emit(tree, analysis, level)
        per_tree[level] = graph
    return graph


def flattened_label_counts(tree: Tree) -> dict[str, int]:
    """The node labels of the flattened graph of ``tree`` with their multiplicities (its WL features
    at depth 0), without building the graph: composed from each topology node's kept children and
    memoised per node across trees (:func:`_node_memo`), so a bred tree pays only for its new nodes."""
    analysis = _Analysis(tree)
    counts = dict.fromkeys((INPUT_LABEL, OUTPUT_LABEL), 1)
    if not analysis.root_cut:
        inner = _subtree_counts(tree, analysis.plans) if tree.children else {tree.op: 1}
        for label, count in inner.items():
            counts[label] = counts.get(label, 0) + count
    return counts


def _subtree_counts(node: Tree, plans: dict) -> dict[str, int]:
    """Labels and multiplicities of the nodes topology node ``node`` adds to the flattened graph."""
    key = (id(node), "counts")
    known = plans.get(key)
    if known is not None and known[0]() is node:
        return known[1]
    counts: dict[str, int] = {}
    children = node.children
    for i in plans[id(node)][1].kept:
        child = children[i]
        if child.children:
            for label, count in _subtree_counts(child, plans).items():
                counts[label] = counts.get(label, 0) + count
        else:
            counts[child.op] = counts.get(child.op, 0) + 1
    plans[key] = (ref(node), counts)
    return counts


def _build_arrays(tree: Tree, n_levels: int) -> tuple[GraphArrays, ...]:
    """The graphs of :func:`hierarchical_graph_arrays` built again (no per-tree cache)."""
    analysis = _Analysis(tree)
    flattened = _emit(tree, analysis, math.inf)
    levels = [flattened if k >= analysis.height else _emit(tree, analysis, k) for k in range(1, n_levels + 1)]
    return (flattened, *levels)


def _entries(cache: WeakKeyDictionary, tree: Tree) -> dict:
    """The dict ``cache`` keeps for ``tree`` (created empty)."""
    per_tree = cache.get(tree)
    if per_tree is None:
        per_tree = cache[tree] = {}
    return per_tree


def _cached(cache: WeakKeyDictionary, tree: Tree, n_levels: int, build: Callable[[Tree, int], tuple]) -> tuple:
    """``build(tree, n_levels)``, memoised per tree (while it lives) and number of levels."""
    n_levels = _check_levels(n_levels)
    per_tree = _entries(cache, tree)
    graphs = per_tree.get(n_levels)
    if graphs is None:
        # Fewer levels are a prefix of more.
        wider = next((g for n, g in per_tree.items() if n > n_levels), None)
        graphs = per_tree[n_levels] = wider[: n_levels + 1] if wider is not None else build(tree, n_levels)
    return graphs


def hierarchical_graphs(tree: Tree, n_levels: int) -> tuple[nx.DiGraph, ...]:
    """``(flattened, level_1, ..., level_n)`` as networkx DiGraphs (node attribute ``label``).

    Cached per tree: treat the graphs as read-only.
    """
    return _cached(_NX_CACHE, tree, n_levels, _build_networkx)


def _build_networkx(tree: Tree, n_levels: int) -> tuple[nx.DiGraph, ...]:
    arrays = hierarchical_graph_arrays(tree, n_levels)
    converted: dict[int, nx.DiGraph] = {}  # levels that are the flattened graph stay one object
    for graph in arrays:
        if id(graph) not in converted:
            converted[id(graph)] = graph.to_networkx()
    return tuple(converted[id(graph)] for graph in arrays)


def topology_depth(tree: Tree) -> int:
    """Largest number of topology nodes on a root-to-leaf path of ``tree`` (its hierarchy depth)."""
    return _Analysis(tree).height


def tree_graph(tree: Tree, *, max_depth: float = math.inf, collapse_op: str | None = None) -> nx.DiGraph:
    """The graph of ``tree`` expanded to ``max_depth``, with subtrees rooted at ``collapse_op``
    (e.g. ``"Cell"``) kept as one node each: used to draw macro graphs. Not cached."""
    return _emit(tree, _Analysis(tree), max_depth, collapse_op).to_networkx()
