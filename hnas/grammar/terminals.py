"""Signatures of terminals: topologies (edge lists) and primitives (arity 0). Pure Python.

The grammar layer needs only names, arities and edge lists; the torch implementations of
primitives live in :mod:`hnas.semantics` and register their names here as well. Topologies live
in a :class:`~hnas.registry.Registry`: registering an existing name needs ``replace=True`` and
looking a name up never registers anything (``LinearN`` is resolved for every N without being
registered). A loaded :class:`~hnas.grammar.SearchSpace` keeps the topologies it was built with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from hnas.errors import RegistryError
from hnas.registry import Registry

__all__ = [
    "ZERO",
    "MAX_ARITY",
    "Topology",
    "register_topology",
    "topologies_version",
    "declare_primitive",
    "lookup_topology",
    "is_primitive",
    "arity",
    "primitive_names",
    "topology_names",
]

ZERO = "zero"
"""The primitive that outputs zeros, i.e. cuts its edge."""

MAX_ARITY = 256
"""Largest number of edges of a topology (bounds the open-ended LinearN family)."""

_NAME = re.compile(r"[^\s()\"'#;|\[\]]+")
"""What a terminal name may be: a token of the grammar notation and of bracket strings."""


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


_TOPOLOGIES: Registry[Topology] = Registry("topology")
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


@lru_cache(maxsize=None)
def _linear(n: int) -> Topology:
    """``LinearN``: a chain of ``n`` edges (built on demand, never registered)."""
    return Topology(f"Linear{n}", tuple((i, i + 1) for i in range(1, n + 1)))


def _family(name: str) -> Topology | None:
    match = _LINEAR.fullmatch(name)
    if match is None or int(match.group(1)) > MAX_ARITY:
        return None
    return _linear(int(match.group(1)))


def register_topology(
    name: str, edges: Sequence[tuple[int, int]], replace: bool = False
) -> Topology:
    """Register a topology by its edge list (node 1 the input, the largest node the output, every
    edge ``(a, b)`` with ``a < b``; edge i takes child i). An existing name (``LinearN`` included)
    needs ``replace=True``; a primitive's name or a bad edge list is a :class:`RegistryError`.
    Spaces loaded before keep the topology they were built with. Returns the topology."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RegistryError(f"a topology name must be a non-empty token without spaces, quotes, "
                            f"brackets or '#;|', got {name!r}")
    if name in _PRIMITIVES:
        raise RegistryError(f"{name!r} is already a primitive")
    try:
        topo = Topology(name, tuple((int(a), int(b)) for a, b in edges))
    except (TypeError, ValueError) as error:
        raise RegistryError(f"topology {name!r}: {error}" if name not in str(error) else str(error)) from None
    if topo.arity > MAX_ARITY:
        raise RegistryError(f"topology {name!r} has {topo.arity} edges; at most {MAX_ARITY}")
    if not replace and _family(name) is not None:
        raise RegistryError(f"topology {name!r} is built in (the LinearN chains); pass replace=True to replace it")
    return _TOPOLOGIES.register(name, topo, replace=replace)


def declare_primitive(name: str) -> None:
    """Make ``name`` a known primitive terminal (arity 0); declaring one twice is harmless."""
    if lookup_topology(name) is not None:
        raise RegistryError(f"{name!r} is already a topology")
    _PRIMITIVES.add(name)


def lookup_topology(name: str) -> Topology | None:
    """The topology called ``name`` (``LinearN`` for 1 <= N <= 256 included), or None; registers nothing."""
    topo = _TOPOLOGIES.find(name)
    return topo if topo is not None else _family(name)


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
    """Registered topology names (the ``LinearN`` family is open-ended and not listed)."""
    return frozenset(_TOPOLOGIES.names())


def topologies_version() -> int:
    """Changes whenever a topology is registered or replaced (for caches of topology analyses)."""
    return _TOPOLOGIES.version


for _name, _edges in {
    "Residual2": [(1, 2), (1, 3), (2, 3)],
    "Residual3": [(1, 2), (2, 3), (1, 4), (3, 4)],
    "Diamond2": [(1, 2), (1, 3), (2, 4), (3, 4)],
    "Diamond3": [(1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 6)],
    "Cell": [(1, 2), (1, 3), (2, 3), (1, 4), (2, 4), (3, 4)],
}.items():
    register_topology(_name, _edges)
del _name, _edges
