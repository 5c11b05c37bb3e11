"""Independent checkers and helpers for the grammar tests (no hnas logic reused)."""

from __future__ import annotations

from pathlib import Path

from hnas.grammar import Tree

EDGES = {
    "Cell": [(1, 2), (1, 3), (2, 3), (1, 4), (2, 4), (3, 4)],
    "Residual2": [(1, 2), (1, 3), (2, 3)],
    "Residual3": [(1, 2), (2, 3), (1, 4), (3, 4)],
    "Diamond2": [(1, 2), (1, 3), (2, 4), (3, 4)],
}


def edges_of(op: str) -> list[tuple[int, int]]:
    if op.startswith("Linear"):
        n = int(op[len("Linear"):])
        return [(i, i + 1) for i in range(1, n + 1)]
    return EDGES[op]


def connected(op: str, children: tuple[Tree, ...]) -> bool:
    """Breadth-first search over the edges whose child is not ``zero`` (independent of hnas)."""
    edges = [e for e, child in zip(edges_of(op), children) if child.op != "zero"]
    output = max(b for _, b in edges_of(op))
    reached, frontier = {1}, [1]
    while frontier:
        node = frontier.pop()
        for a, b in edges:
            if a == node and b not in reached:
                reached.add(b)
                frontier.append(b)
    return output in reached


def disconnected_nodes(tree: Tree, verified: set[Tree] | None = None) -> list[Tree]:
    """Topology nodes whose zero children cut input from output; ``verified`` remembers good subtrees."""
    verified = set() if verified is None else verified
    bad = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if not node.children or node in verified:
            continue
        if any(c.op == "zero" for c in node.children) and not connected(node.op, node.children):
            bad.append(node)
        else:
            verified.add(node)
        stack.extend(node.children)
    return bad


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)
