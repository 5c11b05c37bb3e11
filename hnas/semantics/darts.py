"""The DARTS space's semantics (Liu et al., ICLR 2019): trees -> genotypes -> DARTS networks.

A tree of ``grammars/darts.cfg`` is ``DARTS normal_cell reduction_cell``; a cell has 4 nodes, node
``k`` is ``DARTSNode op_a op_b i j``: it sums ``op_a`` applied to state ``i`` and ``op_b`` applied to
state ``j`` (states 0 and 1: the outputs of the two previous cells; state ``m + 2``: node ``m``).
The cell outputs the concatenation of its 4 nodes. :func:`darts_genotype` reads the
``(normal, reduce)`` lists of ``(op, input)`` pairs the DARTS code calls a genotype;
:func:`darts_tree` is its inverse (pairs of a node in either order).

The network is DARTS's ``NetworkCIFAR``: a 3x3 stem to ``3 C`` channels, ``layers`` cells with
reduction cells (channels doubled, stride 2 on the edges from the cell inputs) at ``layers // 3``
and ``2 layers // 3``, global pooling and a linear classifier; optionally DARTS's auxiliary head
after the second reduction cell and drop path on every non-identity edge. :data:`SEARCH` (C=16,
8 cells) and :data:`EVALUATION` (C=36, 20 cells, auxiliary head, drop path 0.2) are the two
published sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hnas.grammar.tree import Tree
from hnas.semantics.errors import SemanticsError

__all__ = [
    "DARTS_OPS",
    "SEARCH",
    "EVALUATION",
    "NetworkSize",
    "Genotype",
    "DartsNetwork",
    "DartsCompiler",
    "darts_genotype",
    "darts_tree",
    "darts_network",
]

DARTS_OPS = ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool_3x3", "avg_pool_3x3",
             "skip_connect")
N_NODES = 4
ROOT, CELL, NODE = "DARTS", "DARTSCell", "DARTSNode"

Genotype = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]
"""``(normal, reduce)``: 8 ``(operation, input)`` pairs per cell, two per node, as in DARTS's code."""


@dataclass(frozen=True)
class NetworkSize:
    """``C`` initial channels, ``layers`` cells, the auxiliary head, drop-path probability."""

    C: int
    layers: int
    auxiliary: bool = False
    drop_path_prob: float = 0.0


SEARCH = NetworkSize(C=16, layers=8)
"""The search-time network of DARTS: 16 initial channels, 8 cells."""
EVALUATION = NetworkSize(C=36, layers=20, auxiliary=True, drop_path_prob=0.2)
"""The evaluation network of DARTS on CIFAR-10: 36 initial channels, 20 cells, auxiliary head, drop path 0.2."""


def _shown(tree: Tree) -> str:
    text = str(tree)
    return text if len(text) <= 160 else text[:157] + "..."


def _cell_pairs(cell: Tree) -> tuple[tuple[str, int], ...]:
    if cell.op != CELL or len(cell.children) != N_NODES:
        raise SemanticsError(f"a DARTS cell is {CELL} with {N_NODES} nodes, got {_shown(cell)}")
    pairs: list[tuple[str, int]] = []
    for k, node in enumerate(cell.children):
        if node.op != NODE or len(node.children) != 4 or any(c.children for c in node.children):
            raise SemanticsError(f"a DARTS node is {NODE} op op input input, got {_shown(node)}")
        op_a, op_b, in_a, in_b = (c.op for c in node.children)
        for op in (op_a, op_b):
            if op not in DARTS_OPS:
                raise SemanticsError(f"unknown DARTS operation {op!r} in {_shown(node)}; known: {', '.join(DARTS_OPS)}")
        for index in (in_a, in_b):
            if not index.isdigit() or int(index) > k + 1:
                raise SemanticsError(f"node {k} takes inputs 0..{k + 1}, got {index!r} in {_shown(node)}")
        pairs += [(op_a, int(in_a)), (op_b, int(in_b))]
    return tuple(pairs)


def darts_genotype(tree: Tree) -> Genotype:
    """``(normal, reduce)`` pairs of a tree of the DARTS space."""
    if tree.op != ROOT or len(tree.children) != 2:
        raise SemanticsError(f"a DARTS architecture is {ROOT} normal_cell reduction_cell, got {_shown(tree)}")
    return _cell_pairs(tree.children[0]), _cell_pairs(tree.children[1])


def darts_tree(normal: list[tuple[str, int]], reduce: list[tuple[str, int]]) -> Tree:
    """The tree of a DARTS genotype (8 ``(op, input)`` pairs per cell; a node's two pairs in either
    order, its two inputs distinct)."""

    def cell(pairs: list[tuple[str, int]]) -> Tree:
        if len(pairs) != 2 * N_NODES:
            raise SemanticsError(f"a DARTS cell has {2 * N_NODES} (op, input) pairs, got {len(pairs)}")
        nodes = []
        for k in range(N_NODES):
            (op_a, in_a), (op_b, in_b) = sorted(pairs[2 * k : 2 * k + 2], key=lambda p: p[1])
            if in_a == in_b:
                raise SemanticsError(f"node {k}: the two inputs must differ, got {in_a} twice")
            children = (Tree("OP", op_a), Tree("OP", op_b), Tree(None, str(in_a)), Tree(None, str(in_b)))
            nodes.append(Tree(f"NODE{k}", NODE, children))
        return Tree("CELL", CELL, tuple(nodes))

    tree = Tree(ROOT, ROOT, (cell(list(normal)), cell(list(reduce))))
    darts_genotype(tree)  # validates operations and input ranges
    return tree


# operations (as in DARTS's operations.py) ---------------------------------------------------------
def _relu_conv_bn(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), nn.BatchNorm2d(c_out))


def _dil_conv(c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
    )


def _sep_conv(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    return nn.Sequential(*_dil_conv(c_in, c_in, kernel, stride, padding, 1), *_dil_conv(c_in, c_out, kernel, 1, padding, 1))


class FactorizedReduce(nn.Module):
    """Halves the resolution with two offset stride-2 1x1 convolutions, concatenated (DARTS)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def _operation(name: str, channels: int, stride: int) -> nn.Module:
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride, padding=1, count_include_pad=False)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride, padding=1)
    kernel = int(name[-1])
    if name.startswith("sep_conv"):
        return _sep_conv(channels, channels, kernel, stride, kernel // 2)
    return _dil_conv(channels, channels, kernel, stride, kernel - 1, 2)


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob``, scaling the kept ones by ``1 / (1 - p)``."""
    keep = 1.0 - drop_prob
    mask = torch.empty((x.size(0), 1, 1, 1), device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


class DartsCell(nn.Module):
    """One cell of a genotype: inputs from the two previous cells, 4 nodes, their concatenation."""

    def __init__(self, pairs: tuple[tuple[str, int], ...], c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else _relu_conv_bn(c_pp, c, 1, 1, 0)
        self.preprocess1 = _relu_conv_bn(c_p, c, 1, 1, 0)
        self.indices = tuple(index for _, index in pairs)
        self.ops = nn.ModuleList(
            _operation(name, c, 2 if reduction and index < 2 else 1) for name, index in pairs
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(N_NODES):
            total = 0
            for e in (2 * k, 2 * k + 1):
                op = self.ops[e]
                h = op(states[self.indices[e]])
                if self.training and drop_prob > 0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS's auxiliary classifier for 8x8 inputs (after the second reduction cell on CIFAR)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNetwork(nn.Module):
    """DARTS's CIFAR network for a genotype. In training mode with an auxiliary head, ``forward``
    returns ``(logits, auxiliary_logits)``; otherwise the logits. ``drop_path_prob`` may be
    changed between epochs (DARTS raises it linearly)."""

    def __init__(self, genotype: Genotype, *, num_classes: int, in_channels: int, size: NetworkSize) -> None:
        super().__init__()
        self.genotype, self.size = genotype, size
        self.drop_path_prob = size.drop_path_prob
        c = size.C
        c_stem = 3 * c
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        c_pp, c_p, c_cur = c_stem, c_stem, c
        reduction_prev = False
        self.cells = nn.ModuleList()
        self.auxiliary_head: AuxiliaryHead | None = None
        self.auxiliary_after = 2 * size.layers // 3
        for i in range(size.layers):
            reduction = i in (size.layers // 3, 2 * size.layers // 3)
            if reduction:
                c_cur *= 2
            pairs = genotype[1] if reduction else genotype[0]
            self.cells.append(DartsCell(pairs, c_pp, c_p, c_cur, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, N_NODES * c_cur
            if i == self.auxiliary_after and size.auxiliary:
                self.auxiliary_head = AuxiliaryHead(c_p, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.auxiliary_after and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits if aux is None else (logits, aux)


def darts_network(
    tree: Tree, *, num_classes: int = 10, in_channels: int = 3, size: NetworkSize = SEARCH,
    rng: np.random.Generator | None = None,
) -> DartsNetwork:
    """The DARTS network of ``tree``, initialised (PyTorch's defaults) from ``rng`` (seed 0 when None)."""
    genotype = darts_genotype(tree)
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels), ("C", size.C),
                        ("layers", size.layers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 0.0 <= size.drop_path_prob < 1.0:
        raise ValueError(f"drop_path_prob must lie in [0, 1), got {size.drop_path_prob!r}")
    seed = 0 if rng is None else int(rng.integers(2**63 - 1))
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return DartsNetwork(genotype, num_classes=num_classes, in_channels=in_channels, size=size)


class DartsCompiler:
    """The ``darts`` compiler (claims ``DARTS``): ``compile(tree, num_classes=10, in_channels=3, C=16,
    layers=8, auxiliary=False, drop_path_prob=0.0, rng=None)`` -> :class:`DartsNetwork` (defaults:
    the search-time network; ``**EVALUATION.__dict__`` gives the evaluation network)."""

    roots = (ROOT,)

    def compile(
        self, tree: Tree, *, num_classes: int = 10, in_channels: int = 3, C: int = SEARCH.C,
        layers: int = SEARCH.layers, auxiliary: bool = False, drop_path_prob: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> DartsNetwork:
        size = NetworkSize(C, layers, auxiliary, drop_path_prob)
        return darts_network(tree, num_classes=num_classes, in_channels=in_channels, size=size, rng=rng)
