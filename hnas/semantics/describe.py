"""What ``hnas describe`` reports about an architecture, and its drawing.

The command line takes the (classes, input shape) of an objective from
:func:`hnas.objectives.task_shape`, which loads no data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import torch

from hnas.grammar.tree import Tree
from hnas.semantics.compilers import compile_tree
from hnas.semantics.counting import count_flops, count_parameters, params_by_terminal
from hnas.semantics.graphs import topology_depth, tree_graph

__all__ = ["describe", "draw_architecture"]

CELL_OP = "Cell"


def describe(tree: Tree, *, num_classes: int, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """Parameters, FLOPs, output shape, cell count, hierarchy depth and parameters per terminal."""
    network = compile_tree(tree, num_classes=num_classes, in_channels=input_shape[0])
    network.eval()
    with torch.no_grad():
        output = network(torch.zeros((1, *input_shape)))
    return {
        "architecture": str(tree),
        "num_classes": num_classes,
        "input_shape": list(input_shape),
        "params": count_parameters(network),
        "flops": count_flops(network, input_shape),
        "output_shape": list(output.shape),
        "cells": sum(1 for node in tree.walk() if node.op == CELL_OP),
        "depth": topology_depth(tree),
        "tree_nodes": tree.size(),
        "params_by_terminal": params_by_terminal(network),
    }


def _layered_positions(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    for node in nx.topological_sort(graph):
        graph.nodes[node]["layer"] = max((graph.nodes[p]["layer"] + 1 for p in graph.predecessors(node)), default=0)
    return nx.multipartite_layout(graph, subset_key="layer")


def _draw_graph(graph: nx.DiGraph, axis: Any, title: str) -> None:
    positions = _layered_positions(graph)
    nx.draw_networkx(
        graph,
        positions,
        ax=axis,
        labels=dict(graph.nodes(data="label")),
        node_color="#dde6f5",
        node_size=900,
        font_size=7,
        arrowsize=8,
    )
    axis.set_title(title)
    axis.set_axis_off()


def draw_architecture(tree: Tree, path: str | Path) -> None:
    """Draw the macro graph (each ``Cell`` one node) and the first cell's graph into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cell = next((node for node in tree.walk() if node.op == CELL_OP), None)
    macro = tree_graph(tree, collapse_op=CELL_OP)
    panels = [(macro, "macro graph (cells collapsed)")]
    if cell is not None:
        panels.append((tree_graph(cell), "first cell"))
    width = max(6.0, 0.9 * max(len(g) for g, _ in panels) ** 0.8)
    figure, axes = plt.subplots(len(panels), 1, figsize=(width, 4.0 * len(panels)), squeeze=False)
    for (graph, title), axis in zip(panels, axes[:, 0]):
        _draw_graph(graph, axis, title)
    figure.tight_layout()
    figure.savefig(Path(path), dpi=100)
    plt.close(figure)
