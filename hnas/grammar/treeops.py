"""Path-based edits of immutable trees, keeping shared building blocks consistent."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple

from hnas.grammar.tree import Tree

__all__ = ["Site", "sites", "replace_at", "get_at", "unify", "shared_blocks"]

Path = tuple[int, ...]


class Site(NamedTuple):
    """A node reached by ``path``; ``parent`` None at the root; ``owner`` is the path of the innermost
    shared block containing it (the node itself if it is one), None in the main tree."""

    node: Tree
    path: Path
    parent: Tree | None
    owner: Path | None


def sites(tree: Tree, shared: Collection[str]) -> list[Site]:
    """Every node with a nonterminal, preorder; a shared block is visited at its first occurrence only."""
    out: list[Site] = []
    seen: set[str] = set()
    stack: list[tuple[Tree, Path, Tree | None, Path | None]] = [(tree, (), None, None)]
    pop, push = stack.pop, stack.append
    while stack:
        node, path, parent, owner = pop()
        symbol = node.symbol
        if symbol is None:
            continue
        if symbol in shared:
            if symbol in seen:
                continue
            seen.add(symbol)
            owner = path
        out.append(Site(node, path, parent, owner))
        children = node.children
        for i in range(len(children) - 1, -1, -1):
            push((children[i], path + (i,), node, owner))
    return out


def get_at(tree: Tree, path: Path) -> Tree:
    for i in path:
        tree = tree.children[i]
    return tree


def replace_at(tree: Tree, path: Path, sub: Tree) -> Tree:
    """``tree`` with the node at ``path`` replaced by ``sub``."""
    if not path:
        return sub
    i = path[0]
    children = tree.children
    return Tree(tree.symbol, tree.op, children[:i] + (replace_at(children[i], path[1:], sub),) + children[i + 1 :])


def shared_blocks(tree: Tree, shared: Collection[str]) -> dict[str, Tree]:
    """The derivation of each shared block used in ``tree`` (first occurrence)."""
    blocks: dict[str, Tree] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.symbol in shared:
            if node.symbol in blocks:
                continue
            blocks[node.symbol] = node
        stack.extend(node.children)
    return blocks


def unify(tree: Tree, preferred: Mapping[str, Tree], shared: Collection[str]) -> Tree:
    """Make every occurrence of a shared block equal: ``preferred[S]`` where given, else the first
    occurrence (nested blocks inside a preferred derivation are unified too)."""
    done: dict[str, Tree] = {}

    def visit(node: Tree) -> Tree:
        symbol = node.symbol
        if symbol in shared:
            if symbol not in done:
                done[symbol] = rebuild(preferred.get(symbol, node))
            return done[symbol]
        return rebuild(node)

    def rebuild(node: Tree) -> Tree:
        children = node.children
        if not children:
            return node
        new = tuple(visit(c) for c in children)
        if all(a is b for a, b in zip(new, children)):
            return node
        return Tree(node.symbol, node.op, new)

    return visit(tree)
