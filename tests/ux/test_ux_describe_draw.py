"""The layout of ``hnas describe --draw``: boxes that never touch, arrows that go down between them."""

from __future__ import annotations

import warnings

import numpy as np

from hnas.grammar import load_space
from hnas.semantics.describe import _BOX_HEIGHT, _NODE_GAP, _box_width, _layout, draw_architecture
from hnas.semantics.graphs import tree_graph


def _graphs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the grammar's intended duplicate production
        space = load_space("nb201_variable_multi_multi")
    rng = np.random.default_rng(0)
    for _ in range(6):
        tree = space.sample(rng)
        yield tree_graph(tree, collapse_op="Cell")
        yield tree_graph(next(node for node in tree.walk() if node.op == "Cell"))
    cell = load_space("nb201_fixed_1_none").parse("(CELL Cell (OPS conv3x3) (OPS conv3x3) (OPS conv3x3) (OPS conv3x3)"
                                                  " (OPS conv3x3) (OPS conv3x3))")  # fmt: skip
    yield tree_graph(cell)


def test_boxes_do_not_touch_and_every_edge_runs_down_beside_the_boxes():
    for graph in _graphs():
        layout = _layout(graph)
        labels = dict(graph.nodes(data="label"))
        rows: dict[float, list[tuple[float, float]]] = {}
        for node, (x, y) in layout.centres.items():
            half = _box_width(labels[node]) / 2
            assert 0 <= x - half and x + half <= layout.width and 0 <= y - _BOX_HEIGHT / 2
            rows.setdefault(round(y, 6), []).append((x - half, x + half))
        for spans in rows.values():
            spans.sort()
            for (_, right), (left, _) in zip(spans, spans[1:]):
                assert left - right >= _NODE_GAP - 1e-9  # a gap between neighbouring boxes
        assert set(layout.bends) == set(graph.edges)
        for a, b in graph.edges:
            points = [layout.centres[a], *layout.bends[(a, b)], layout.centres[b]]
            assert all(p[1] > q[1] for p, q in zip(points, points[1:]))  # always downwards
            for x, y in layout.bends[(a, b)]:  # passing a layer: never through one of its boxes
                assert all(not (left - 1e-9 < x < right + 1e-9) for left, right in rows.get(round(y, 6), []))


def test_the_drawing_is_a_png_sized_to_the_layout(tmp_path):
    from PIL import Image

    tree = load_space("nb201_fixed_1_none").parse("(CELL Cell (OPS conv3x3) (OPS id) (OPS zero) (OPS avg_pool)"
                                                  " (OPS conv1x1) (OPS conv3x3))")  # fmt: skip
    draw_architecture(tree, tmp_path / "arch.png")
    width, height = Image.open(tmp_path / "arch.png").size
    macro = _layout(tree_graph(tree, collapse_op="Cell"))
    assert height > width and height >= 110 * macro.height  # top to bottom, 110 dpi
