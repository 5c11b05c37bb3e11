"""Signatures of terminals: topologies (edge lists) and primitives (arity 0). Pure Python.

The grammar layer needs only names, arities and edge lists; the torch implementations of
primitives live in :mod:`hnas.semantics` and register their names here as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

__all__ = [
    "ZERO",
    "Topology",
    "register_topology",
    "declare_primitive",
    "lookup_topology",
    "is_primitive",
    "arity",
    "primitive_names",
    "topology_names",
]

ZERO = "zero"
"""The primitive that outputs zeros, i.e. cuts its edge."""


@dataclass(frozen=True)
class Topology:
    """A DAG whose k edges take the k children in order. Node 1 is the input, the largest the output."""

    name: str
    edges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.edges:
            raise ValueError(f"topology {self.name!r} has no edges")
        nodes = {n for edge in self.edges for n in edge}
        n = max(nodes)
        if nodes != set(range(1, n + 1)) or any(a >= b for a, b in self.edges):
            raise ValueError(
                f"topology {self.name!r}: nodes must be 1..N and every edge (a, b) must have a < b"
            )
        # edges by source node: every edge into a node comes before the edges out of it
        object.__setattr__(self, "_order", tuple(sorted(range(len(self.edges)), key=lambda i: self.edges[i][0])))

    @cached_property
    def allowed_zero_masks(self) -> frozenset[int]:
        """Every zero-mask that keeps input and output connected (computed on first use: 2^arity masks)."""
        return frozenset(m for m in range(1 << len(self.edges)) if self.connects(m))

    @property
    def arity(self) -> int:
        return len(self.edges)

    @property
    def n_nodes(self) -> int:
        return max(b for _, b in self.edges)

    def connects(self, zero_mask: int) -> bool:
        """Whether input still reaches output when the edges in ``zero_mask`` (bit i = edge i) are cut."""
        reached = {1}
        edges = self.edges
        for i in self._order:  # a < b on every edge: one pass in order of source suffices
            a, b = edges[i]
            if a in reached and not zero_mask >> i & 1:
                reached.add(b)
        return self.n_nodes in reached


def _linear(n: int) -> tuple[tuple[int, int], ...]:
    return tuple((i, i + 1) for i in range(1, n + 1))


_TOPOLOGIES: dict[str, Topology] = {}
_PRIMITIVES: set[str] = {
    "id",
    ZERO,
    "avg_pool",
    "conv3x3",
    "conv1x1",
    "resBlock",
    "conv3x3o",
    "conv1x1o",
    "dconv3x3o",
    "batch",
    "instance",
    "layer",
    "relu",
    "hardswish",
    "mish",
}
_LINEAR = re.compile(r"Linear([1-9][0-9]*)")


def register_topology(name: str, edges: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> Topology:
    """Register (or replace) a topology by its edge list; returns it."""
    if name in _PRIMITIVES:
        raise ValueError(f"{name!r} is already a primitive")
    topo = Topology(name, tuple((int(a), int(b)) for a, b in edges))
    _TOPOLOGIES[name] = topo
    return topo


def declare_primitive(name: str) -> None:
    """Make ``name`` a known primitive terminal (arity 0)."""
    if name in _TOPOLOGIES or _LINEAR.fullmatch(name):
        raise ValueError(f"{name!r} is already a topology")
    _PRIMITIVES.add(name)


def lookup_topology(name: str) -> Topology | None:
    """The topology called ``name`` (``LinearN`` for any N >= 1 included), or None."""
    topo = _TOPOLOGIES.get(name)
    if topo is None:
        match = _LINEAR.fullmatch(name)
        if match:
            topo = register_topology(name, _linear(int(match.group(1))))
    return topo


def is_primitive(name: str) -> bool:
    return name in _PRIMITIVES


def arity(name: str) -> int | None:
    """Number of children the terminal takes, or None if it is neither a topology nor a primitive."""
    if name in _PRIMITIVES:
        return 0
    topo = lookup_topology(name)
    return None if topo is None else topo.arity


def primitive_names() -> frozenset[str]:
    return frozenset(_PRIMITIVES)


def topology_names() -> frozenset[str]:
    """Registered topology names (the ``LinearN`` family is open-ended: only those used so far)."""
    return frozenset(_TOPOLOGIES)


for _name, _edges in {
    "Residual2": [(1, 2), (1, 3), (2, 3)],
    "Residual3": [(1, 2), (2, 3), (1, 4), (3, 4)],
    "Diamond2": [(1, 2), (1, 3), (2, 4), (3, 4)],
    "Diamond3": [(1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 6)],
    "Cell": [(1, 2), (1, 3), (2, 3), (1, 4), (2, 4), (3, 4)],
}.items():
    register_topology(_name, _edges)
for _n in range(1, 5):
    register_topology(f"Linear{_n}", _linear(_n))
del _name, _edges, _n
