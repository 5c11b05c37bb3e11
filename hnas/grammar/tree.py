"""Immutable derivation trees.

A node is one production application: ``symbol`` is the nonterminal it derives (``None`` for
a terminal written directly as a child in a right-hand side, e.g. ``resBlock`` in
``DOWN -> "Linear2" CELL "resBlock"``), ``op`` is the operator terminal (a topology, a
primitive) and ``children`` are the derivations of the remaining right-hand-side items, in
order. The bracket form is the paper's: ``(OPS Linear1 (CONVBLOCK Linear3 (ACT relu) ...))``.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Tree"]


class Tree:
    """An immutable, hashable node of a derivation tree; equal trees compare and hash equal."""

    __slots__ = ("symbol", "op", "children", "_hash", "_str", "__weakref__")

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

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Tree is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Tree is immutable")

    def __reduce__(self) -> tuple[type[Tree], tuple[str | None, str, tuple[Tree, ...]]]:
        return (Tree, (self.symbol, self.op, self.children))

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = hash((self.symbol, self.op, self.children))
            object.__setattr__(self, "_hash", h)
        return h

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Tree):
            return NotImplemented
        return (
            hash(self) == hash(other)
            and self.op == other.op
            and self.symbol == other.symbol
            and self.children == other.children
        )

    def __lt__(self, other: Tree) -> bool:
        """Trees order by their bracket strings, so sorting is deterministic."""
        return str(self) < str(other)

    def __str__(self) -> str:
        s = self._str
        if s is None:
            s = "".join(self._tokens())
            object.__setattr__(self, "_str", s)
        return s

    def __repr__(self) -> str:
        return f"Tree({str(self)!r})"

    def _tokens(self) -> Iterator[str]:
        if self.symbol is None:
            yield self.op
            return
        yield "("
        yield self.symbol
        yield " "
        yield self.op
        for child in self.children:
            yield " "
            if child._str is not None:
                yield child._str
            else:
                yield from child._tokens()
        yield ")"

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
        return 1 + sum(child.size() for child in self.children)

    def depth(self) -> int:
        """Number of nodes on the longest root-to-leaf path."""
        return 1 + max((child.depth() for child in self.children), default=0)
