"""NAS-Bench-Graph as an hnas search space: a plugin registering its cell's topologies and GNN ops.

NAS-Bench-Graph (Qin et al., NeurIPS 2022; ``pip install 'hnas[nasbench]'``, i.e.
``nas-bench-graph==1.4.0``, whose tables ship in the wheel) tabulates 26,206 GNN cells: 4 operation
nodes, each taking its input from the cell input or an earlier node (9 canonical link patterns),
each one of 9 GNN operations. ``nbg_cell.cfg`` (next to this file) writes the cell as a grammar:
one topology per link pattern (``NBG_0012``: nodes 1, 2 read the input, node 3 reads node 1, node 4
node 2; unconsumed nodes feed the output), whose 4 edges carry the 4 nodes' operations.

Importing this module registers the 9 topologies and 9 primitives (a GNN op has no PyTorch module
here: its value is looked up in the table, never trained). :func:`arch_key` maps a tree to the
benchmark's architecture key (its canonical ``Arch.valid_hash``); :func:`load_table` reads one
dataset's table with ``light_read``; :class:`TableObjective` is ``tree -> validation error``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from hnas.grammar import load_space
from hnas.grammar.space import SearchSpace
from hnas.grammar.terminals import lookup_topology, register_topology
from hnas.grammar.tree import Tree
from hnas.semantics import register_primitive

__all__ = ["GRAMMAR", "LINKS", "OPS", "arch_key", "load_table", "nbg_space", "TableObjective"]

GRAMMAR = Path(__file__).resolve().parent / "nbg_cell.cfg"
LINKS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)  # fmt: skip
"""NAS-Bench-Graph's ``link_list``: ``link[i]`` is the input of node i + 1 (0: the cell input)."""
OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
"""NAS-Bench-Graph's ``gnn_list``."""


def topology_name(link: tuple[int, ...]) -> str:
    return "NBG_" + "".join(map(str, link))


def link_edges(link: tuple[int, ...]) -> list[tuple[int, int]]:
    """Edges of the topology of ``link``: hnas node 1 is the cell input, each consumed operation
    node gets its own hnas node (in order), every unconsumed one ends at the output node."""
    consumed = sorted(set(link) - {0})
    node = {0: 1, **{op: 2 + k for k, op in enumerate(consumed)}}
    output = 2 + len(consumed)
    return [(node[src], node.get(i + 1, output)) for i, src in enumerate(link)]


def _table_only(channels: int) -> object:
    raise RuntimeError("NAS-Bench-Graph operations are looked up in the benchmark's table, not built")


def _register() -> None:
    for link in LINKS:
        if lookup_topology(topology_name(link)) is None:
            register_topology(topology_name(link), link_edges(link))
    for op in OPS:
        register_primitive(op)(_table_only)


_register()


@cache
def nbg_space() -> SearchSpace:
    """The NAS-Bench-Graph cell grammar as a search space."""
    return load_space(str(GRAMMAR))


def arch_key(tree: Tree) -> int:
    """The NAS-Bench-Graph key of ``tree``: ``Arch(link, ops).valid_hash()`` (isomorphic cells
    share a key)."""
    from nas_bench_graph import Arch

    link = tuple(int(c) for c in tree.op.removeprefix("NBG_"))
    ops = [child.op for child in tree.children]
    return Arch(list(link), ops).valid_hash()


def load_table(dataset: str = "cora") -> dict[int, dict[str, float]]:
    """The benchmark's light table of ``dataset``: key -> ``valid_perf``, ``perf``, ..."""
    from nas_bench_graph import light_read

    return light_read(dataset)


class TableObjective:
    """``tree -> 1 - valid_perf`` on one dataset (a cell missing from the table, e.g. all-skip,
    scores the worst error 1.0); ``best`` is the lowest error in the table."""

    def __init__(self, dataset: str = "cora") -> None:
        self.dataset = dataset
        self.table = load_table(dataset)
        self.best = 1.0 - max(v["valid_perf"] for v in self.table.values())
        self._keys: dict[Tree, int] = {}

    def __call__(self, tree: Tree) -> float:
        key = self._keys.get(tree)
        if key is None:
            key = self._keys[tree] = arch_key(tree)
        entry = self.table.get(key)
        return 1.0 if entry is None else 1.0 - float(entry["valid_perf"])

    def every_tree(self) -> list[Tree]:
        """All 59,049 trees of the grammar (isomorphic cells included), their keys cached."""
        space = nbg_space()
        trees = []
        for link in LINKS:
            for ops in np.ndindex(*(len(OPS),) * 4):
                tree = space.parse(f"(CELL {topology_name(link)} " + " ".join(f"(OP {OPS[i]})" for i in ops) + ")")
                self._keys[tree] = arch_key(tree)
                trees.append(tree)
        return trees

    def keep_alive(self) -> None:
        """Hold every tree of the grammar for the objective's lifetime: graphs and WL features are
        cached per live tree (weak keys), so a searcher's candidates, equal to these, reuse them
        across asks and seeds. Speed only: kernel values do not depend on the cache."""
        self._alive = self.every_tree()

    def all_trees(self) -> tuple[list[Tree], np.ndarray]:
        """Every distinct table entry once, as one tree each, with its error (for regression)."""
        by_key: dict[int, Tree] = {}
        for tree in self.every_tree():
            if self._keys[tree] in self.table:
                by_key.setdefault(self._keys[tree], tree)
        trees = list(by_key.values())
        return trees, np.array([self(t) for t in trees])
