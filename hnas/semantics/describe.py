"""What ``hnas describe`` reports about an architecture, and its drawing.

The command line takes the (classes, input shape) of an objective from
:func:`hnas.objectives.task_shape`, which loads no data.
"""

from __future__ import annotations

from dataclasses import dataclass
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


_LAYER_GAP = 0.8  # inches between the centres of consecutive layers (top to bottom)
_NODE_GAP = 0.3  # inches between neighbouring boxes of a layer
_BOX_HEIGHT = 0.36
_FONT_SIZE = 9
_CHAR_WIDTH = 0.078  # inches per character at _FONT_SIZE (DejaVu Sans, a little generous)
_BEND_WIDTH = 0.12  # the room a long edge takes in a layer it passes through
_MARGIN = 0.35
_COLOURS = {"input": "#e3e3e3", "output": "#e3e3e3", CELL_OP: "#cfe0f7", "resBlock": "#fbdcb8"}
_DEFAULT_COLOUR = "#e4f1dc"


@dataclass
class _Layout:
    """Box centres and the bend points of each edge (inches), and the drawing's size."""

    centres: dict[Any, tuple[float, float]]
    bends: dict[tuple[Any, Any], list[tuple[float, float]]]
    width: float
    height: float


def _ordered_layers(graph: nx.DiGraph) -> tuple[list[list[Any]], dict[tuple[Any, Any], list[Any]]]:
    """Nodes by longest distance from a source; an edge spanning several layers gets a waypoint in
    each layer it passes (so it is routed beside the boxes there, never through them). Each layer
    is ordered by the mean position of its neighbours (barycentre sweeps down and up)."""
    layer_of: dict[Any, int] = {}
    for node in nx.topological_sort(graph):
        layer_of[node] = max((layer_of[p] + 1 for p in graph.predecessors(node)), default=0)
    routed = nx.DiGraph()
    routed.add_nodes_from(graph.nodes)
    waypoints: dict[tuple[Any, Any], list[Any]] = {}
    for a, b in graph.edges:
        chain = [("bend", a, b, k) for k in range(layer_of[a] + 1, layer_of[b])]
        for k, point in zip(range(layer_of[a] + 1, layer_of[b]), chain):
            layer_of[point] = k
        nx.add_path(routed, [a, *chain, b])
        waypoints[(a, b)] = chain
    layers: list[list[Any]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for node in sorted(routed.nodes, key=str):
        layers[layer_of[node]].append(node)
    for sweep in range(6):
        down = sweep % 2 == 0
        for i in range(1, len(layers)) if down else range(len(layers) - 2, -1, -1):
            reference = {node: k for k, node in enumerate(layers[i - 1 if down else i + 1])}
            current = {node: k for k, node in enumerate(layers[i])}
            neighbours = routed.predecessors if down else routed.successors

            def barycentre(node: Any) -> float:
                positions = [reference[n] for n in neighbours(node) if n in reference]
                return sum(positions) / len(positions) if positions else current[node]

            layers[i].sort(key=barycentre)
    return layers, waypoints


def _box_width(label: str) -> float:
    return max(0.55, _CHAR_WIDTH * len(label) + 0.22)


def _layout(graph: nx.DiGraph) -> _Layout:
    """Layers from top to bottom, each centred; boxes sized to their labels."""
    layers, waypoints = _ordered_layers(graph)
    labels = dict(graph.nodes(data="label"))
    widths = {node: _box_width(labels[node]) if node in labels else _BEND_WIDTH for layer in layers for node in layer}
    row_widths = [sum(widths[n] for n in layer) + _NODE_GAP * (len(layer) - 1) for layer in layers]
    width = max(row_widths, default=0.0) + 2 * _MARGIN
    height = _LAYER_GAP * max(len(layers) - 1, 0) + _BOX_HEIGHT + 2 * _MARGIN
    points = {}
    for i, (layer, row_width) in enumerate(zip(layers, row_widths)):
        x = (width - row_width) / 2
        for node in layer:
            points[node] = (x + widths[node] / 2, height - _MARGIN - _BOX_HEIGHT / 2 - i * _LAYER_GAP)
            x += widths[node] + _NODE_GAP
    centres = {node: points[node] for node in graph.nodes}
    bends = {edge: [points[p] for p in chain] for edge, chain in waypoints.items()}
    return _Layout(centres, bends, width, height)


def _edge_path(start: tuple[float, float], bends: list[tuple[float, float]], end: tuple[float, float]) -> Any:
    """From the bottom of one box to the top of another through the bends: a smooth S-curve
    between each two consecutive layers, straight down through each layer it passes."""
    from matplotlib.path import Path as MplPath

    half = _BOX_HEIGHT / 2
    stops = [(start[0], start[1] - half)]
    for x, y in bends:
        stops += [(x, y + half), (x, y - half)]
    stops.append((end[0], end[1] + half))
    vertices, codes = [stops[0]], [MplPath.MOVETO]
    for (x0, y0), (x1, y1) in zip(stops, stops[1:]):
        if x0 == x1:
            vertices.append((x1, y1))
            codes.append(MplPath.LINETO)
        else:
            middle = (y0 + y1) / 2
            vertices += [(x0, middle), (x1, middle), (x1, y1)]
            codes += [MplPath.CURVE4] * 3
    return MplPath(vertices, codes)


def _draw_graph(graph: nx.DiGraph, axis: Any, layout: _Layout) -> None:
    """Rounded boxes sized to their labels, arrows from box to box routed between the boxes."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    for node, label in graph.nodes(data="label"):
        x, y = layout.centres[node]
        w = _box_width(label)
        axis.add_patch(FancyBboxPatch((x - w / 2, y - _BOX_HEIGHT / 2), w, _BOX_HEIGHT,
                                      boxstyle="round,pad=0,rounding_size=0.08", linewidth=0.8, edgecolor="0.3",
                                      facecolor=_COLOURS.get(label, _DEFAULT_COLOUR), zorder=2))  # fmt: skip
        axis.text(x, y, label, ha="center", va="center", fontsize=_FONT_SIZE, zorder=3)
    for a, b in graph.edges:
        path = _edge_path(layout.centres[a], layout.bends[(a, b)], layout.centres[b])
        axis.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=10, color="0.25",
                                       linewidth=0.9, shrinkA=0, shrinkB=0, zorder=1))  # fmt: skip


def draw_architecture(tree: Tree, path: str | Path) -> None:
    """Draw the macro graph (each ``Cell`` one node) and the first cell's graph side by side into
    ``path``: layered top to bottom, the data flowing downwards."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    cell = next((node for node in tree.walk() if node.op == CELL_OP), None)
    panels = [(tree_graph(tree, collapse_op=CELL_OP), "macro graph (each Cell one box)")]
    if cell is not None:
        panels.append((tree_graph(cell), "first cell"))
    layouts = [_layout(graph) for graph, _ in panels]
    title_height = 0.45
    total_width = sum(max(layout.width, 2.6) for layout in layouts)
    total_height = max(layout.height for layout in layouts) + title_height
    figure = Figure(figsize=(total_width, total_height))
    left = 0.0
    for (graph, title), layout in zip(panels, layouts):
        width, height = layout.width, layout.height
        panel_width = max(width, 2.6)
        axis = figure.add_axes((left / total_width, (total_height - title_height - height) / total_height,
                                panel_width / total_width, height / total_height))  # fmt: skip
        axis.set_xlim((width - panel_width) / 2, (width + panel_width) / 2)
        axis.set_ylim(0, height)
        axis.set_axis_off()
        _draw_graph(graph, axis, layout)
        figure.text((left + panel_width / 2) / total_width, 1 - 0.5 * title_height / total_height, title,
                    ha="center", va="center", fontsize=11)  # fmt: skip
        left += panel_width
    figure.savefig(Path(path), dpi=110)
