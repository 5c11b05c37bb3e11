"""Fast constrained sampling of derivations, by production weight (a probabilistic CFG).

Everything that does not depend on the random draws is precomputed per grammar: for each
nonterminal the feasible non-zero productions with cumulative weights; for each topology
production the allowed zero-masks with cumulative probabilities (lookahead: a mask has the
probability that independent draws of the children give exactly its zero pattern, restricted to
masks that keep input and output connected, so no draw is ever rejected) and, per mask, what each
child becomes; constant subtrees are built once; small non-recursive sub-languages (e.g. ``OPS``)
are enumerated once with their probabilities, so drawing one costs one bisection.

Drawing is iterative (an explicit stack), so derivations may be arbitrarily deep; a recursive
grammar whose weights make derivations grow without end stops at MAX_SAMPLE_NODES.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect
from collections.abc import Callable, Iterator

import numpy as np

from hnas.grammar import terminals
from hnas.grammar.analysis import Analysis, children_first
from hnas.grammar.cfg import Production
from hnas.grammar.errors import GrammarError
from hnas.grammar.tree import Tree

__all__ = ["Deriver", "uniform_stream"]

ENUMERATE_LIMIT = 256
"""Non-recursive nonterminals with at most this many derivations are enumerated once."""

MAX_SAMPLE_NODES = 1_000_000
"""Most topology nodes one draw may create (a recursive grammar may grow without end)."""


class _Choice:
    """A child drawn from an enumerated nonterminal: one bisection, no stack frame."""

    __slots__ = ("cum", "total", "items")

    def __init__(self, cum: list[float], total: float, items: list[Tree]) -> None:
        self.cum, self.total, self.items = cum, total, items


class _Shared:
    """Marks a child that is a shared building block (one derivation reused at every occurrence)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def uniform_stream(rng: np.random.Generator, block: int = 256) -> Callable[[], float]:
    """A function returning uniform floats in [0, 1) drawn from ``rng`` in blocks."""

    def blocks() -> Iterator[float]:
        while True:
            yield from rng.random(block).tolist()

    return blocks().__next__


def _cumulative(weights: list[float]) -> tuple[list[float], float]:
    """Cumulative weights for ``bisect(cum, u * total)``; the last is infinite so that rounding in
    ``u * total`` can never index past the end."""
    cum = list(itertools.accumulate(weights))
    total = cum[-1]
    cum[-1] = math.inf
    return cum, total


class Deriver:
    """Draws derivations of nonterminals under the constraint, from an explicit random stream."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        grammar = analysis.grammar
        self.zero_tree = {nt: Tree(nt, terminals.ZERO) for nt in grammar.rules if analysis.can_zero[nt]}
        zero_weight = {nt: sum(p.weight for p in alts if p.op == terminals.ZERO) for nt, alts in grammar.rules.items()}
        nonzero = {nt: [p for p in analysis.feasible(nt) if p.op != terminals.ZERO] for nt in grammar.rules}
        self.p_zero = {
            nt: zero_weight[nt] / (zero_weight[nt] + sum(p.weight for p in nonzero[nt])) for nt in grammar.rules
        }
        self._leaves: dict[str, Tree] = {}
        # nonterminal -> (cumulative weights, total, items); an item is a constant Tree or
        # (op, mask cumulative probabilities, total, per-mask child actions)
        self.table: dict[str, tuple[list[float], float, list]] = {}
        for nt in grammar.rules:
            items = [self._compile(nt, p) for p in nonzero[nt]]
            if items:
                self.table[nt] = (*_cumulative([float(p.weight) for p in nonzero[nt]]), items)
        self._enumerate_small()
        self._inline_choices()

    def _leaf(self, name: str) -> Tree:
        return self._leaves.setdefault(name, Tree(None, name))

    def _compile(self, nt: str, prod: Production) -> Tree | tuple:
        """A primitive production's constant tree, or (op, mask cumulative probs, total, per-mask actions)."""
        if not prod.children:
            return Tree(nt, prod.op)
        probs: list[float] = []
        actions: list[tuple] = []
        for mask in self.analysis.masks[id(prod)]:
            prob = 1.0
            acts = []
            for i, child in enumerate(prod.children):
                zero = bool(mask >> i & 1)
                if child.terminal:
                    acts.append(self._leaf(child.name))  # feasible masks match the leaf's zero-ness
                elif child.name in self.analysis.shared:
                    acts.append(_Shared(child.name))
                elif zero:
                    prob *= self.p_zero[child.name]
                    acts.append(self.zero_tree[child.name])
                else:
                    prob *= 1.0 - self.p_zero[child.name]
                    acts.append(child.name)
            probs.append(prob)
            actions.append(tuple(acts))
        return (prod.op, *_cumulative(probs), actions)

    def _enumerate_small(self) -> None:
        """Replace the table of small, shared-free, non-recursive nonterminals by all their derivations."""
        polys = self.analysis.polys(True)
        rules = self.analysis.grammar.rules
        done: dict[str, list[tuple[Tree, float]]] = {}

        def small(nt: str) -> bool:
            if nt not in polys or nt not in self.table:
                return False
            zero, nonzero = polys[nt]
            return set(nonzero) == {frozenset()} and nonzero[frozenset()] <= ENUMERATE_LIMIT

        def derivations(nt: str) -> list[tuple[Tree, float]]:
            """Every derivation of ``nt`` with its probability (its children's lists are in ``done``)."""
            cum, total, items = self.table[nt]
            out: list[tuple[Tree, float]] = []
            previous = 0.0
            for c, item in zip(cum, items):
                c = min(c, total)
                p_item = (c - previous) / total
                previous = c
                if isinstance(item, Tree):
                    out.append((item, p_item))
                    continue
                op, mcum, mtotal, actions = item
                mprev = 0.0
                for mc, acts in zip(mcum, actions):
                    mc = min(mc, mtotal)
                    p_mask = (mc - mprev) / mtotal
                    mprev = mc
                    options = [done[a] if isinstance(a, str) else [(a, 1.0)] for a in acts]
                    for combo in itertools.product(*options):
                        prob = p_item * p_mask
                        for _, p in combo:
                            prob *= p
                        out.append((Tree(nt, op, tuple(t for t, _ in combo)), prob))
            return out

        children = {nt: {c for p in alts for c in self.analysis.nonterminal_children(p)} for nt, alts in rules.items()}
        enumerable: dict[str, bool] = {}  # whether every descendant is small or has only 'zero'
        for nt in children_first(children):  # nonterminals that reach a cycle are never enumerated
            enumerable[nt] = all((small(c) or c not in self.table) and enumerable[c] for c in children[nt])
            if enumerable[nt] and small(nt):
                done[nt] = derivations(nt)
                self.table[nt] = (*_cumulative([p for _, p in done[nt]]), [t for t, _ in done[nt]])

    def _inline_choices(self) -> None:
        """Children that are enumerated nonterminals (all items constant trees, several of them) become
        :class:`_Choice` actions, drawn in place; a single constant tree becomes that tree."""
        choices: dict[str, _Choice | Tree] = {}
        for nt, (cum, total, items) in self.table.items():
            if all(item.__class__ is Tree for item in items):
                choices[nt] = items[0] if len(items) == 1 else _Choice(cum, total, items)
        for nt, (cum, total, items) in self.table.items():
            for k, item in enumerate(items):
                if item.__class__ is not Tree:
                    op, mcum, mtotal, actions = item
                    actions = [tuple(choices.get(a, a) if a.__class__ is str else a for a in acts) for acts in actions]
                    items[k] = (op, mcum, mtotal, actions)

    def can_be(self, nt: str, zero: bool) -> bool:
        return nt in self.zero_tree if zero else nt in self.table

    def derive(self, nt: str, zero: bool, uniform: Callable[[], float], shared: dict[str, Tree]) -> Tree:
        """A derivation of ``nt`` (``zero``: the zero primitive). Shared blocks come from ``shared``;
        a block not in it is drawn and added. Draws in preorder, one explicit stack frame per topology."""
        if zero:
            return self.zero_tree[nt]
        table = self.table
        stack: list[tuple[str, str, tuple, list[Tree], str | None]] = []  # symbol, op, actions, children, block
        symbol: str = nt
        block: str | None = None  # the shared block being drawn, stored in ``shared`` when done
        budget = MAX_SAMPLE_NODES
        while True:
            cum, total, items = table[symbol]
            item = items[0] if len(items) == 1 else items[bisect(cum, uniform() * total)]
            if item.__class__ is Tree:
                tree = item
                if block is not None:
                    shared[block] = tree
            else:
                op, mcum, mtotal, actions = item
                acts = actions[0] if len(actions) == 1 else actions[bisect(mcum, uniform() * mtotal)]
                stack.append((symbol, op, acts, [], block))
                budget -= 1
                if not budget:
                    raise GrammarError(f"sampling {nt} passed {MAX_SAMPLE_NODES:,} topology nodes: lower the "
                                       "weights of its recursive productions")
                tree = None
            while True:  # hand finished trees up until a child must be drawn
                if tree is not None:
                    if not stack:
                        return tree
                    stack[-1][3].append(tree)
                symbol, op, acts, children, block = frame = stack[-1]
                i = len(children)
                while i < len(acts):
                    a = acts[i]
                    cls = a.__class__
                    if cls is Tree:
                        children.append(a)
                    elif cls is _Choice:
                        children.append(a.items[bisect(a.cum, uniform() * a.total)])
                    elif cls is str:
                        symbol, block = a, None
                        break
                    else:
                        drawn = shared.get(a.name)
                        if drawn is None:
                            symbol = block = a.name
                            break
                        children.append(drawn)
                    i += 1
                else:
                    stack.pop()
                    tree = Tree(frame[0], op, tuple(children))
                    if frame[4] is not None:
                        shared[frame[4]] = tree
                    continue
                break

    def draw_class(self, nt: str, allow_zero: bool, allow_nonzero: bool, uniform: Callable[[], float]) -> bool:
        """Whether to derive ``zero`` for ``nt``, by weight among the allowed (and possible) classes."""
        zero_ok = allow_zero and nt in self.zero_tree
        nonzero_ok = allow_nonzero and nt in self.table
        if zero_ok and nonzero_ok:
            return uniform() < self.p_zero[nt]
        return zero_ok
