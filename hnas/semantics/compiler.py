"""Compile a derivation tree into a PyTorch network: stem, compiled body, head (SPEC §3).

The body is plain nested modules: a topology whose kept edges form one path becomes an
``nn.Sequential`` (or its single module), any other topology a :class:`Dag` that runs its edge
modules in a precomputed static order and sums the inputs of each node. ``zero`` edges, edges
whose source receives nothing and edges that cannot reach the output are pruned (see
:mod:`hnas.semantics.structure`); a subtree whose output receives nothing is itself a ``zero``.
Channels double and the resolution halves across a reducing primitive (``resBlock``); the
compiler checks that every path into a node crosses the same number of them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hnas.grammar.terminals import ZERO, Topology, is_primitive, lookup_topology
from hnas.grammar.tree import Tree
from hnas.semantics.build import ModuleBuilder
from hnas.semantics.errors import SemanticsError
from hnas.semantics.primitives import Zero
from hnas.semantics.registry import get_primitive
from hnas.semantics.structure import edge_plan, topological_edge_order

__all__ = ["Dag", "Network", "NetworkCompiler", "compile_network", "generator_from"]

_SHOWN_CHARS = 160


class Dag(nn.Module):
    """One topology: ``edges[i]`` maps slot ``src`` to slot ``dst`` for ``(i, src, dst, acc)`` in
    ``steps``; slot 0 is the input, the last slot the output, inputs of a slot are summed."""

    def __init__(
        self, topology: str, edges: list[nn.Module], steps: tuple[tuple[int, int, int, bool], ...], n_slots: int
    ) -> None:
        super().__init__()
        self.topology = topology
        self.edges = nn.ModuleList(edges)
        self.steps = steps
        self.n_slots = n_slots

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ops = list(self.edges)
        states: list[torch.Tensor | None] = [None] * self.n_slots
        states[0] = x
        for i, src, dst, accumulate in self.steps:
            y = ops[i](states[src])
            states[dst] = states[dst] + y if accumulate else y
        return states[-1]

    def extra_repr(self) -> str:
        return f"topology={self.topology!r}, steps={[(s, d) for _, s, d, _ in self.steps]}"


class Network(nn.Module):
    """``head(body(stem(x)))`` for the architecture ``tree``; ``out_channels``: the body's output."""

    def __init__(
        self,
        stem: nn.Module,
        body: nn.Module,
        head: nn.Module,
        *,
        tree: Tree,
        in_channels: int,
        stem_channels: int,
        num_classes: int,
        out_channels: int,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.body = body
        self.head = head
        self.tree = tree
        self.in_channels = in_channels
        self.stem_channels = stem_channels
        self.num_classes = num_classes
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))


def generator_from(rng: np.random.Generator | None) -> torch.Generator:
    """A torch generator seeded from ``rng`` (seed 0 when None, so compiling is deterministic)."""
    seed = 0 if rng is None else int(rng.integers(2**63 - 1))
    return torch.Generator().manual_seed(seed)


def compile_network(
    tree: Tree,
    *,
    num_classes: int,
    in_channels: int = 3,
    stem_channels: int = 16,
    rng: np.random.Generator | None = None,
) -> Network:
    """The network of ``tree``: stem (3x3 conv ``in_channels -> stem_channels``, no bias, BN), the
    compiled tree, head (BN, ReLU, global average pool, Linear to ``num_classes``).

    Initial weights come from ``rng`` (PyTorch's default distributions; a fixed seed when None).
    Raises :class:`SemanticsError` for unregistered terminals, wrong child counts and resBlock
    path mismatches.
    """
    if not isinstance(tree, Tree):
        raise TypeError(f"compile_network needs a hnas.grammar.Tree, got {type(tree).__name__}")
    from hnas.semantics.compilers import DEFAULT_COMPILER, root_owner  # (imports this module lazily)

    owner = root_owner(tree.op)
    if owner not in (None, DEFAULT_COMPILER):
        raise SemanticsError(
            f"the tree's root terminal {tree.op!r} belongs to compiler {owner!r}, not to the network "
            "compiler: compile it with hnas.semantics.compile_tree"
        )
    num_classes = _positive("num_classes", num_classes)
    in_channels = _positive("in_channels", in_channels)
    stem_channels = _positive("stem_channels", stem_channels)
    builder = ModuleBuilder(generator_from(rng))
    stem = builder.shell(
        ("stem", in_channels, stem_channels),
        lambda: nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False), nn.BatchNorm2d(stem_channels)
        ),
        "stem",
    )
    compiled = _Compiler(builder).compile(tree, stem_channels)
    if compiled is None:
        body, out_channels = Zero(), stem_channels
    else:
        body, reductions = compiled
        out_channels = stem_channels << reductions
    head = builder.shell(
        ("head", out_channels, num_classes),
        lambda: nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(out_channels, num_classes),
        ),
        "head",
    )
    return Network(
        stem,
        body,
        head,
        tree=tree,
        in_channels=in_channels,
        stem_channels=stem_channels,
        num_classes=num_classes,
        out_channels=out_channels,
    )


class NetworkCompiler:
    """The registered compiler ``"network"`` (the default, see :mod:`hnas.semantics.compilers`):
    ``compile(tree, **task_options)`` is :func:`compile_network`. It claims no root terminal."""

    roots: tuple[str, ...] = ()

    def compile(self, tree: Tree, **task_options: object) -> Network:
        return compile_network(tree, **task_options)


def _positive(name: str, value: object) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _empty_dag() -> Dag:
    return Dag("", [], (), 0)


def _shown(tree: Tree) -> str:
    text = str(tree)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


class _Compiler:
    def __init__(self, builder: ModuleBuilder) -> None:
        self.builder = builder

    def compile(self, node: Tree, channels: int) -> tuple[nn.Module, int] | None:
        """``(module, number of reductions)`` for ``node`` fed ``channels`` channels; None: zero."""
        op = node.op
        if not node.children:
            if op == ZERO:
                return None
            if lookup_topology(op) is not None:
                raise SemanticsError(f"topology {op!r} has no children in {_shown(node)}")
            primitive = get_primitive(op)
            return self.builder.primitive(primitive, channels), int(primitive.reduces)
        topology = lookup_topology(op)
        if topology is None:
            if is_primitive(op):
                raise SemanticsError(
                    f"primitive {op!r} takes no children, got {len(node.children)} in {_shown(node)}"
                )
            get_primitive(op)  # raises the unknown-terminal error
        if len(node.children) != topology.arity:
            raise SemanticsError(
                f"topology {op!r} has {topology.arity} edges but {len(node.children)} children in "
                f"{_shown(node)}"
            )
        return self._topology(node, topology, channels)

    def _topology(self, node: Tree, topology: Topology, channels: int) -> tuple[nn.Module, int] | None:
        edges = topology.edges
        levels = {1: 0}
        built: list[nn.Module | None] = [None] * topology.arity
        cut = 0
        for i in topological_edge_order(topology):
            a, b = edges[i]
            level_a = levels.get(a)
            result = None if level_a is None else self.compile(node.children[i], channels << level_a)
            if result is None:
                cut |= 1 << i
                continue
            built[i], reductions = result
            level_b = level_a + reductions
            if levels.setdefault(b, level_b) != level_b:
                raise SemanticsError(
                    f"resBlock mismatch in topology {topology.name!r} ({node.symbol}) at edge {edges[i]}, "
                    f"child {_shown(node.children[i])}: paths into node {b} cross {levels[b]} and "
                    f"{level_b} reducing primitives"
                )
        plan = edge_plan(topology, cut)
        if plan is None:
            return None
        output_level = levels[topology.n_nodes]
        container = self.builder.container
        if plan.is_chain:
            if len(plan.steps) == 1:
                return built[plan.steps[0][0]], output_level
            chain = {str(k): built[step[0]] for k, step in enumerate(plan.steps)}
            return container(nn.Sequential, chain), output_level
        index = {i: k for k, i in enumerate(plan.kept)}
        steps = tuple((index[i], s, d, acc) for i, s, d, acc in plan.steps)
        edges = container(nn.ModuleList, {str(k): built[i] for k, i in enumerate(plan.kept)})
        dag = container(_empty_dag, {"edges": edges}, topology=topology.name, steps=steps, n_slots=plan.n_slots)
        return dag, output_level
