"""The built-in canonical key of an architecture: its pruned operation graph up to isomorphism.

``graph_key(tree)`` is a 32-character hex string, equal for two trees exactly when their
flattened operation graphs (:func:`hnas.semantics.graphs.hierarchical_graph_arrays`: one node per
operation labelled with its name, plus ``input`` and ``output``; ``zero`` edges, edges whose
source receives nothing and edges that cannot reach the output left out, as the compiler prunes
them) are isomorphic as labelled directed graphs.

What it merges: architectures whose compiled networks are the same function of the input up to
a renaming of their parameters. Each operation node applies its primitive to the sum of its
predecessors' outputs (the compiler sums the inputs of a node), so the labelled graph fixes the
computation, and channels and resolutions follow from the reducing operations on each path,
which an isomorphism keeps. Merged are therefore: trees that differ only in ``zero`` or dead
edges, in the order of parallel edges or branches, or in how the same graph is split into
hierarchy levels. Not merged: anything whose graphs differ (even if the functions happened to be
equal, e.g. two ``id`` edges in a row versus one). Two merged networks differ only in the order of
floating-point sums and in which random draws initialise which weights.

Exactness: the key hashes (BLAKE2b, 128 bits) a complete description of the graph under a node
order, so two trees share a key only if their graphs are isomorphic (up to a hash collision,
probability ~n^2 / 2^129 among n architectures). The node order is canonical: colour refinement
(seeded by each node's label and its ancestor and descendant structure) and, for nodes it cannot
tell apart, individualisation of each candidate in turn, keeping the smallest description;
interchangeable nodes (same label, same predecessors and successors) are tried once. Past
``MAX_BRANCHES`` explored orders the search keeps the first candidate only: isomorphic graphs may
then (rarely) get different keys, a missed merge, never a false one.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from weakref import WeakKeyDictionary

from hnas.grammar.tree import Tree
from hnas.semantics.graphs import GraphArrays, hierarchical_graph_arrays

__all__ = ["graph_key", "graph_arrays_key", "IDENTITY_OPS", "MAX_BRANCHES", "SHIPPED_SPACES"]

IDENTITY_OPS = frozenset({"id"})
"""Operations that pass their input through unchanged (no parameters): contracted away."""

MAX_BRANCHES = 64
"""Node orders explored per graph before ties are broken by node index (see the module doc)."""

SHIPPED_SPACES = frozenset({"nb201_variable_multi_multi", "nb201_fixed_1_none"})
"""The shipped spaces whose primitives the key is known to be right for (the searchers use it there
by default)."""

_CACHE: WeakKeyDictionary[Tree, str] = WeakKeyDictionary()


def graph_key(tree: Tree) -> str:
    """The canonical key of ``tree`` (see the module doc); cached per tree."""
    key = _CACHE.get(tree)
    if key is None:
        key = _CACHE[tree] = graph_arrays_key(hierarchical_graph_arrays(tree, 0)[0])
    return key


@lru_cache(maxsize=None)
def _label_code(label: str) -> int:
    """A process-independent integer for a label (str hashes are salted per process)."""
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


def graph_arrays_key(graph: GraphArrays) -> str:
    """The canonical key of one labelled DAG (``IDENTITY_OPS`` nodes contracted)."""
    names, preds, succs = _contract_identities(graph)
    labels = [_label_code(label) for label in names]
    colours = _refine(_structural_colours(labels, preds, succs), preds, succs)
    text = _Search(names, preds, succs).best(colours)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _contract_identities(graph: GraphArrays) -> tuple[list[str], list[list[int]], list[list[int]]]:
    """The graph without its identity nodes: each path ``p -> id -> w`` becomes an edge ``p -> w``.
    Edges are kept with multiplicity (repeated in the adjacency lists): ``w`` receives
    ``sum(multiplicity * output)`` of its predecessors, exactly what it received through the
    identity node (an identity beside a direct edge ``p -> w`` doubles ``p``'s contribution)."""
    n = len(graph.labels)
    # multiplicities as plain dicts (a Counter's Python-level methods cost more than the work here)
    succ: list[dict[int, int]] = [{} for _ in range(n)]
    pred: list[dict[int, int]] = [{} for _ in range(n)]
    for u, v in zip(graph.sources.tolist(), graph.targets.tolist()):
        out, into = succ[u], pred[v]
        out[v] = out.get(v, 0) + 1
        into[u] = into.get(u, 0) + 1
    order = _topological_order([list(p) for p in pred], [list(s) for s in succ])
    removed = set()
    for v in order:
        if graph.labels[v] not in IDENTITY_OPS:
            continue
        for p, a in pred[v].items():
            out = succ[p]
            del out[v]
            for w, b in succ[v].items():
                out[w] = out.get(w, 0) + a * b
                into = pred[w]
                into[p] = into.get(p, 0) + a * b
        for w in succ[v]:
            del pred[w][v]
        removed.add(v)
    kept = [v for v in range(n) if v not in removed]
    index = {v: i for i, v in enumerate(kept)}
    names = [graph.labels[v] for v in kept]
    preds = [[index[u] for u, m in pred[v].items() for _ in range(m)] for v in kept]
    succs = [[index[w] for w, m in succ[v].items() for _ in range(m)] for v in kept]
    return names, preds, succs


def _topological_order(preds: list[list[int]], succs: list[list[int]]) -> list[int]:
    missing = [len(p) for p in preds]
    order = [v for v, m in enumerate(missing) if m == 0]
    for v in order:  # the list grows while it is walked (Kahn's algorithm)
        for w in succs[v]:
            missing[w] -= 1
            if missing[w] == 0:
                order.append(w)
    return order


def _structural_colours(labels: list[int], preds: list[list[int]], succs: list[list[int]]) -> list[int]:
    """Per node: a hash of its label with its ancestors' (forward) and descendants' (backward)
    structure, computed in one pass each over a topological order (no numbering involved)."""
    order = _topological_order(preds, succs)
    forward = labels[:]
    for v in order:
        if preds[v]:
            forward[v] = hash((labels[v], tuple(sorted(forward[u] for u in preds[v]))))
    backward = labels[:]
    for v in reversed(order):
        if succs[v]:
            backward[v] = hash((labels[v], tuple(sorted(backward[w] for w in succs[v]))))
    return [hash((f, b)) for f, b in zip(forward, backward)]


def _refine(colours: list[int], preds: list[list[int]], succs: list[list[int]]) -> list[int]:
    """Colour refinement (1-WL on in- and out-neighbours) until the number of classes is stable."""
    n_classes = len(set(colours))
    while n_classes < len(colours):  # a discrete colouring cannot be refined
        refined = [
            hash((colours[v], tuple(sorted(colours[u] for u in preds[v])), tuple(sorted(colours[w] for w in succs[v]))))
            for v in range(len(colours))
        ]
        n_refined = len(set(refined))
        if n_refined == n_classes:
            break
        colours, n_classes = refined, n_refined
    return colours


class _Search:
    """Individualisation-refinement: the smallest graph description over canonical node orders."""

    def __init__(self, labels: list[str], preds: list[list[int]], succs: list[list[int]]) -> None:
        self.labels = labels
        self.preds = preds
        self.succs = succs
        self.twin_class = {}
        signatures = [(labels[v], tuple(sorted(preds[v])), tuple(sorted(succs[v]))) for v in range(len(labels))]
        for v, signature in enumerate(signatures):  # interchangeable nodes share a class
            self.twin_class.setdefault(signature, v)
        self.twin_of = [self.twin_class[signature] for signature in signatures]
        self.branches = 0

    def describe(self, colours: list[int]) -> str:
        order = sorted(range(len(colours)), key=colours.__getitem__)
        position = {v: i for i, v in enumerate(order)}
        edges = sorted((position[u], position[w]) for u in order for w in self.succs[u])
        return "|".join(self.labels[v] for v in order) + ";" + ",".join(f"{a}>{b}" for a, b in edges)

    def best(self, colours: list[int]) -> str:
        groups: dict[int, list[int]] = {}
        for v, colour in enumerate(colours):
            groups.setdefault(colour, []).append(v)
        ties = [members for members in groups.values() if len(members) > 1]
        if not ties:
            self.branches += 1
            return self.describe(colours)
        cell = min(ties, key=lambda members: colours[members[0]])
        candidates = list({self.twin_of[v]: v for v in cell}.values())  # one per twin class
        best: str | None = None
        for v in candidates:
            if best is not None and self.branches >= MAX_BRANCHES:
                break
            individual = colours[:]
            individual[v] = hash((colours[v], -1))  # ints only: str hashes vary per process
            text = self.best(_refine(individual, self.preds, self.succs))
            if best is None or text < best:
                best = text
        assert best is not None
        return best
