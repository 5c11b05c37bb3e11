"""Cheap synthetic objectives: known functions of a tree, for testing and benchmarking searchers.

They need no data and no torch, run in microseconds, and reward what a NAS researcher would
expect to help (convolutions over pooling, identity and zero), so a searcher that learns which
operations matter beats random sampling. Losses are lower-is-better, in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from hnas.grammar.tree import Tree

__all__ = ["OP_QUALITY", "op_quality_loss", "conv_fraction_loss", "SYNTHETIC_OBJECTIVES"]

OP_QUALITY: Mapping[str, float] = MappingProxyType(
    {
        # NAS-Bench-201 cell operations
        "conv3x3": 1.0, "conv1x1": 0.6, "avg_pool": 0.25, "id": 0.35, "zero": 0.0,
        # hierarchical conv-block parts
        "conv3x3o": 1.0, "dconv3x3o": 0.7, "conv1x1o": 0.5,
        "batch": 0.9, "instance": 0.4, "layer": 0.5,
        "relu": 0.6, "hardswish": 0.9, "mish": 0.8,
    }
)
"""Quality of each leaf operation; leaves not listed (e.g. ``resBlock``) count 0.5."""

_CONVS = frozenset({"conv3x3", "conv1x1", "conv3x3o", "conv1x1o", "dconv3x3o"})


def _leaves(tree: Tree) -> list[str]:
    return [node.op for node in tree.walk() if not node.children]


def op_quality_loss(tree: Tree) -> float:
    """1 - the mean quality (``OP_QUALITY``) of the tree's leaf operations."""
    leaves = _leaves(tree)
    return 1.0 - sum(OP_QUALITY.get(op, 0.5) for op in leaves) / len(leaves)


def conv_fraction_loss(tree: Tree) -> float:
    """1 - the fraction of leaf operations that are convolutions."""
    leaves = _leaves(tree)
    return 1.0 - sum(op in _CONVS for op in leaves) / len(leaves)


SYNTHETIC_OBJECTIVES: Mapping[str, Callable[[Tree], float]] = MappingProxyType(
    {"op_quality": op_quality_loss, "conv_fraction": conv_fraction_loss}
)
