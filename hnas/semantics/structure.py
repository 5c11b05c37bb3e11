"""Which edges of a topology carry data once ``zero`` edges are cut (pure Python, no torch).

An edge is kept when it lies on a path from the input node to the output node that avoids cut
edges: an edge whose source receives nothing carries nothing (its input is identically zero),
and an edge whose target never reaches the output cannot change the result. The compiler and the
graph builder both prune with the same :func:`edge_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hnas.grammar.terminals import Topology

__all__ = ["EdgePlan", "edge_plan", "topological_edge_order"]


@dataclass(frozen=True)
class EdgePlan:
    """How to evaluate a topology whose edges in ``cut_mask`` (bit i = edge i) carry nothing.

    ``steps``: ``(edge index, source slot, target slot, accumulate)`` in execution order (by
    target node); slot 0 is the input, slot ``n_slots - 1`` the output, and ``accumulate`` is
    False for the first edge into a slot (assign) and True for the others (sum).
    ``kept``: the kept edge indices in child order. ``is_chain``: the kept edges form one path.
    """

    steps: tuple[tuple[int, int, int, bool], ...]
    n_slots: int
    kept: tuple[int, ...]
    is_chain: bool


@lru_cache(maxsize=None)
def topological_edge_order(topology: Topology) -> tuple[int, ...]:
    """Edge indices sorted by source node (then child order): sources are final when visited."""
    return tuple(sorted(range(topology.arity), key=lambda i: topology.edges[i][0]))


@lru_cache(maxsize=None)
def edge_plan(topology: Topology, cut_mask: int) -> EdgePlan | None:
    """The plan for ``topology`` with the edges in ``cut_mask`` cut; None if the output gets nothing."""
    edges = topology.edges
    output = topology.n_nodes
    reached = {1}
    for i in topological_edge_order(topology):
        a, b = edges[i]
        if a in reached and not cut_mask >> i & 1:
            reached.add(b)
    if output not in reached:
        return None
    useful = {output}
    kept = []
    for i in sorted(range(len(edges)), key=lambda i: -edges[i][1]):  # targets before sources
        a, b = edges[i]
        if b in useful and a in reached and not cut_mask >> i & 1:
            useful.add(a)
            kept.append(i)
    kept.sort()
    slot = {node: k for k, node in enumerate(sorted(useful))}
    steps, seen = [], set()
    for i in sorted(kept, key=lambda i: (edges[i][1], edges[i][0], i)):
        a, b = edges[i]
        steps.append((i, slot[a], slot[b], b in seen))
        seen.add(b)
    is_chain = len(kept) == len(useful) - 1 and all(s == d - 1 for _, s, d, _ in steps)
    return EdgePlan(tuple(steps), len(useful), tuple(kept), is_chain)
