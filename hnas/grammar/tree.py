"""Immutable derivation trees.

A node is one production application: ``symbol`` is the nonterminal it derives (``None`` for
a terminal written directly as a child in a right-hand side, e.g. ``resBlock`` in
``DOWN -> "Linear2" CELL "resBlock"``), ``op`` is the operator terminal (a topology, a
primitive) and ``children`` are the derivations of the remaining right-hand-side items, in
order. The bracket form is the paper's: ``(OPS Linear1 (CONVBLOCK Linear3 (ACT relu) ...))``.

Hashing, equality, printing, size, depth and pickling are iterative: a tree may be arbitrarily
deep. A tree pickles as one flat list of its distinct nodes, so a subtree used several times (a
shared building block) is stored once and stays one object after loading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

__all__ = ["Tree", "bracket_string"]


class Tree:
    """An immutable, hashable node of a derivation tree; equal trees compare and hash equal."""

    __slots__ = ("symbol", "op", "children", "_hash", "_str", "_tally", "__weakref__")

    symbol: str | None
    op: str
    children: tuple[Tree, ...]

    def __init__(self, symbol: str | None, op: str, children: tuple[Tree, ...] = ()) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "symbol", symbol)
        setattr_(self, "op", op)
        setattr_(self, "children", children)
        setattr_(self, "_hash", None)
        setattr_(self, "_str", None)
        setattr_(self, "_tally", None)  # hnas.grammar.treeops.tally's memo

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Tree is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Tree is immutable")

    def __reduce__(self) -> tuple[Callable[[list[tuple[str | None, str, tuple[int, ...]]]], Tree], tuple[list]]:
        """Pickles as a flat list of distinct nodes, children first (no recursion, sharing kept)."""
        index: dict[int, int] = {}
        flat: list[tuple[str | None, str, tuple[int, ...]]] = []
        for node in _postorder(self, lambda n: id(n) not in index):
            if id(node) not in index:
                index[id(node)] = len(flat)
                flat.append((node.symbol, node.op, tuple(index[id(c)] for c in node.children)))
        return (_from_flat, (flat,))

    def __hash__(self) -> int:
        h = self._hash
        if h is None:  # hash the unhashed nodes, children first (a new tree shares most nodes with others)
            setattr_ = object.__setattr__
            stack = [self]
            while stack:
                node = stack[-1]
                unhashed = [child for child in node.children if child._hash is None]
                if unhashed:
                    stack.extend(unhashed)
                    continue
                stack.pop()
                if node._hash is None:  # a node met twice is hashed once
                    setattr_(node, "_hash", hash((node.symbol, node.op, tuple([c._hash for c in node.children]))))
            h = self._hash
        return h

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Tree):
            return NotImplemented
        if hash(self) != hash(other):
            return False
        stack = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            if a._hash != b._hash or a.op != b.op or a.symbol != b.symbol or len(a.children) != len(b.children):
                return False
            stack.extend(zip(a.children, b.children))
        return True

    def __lt__(self, other: Tree) -> bool:
        """Trees order by their bracket strings, so sorting is deterministic."""
        return str(self) < str(other)

    def __str__(self) -> str:
        s = self._str
        if s is None:
            s = bracket_string(self, lambda node: node._str)
            object.__setattr__(self, "_str", s)
        return s

    def __repr__(self) -> str:
        return f"Tree({str(self)!r})"

    @property
    def is_terminal_leaf(self) -> bool:
        """True for a terminal used directly as a right-hand-side child (no nonterminal)."""
        return self.symbol is None

    def walk(self) -> Iterator[Tree]:
        """All nodes in preorder (this node first)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def size(self) -> int:
        """Number of nodes."""
        return sum(1 for _ in self.walk())

    def depth(self) -> int:
        """Number of nodes on the longest root-to-leaf path."""
        deepest = 0
        stack = [(self, 1)]
        while stack:
            node, d = stack.pop()
            deepest = max(deepest, d)
            stack.extend((child, d + 1) for child in node.children)
        return deepest


def bracket_string(tree: Tree, short: Callable[[Tree], str | None]) -> str:
    """``(SYMBOL op child ...)`` of ``tree``, written with an explicit stack; a node below the root for
    which ``short`` gives a string is written as that string (a cached form, a block's name)."""
    parts: list[str] = []
    stack: list[Tree | str] = [tree]
    while stack:
        item = stack.pop()
        if item.__class__ is str:
            parts.append(item)
        elif item.symbol is None:
            parts.append(item.op)
        elif item is not tree and (text := short(item)) is not None:
            parts.append(text)
        else:
            parts.append(f"({item.symbol} {item.op}")
            stack.append(")")
            for child in reversed(item.children):
                stack.append(child)
                stack.append(" ")
    return "".join(parts)


def _postorder(tree: Tree, enter: Callable[[Tree], bool]) -> Iterator[Tree]:
    """The nodes of ``tree``, children before parents, descending only into nodes where ``enter`` holds
    (a node repeated in the tree is yielded at each occurrence)."""
    if not enter(tree):
        return
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, i = stack[-1]
        if i < len(node.children):
            stack[-1] = (node, i + 1)
            child = node.children[i]
            if enter(child):
                stack.append((child, 0))
        else:
            stack.pop()
            yield node


def _from_flat(flat: list[tuple[str | None, str, tuple[int, ...]]]) -> Tree:
    nodes: list[Tree] = []
    for symbol, op, children in flat:
        nodes.append(Tree(symbol, op, tuple(nodes[i] for i in children)))
    return nodes[-1]
