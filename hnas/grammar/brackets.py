"""Bracket strings: canonical printing and validating parsing (tokenizer + a stack of open nodes;
nothing recurses, so strings may nest arbitrarily deep).

Canonical form: the derivation tree as ``(SYMBOL op child ...)``. With shared building blocks,
the main tree prints each block occurrence as the block's terminal name and is followed by each
used block's derivation (declaration order); the main tree is omitted when the main grammar has a
single derivation, e.g. ``(CELL Cell (OPS id) ...)`` for ``nb201_fixed_1_none``. Parsing accepts
that form and the fully expanded one (``str(tree)``).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from functools import cached_property

from hnas.grammar.analysis import Analysis
from hnas.grammar.cfg import Production, Symbol
from hnas.grammar.errors import GrammarError
from hnas.grammar.terminals import ZERO
from hnas.grammar.tree import Tree, bracket_string
from hnas.grammar.treeops import rebuild, shared_blocks

__all__ = ["BracketCodec"]

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def _show(options: set[str] | list[str]) -> str:
    return ", ".join(sorted(options)) or "nothing"


class BracketCodec:
    """Prints and parses the trees of one grammar."""

    def __init__(self, analysis: Analysis, main_template: Tree | None) -> None:
        """``main_template``: the main grammar's only derivation (blocks as placeholders), if it has one."""
        grammar = analysis.grammar
        self.analysis = analysis
        self.grammar = grammar
        self.names = grammar.shared_nonterminals  # block nonterminal -> terminal name
        self.main_template = main_template
        self.by_op: dict[str, dict[str, list[Production]]] = {}
        for nt, alts in grammar.rules.items():
            for prod in alts:
                self.by_op.setdefault(nt, {}).setdefault(prod.op, []).append(prod)

    # printing ----------------------------------------------------------------------------------
    def format(self, tree: Tree) -> str:
        if not self.names:
            return str(tree)
        blocks = shared_blocks(tree, self.names)
        names = self.names

        def short(node: Tree) -> str | None:  # below the root of each part a block is its terminal name
            return names.get(node.symbol)

        parts = [] if self.main_template is not None else [bracket_string(tree, short)]
        parts += [bracket_string(blocks[nt], short) for nt in names if nt in blocks]
        return " ".join(parts)

    # parsing -----------------------------------------------------------------------------------
    def parse(self, text: str) -> Tree:
        if not isinstance(text, str):
            raise GrammarError(f"a tree string must be str, not {type(text).__name__}")
        items = self._fast_items(text)
        if items is not None:
            try:
                return self._assemble(items, {})
            except GrammarError:
                pass  # parse again, keeping positions for the message
        # invalid: the careful parser finds and reports the first bad symbol
        positions: dict[int, int] = {}
        return self._assemble(self._careful_items(text, positions), positions)

    def _fast_items(self, text: str) -> list[tuple[Tree, int]] | None:
        """Top-level trees of a valid string, checked by one dict lookup per node; None if anything is off."""
        tokens = _TOKEN.findall(text)
        productions, leaves, constants = self._fast
        stack: list[tuple[str, str, list[Tree], list[str]]] = []
        items: list[tuple[Tree, int]] = []
        i, n = 0, len(tokens)
        try:
            while i < n:
                token = tokens[i]
                if token == "(":
                    stack.append((tokens[i + 1], tokens[i + 2], [], []))
                    i += 3
                    continue
                i += 1
                if token == ")":
                    symbol, op, children, labels = stack.pop()
                    if children:
                        allowed = productions[(symbol, op, tuple(labels))]
                        if allowed is not None:
                            mask = 0
                            for j, child in enumerate(children):
                                if child.op == ZERO:
                                    mask |= 1 << j
                            if mask not in allowed:
                                return None
                        tree = Tree(symbol, op, tuple(children))
                    else:
                        tree = constants[(symbol, op)]
                    label = symbol
                else:
                    tree, label = leaves[token]
                if stack:
                    stack[-1][2].append(tree)
                    stack[-1][3].append(label)
                elif label in self.grammar.rules and tree.symbol is not None and tree.children:
                    items.append((tree, 0))
                else:
                    return None
        except (KeyError, IndexError):
            return None
        return items if items and not stack else None

    @cached_property
    def _fast(self) -> tuple[dict, dict, dict]:
        """(symbol, op, child labels) -> allowed zero-masks (None: no child can be zero), leaf token -> (tree, label),
        (symbol, primitive) -> constant tree."""
        productions: dict[tuple, frozenset[int] | None] = {}
        leaves: dict[str, tuple[Tree, str]] = {}
        constants: dict[tuple[str, str], Tree] = {}
        for nt, alts in self.grammar.rules.items():
            for prod in alts:
                if not prod.children:
                    constants[(nt, prod.op)] = Tree(nt, prod.op)
                    continue
                labels = []
                for child in prod.children:
                    if child.terminal:
                        leaves[child.name] = (Tree(None, child.name), "'" + child.name)
                        labels.append("'" + child.name)
                    else:
                        labels.append(child.name)
                can_zero = any(self.analysis.child_caps(child)[0] for child in prod.children)
                masks = frozenset(self.analysis.masks[id(prod)]) if can_zero else None
                productions[(nt, prod.op, tuple(labels))] = masks
        for nt, name in self.names.items():
            leaves[name] = (Tree(nt, name), nt)  # placeholder of a shared block, resolved in _assemble
        return productions, leaves, constants

    def _careful_items(self, text: str, positions: dict[int, int]) -> list[tuple[Tree, int]]:
        tokens = [(m.group(), m.start() + 1) for m in _TOKEN.finditer(text)]
        if not tokens:
            raise GrammarError("empty tree string", position=1)
        state = _Cursor(tokens, len(text) + 1)
        items: list[tuple[Tree, int]] = []
        while not state.done():
            pos = state.pos()
            if state.peek() != "(":
                raise state.error(f"expected '(' to start a tree, got {state.peek()!r}")
            items.append((self._node(state, positions), pos))
        return items

    def _node(self, state: _Cursor, positions: dict[int, int]) -> Tree:
        """The tree whose '(' is at the cursor, checked symbol by symbol; open nodes live on a stack."""
        stack = [self._open(state, None)]
        while True:
            frame = stack[-1]
            token = state.peek()
            if token == ")":
                tree = self._close(state, frame, positions)
                stack.pop()
                if not stack:
                    return tree
                parent = stack[-1]
                i = len(parent.children)
                parent.candidates = [p for p in parent.candidates
                                     if p.children[i].name == tree.symbol and not p.children[i].terminal]
                parent.children.append(tree)
                continue
            if token is None:
                raise state.error(f"unclosed '(' of {frame.symbol} opened at position {frame.open_pos}")
            i = len(frame.children)
            frame.candidates = live = [p for p in frame.candidates if len(p.children) > i]
            if token == "(":
                child_allowed = {p.children[i].name for p in live if not p.children[i].terminal}
                if not child_allowed:
                    raise state.error(f"{frame.symbol} {frame.op} takes no nonterminal child {i + 1} "
                                      f"(got {state.peek(1)!r})", offset=1)
                stack.append(self._open(state, child_allowed))
                continue
            child = self._leaf(state, frame.symbol, frame.op, live, i, positions)
            frame.candidates = [p for p in live if self._matches_leaf(p.children[i], token)]
            frame.children.append(child)

    def _open(self, state: _Cursor, allowed: set[str] | None) -> _Open:
        """Read ``(SYMBOL op`` and check both (``allowed``: the nonterminals a parent accepts here)."""
        open_pos = state.pos()
        state.take()  # "("
        symbol, sym_pos = state.peek(), state.pos()
        if symbol in ("(", ")", None):
            raise state.error(f"expected a nonterminal after '(', got {symbol!r}" if symbol else "unexpected end")
        if symbol not in self.grammar.rules:
            raise state.error(f"unknown nonterminal {symbol!r}")
        if allowed is not None and symbol not in allowed:
            raise state.error(f"{symbol} is not allowed here (expected {_show(allowed)})")
        state.take()
        op = state.peek()
        if op in ("(", ")", None):
            raise state.error(f"expected an operator of {symbol} after '({symbol}'")
        candidates = self.by_op[symbol].get(op)
        if not candidates:
            raise state.error(f"{symbol} has no production with operator {op!r} "
                              f"(expected one of {_show(self.by_op[symbol])})")
        state.take()
        return _Open(symbol, op, candidates, open_pos, sym_pos)

    def _close(self, state: _Cursor, frame: _Open, positions: dict[int, int]) -> Tree:
        """Check the children of an open node at its ')' and build it."""
        children = frame.children
        candidates = [p for p in frame.candidates if len(p.children) == len(children)]
        if not candidates:
            raise state.error(f"{frame.symbol} {frame.op} needs more children (got {len(children)})")
        state.take()  # ")"
        tree = Tree(frame.symbol, frame.op, tuple(children))
        if children:
            mask = sum(1 << i for i, c in enumerate(children) if c.op == ZERO)
            if mask not in self.analysis.masks[id(candidates[0])]:
                raise GrammarError(f"'zero' children disconnect the input of {frame.op} from its output",
                                   position=frame.sym_pos)
        if frame.symbol in self.names:
            positions[id(tree)] = frame.open_pos
        return tree

    def _matches_leaf(self, child: Symbol, token: str) -> bool:
        if child.terminal:
            return child.name == token
        return self.names.get(child.name) == token

    def _leaf(self, state: _Cursor, symbol: str, op: str, live: list[Production], i: int,
              positions: dict[int, int]) -> Tree:
        token = state.peek()
        expected = {p.children[i].name for p in live if p.children[i].terminal}
        expected |= {self.names[p.children[i].name] for p in live if p.children[i].name in self.names}
        if token not in expected:
            what = f"expected {_show(expected)}" if expected else f"{symbol} {op} takes no more children"
            raise state.error(f"unexpected {token!r} in {symbol} {op}: {what}")
        pos = state.pos()
        state.take()
        block = next((nt for nt, name in self.names.items() if name == token), None)
        if block is None:
            return Tree(None, token)
        placeholder = Tree(block, token)  # resolved in _assemble
        positions[id(placeholder)] = pos
        return placeholder

    def _assemble(self, items: list[tuple[Tree, int]], positions: dict[int, int]) -> Tree:
        start = self.grammar.start
        main: Tree | None = None
        blocks: dict[str, Tree] = {}
        for index, (item, pos) in enumerate(items):
            if index == 0 and item.symbol == start:
                main = item
            elif item.symbol in self.names and item.symbol != start:
                if item.symbol in blocks:
                    raise GrammarError(f"shared block {item.symbol} given twice", position=pos)
                blocks[item.symbol] = item
            else:
                expected = [start] if index == 0 else []
                raise GrammarError(f"expected a tree of {_show(expected + list(self.names))}, got {item.symbol}",
                                   position=pos)
        if main is None:
            if self.main_template is None:
                raise GrammarError(f"expected a tree of {start} first", position=items[0][1])
            main = self.main_template
        resolved: dict[str, Tree] = {}
        used: set[str] = set()

        def enter(node: Tree) -> tuple[Tree, Hashable, bool]:
            symbol = node.symbol
            if symbol not in self.names:
                return node, None, False
            used.add(symbol)
            if not node.children and node.op == self.names[symbol]:  # placeholder
                if symbol not in blocks:
                    raise GrammarError(f"no derivation given for the shared block {node.op} ({symbol})",
                                       position=positions.get(id(node)))
                node = blocks[symbol]
            return node, (symbol, id(node)), False

        def leave(tag: Hashable, full: Tree) -> Tree:
            symbol, source = tag
            first = resolved.setdefault(symbol, full)
            if first != full:
                raise GrammarError(f"the occurrences of the shared block {symbol} differ", position=positions.get(source))
            return first

        tree = rebuild(main, enter, leave)
        unused = set(blocks) - used
        if unused:
            symbol = sorted(unused)[0]
            raise GrammarError(f"shared block {symbol} given but not used", position=positions.get(id(blocks[symbol])))
        return tree


class _Open:
    """A node whose ')' has not been read yet: its productions still possible and children so far."""

    __slots__ = ("symbol", "op", "candidates", "open_pos", "sym_pos", "children")

    def __init__(self, symbol: str, op: str, candidates: list[Production], open_pos: int, sym_pos: int) -> None:
        self.symbol, self.op, self.candidates = symbol, op, candidates
        self.open_pos, self.sym_pos = open_pos, sym_pos
        self.children: list[Tree] = []


class _Cursor:
    """Token cursor over (token, 1-based position) pairs."""

    def __init__(self, tokens: list[tuple[str, int]], end: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.end = end

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def peek(self, ahead: int = 0) -> str | None:
        j = self.i + ahead
        return self.tokens[j][0] if j < len(self.tokens) else None

    def pos(self, ahead: int = 0) -> int:
        j = self.i + ahead
        return self.tokens[j][1] if j < len(self.tokens) else self.end

    def take(self) -> None:
        self.i += 1

    def error(self, message: str, offset: int = 0) -> GrammarError:
        token = self.peek(offset)
        near = f" (at {token!r})" if token not in (None, "(", ")") and token not in message else ""
        return GrammarError(message + near, position=self.pos(offset))

