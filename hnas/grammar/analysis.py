"""Static analysis of a grammar under the zero-disconnect constraint.

* feasibility: which nonterminals can derive ``zero`` / something else, which topology edge
  masks each production can realise (``zero`` may never disconnect a topology's input from
  its output);
* exact counting, with shared building blocks counted once per derivation: counts are
  polynomials keyed by the set of shared nonterminals a derivation uses, expanded at the end;
* recursion and hierarchy depth.

Every algorithm is iterative (work lists and one children-first order of the nonterminals), so
the depth of a grammar is limited by memory, not by Python's recursion limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import reduce
from typing import Any, NamedTuple

from hnas.grammar import terminals
from hnas.grammar.cfg import Grammar, Production, Symbol
from hnas.grammar.errors import GrammarError

__all__ = ["Analysis", "DEPTH_CAP", "MAX_COUNT_DIGITS", "children_first", "power_of_ten"]

DEPTH_CAP = 8
"""hierarchy_depth of a recursive grammar is capped here."""

MAX_ZERO_MASKS = 1 << 16
"""Most allowed zero patterns of one topology production (sampling keeps a table of them)."""

MAX_COUNT_DIGITS = 100_000
"""Exact counts stop here (a larger space is counted as a log10 only): Python 3.11 needs about
0.3 s to print an integer of this many digits, and its time grows with the square of the digits."""

_MAX_COUNT_BITS = math.ceil(MAX_COUNT_DIGITS / math.log10(2))

LOCAL_CAP = 1 << 62
"""Local counts (used to decide what mutation and enumeration can do) saturate here."""

Poly = dict[frozenset, Any]


def power_of_ten(log10: float) -> str:
    """``10^375.84``, or ``10^(3.791e+300)`` for an exponent too long to write out."""
    return f"10^{log10:.2f}" if log10 < 1e15 else f"10^({log10:.4g})"


class _TooLarge(Exception):
    """An exact count passed MAX_COUNT_DIGITS."""


class Numbers(NamedTuple):
    """How counts combine: exact integers (bounded), saturating integers, or log10 floats."""

    one: Any
    add: Callable[[Any, Any], Any]
    mul: Callable[[Any, Any], Any]


def _exact_mul(a: int, b: int) -> int:
    product = a * b
    if product.bit_length() > _MAX_COUNT_BITS:
        raise _TooLarge
    return product


def _log_add(a: float, b: float) -> float:
    high, low = (a, b) if a >= b else (b, a)
    return high + math.log10(1.0 + 10.0 ** (low - high))


EXACT = Numbers(1, int.__add__, _exact_mul)
CAPPED = Numbers(1, lambda a, b: min(a + b, LOCAL_CAP), lambda a, b: min(a * b, LOCAL_CAP))
LOG10 = Numbers(0.0, _log_add, float.__add__)


def _add(into: Poly, other: Poly, add: Callable[[Any, Any], Any]) -> None:
    for key, value in other.items():
        into[key] = add(into[key], value) if key in into else value


def _mul(a: Poly, b: Poly, numbers: Numbers) -> Poly:
    if not a or not b:
        return {}
    mul = numbers.mul
    if len(b) == 1 and frozenset() in b:
        factor = b[frozenset()]
        return a if factor == numbers.one else {k: mul(v, factor) for k, v in a.items()}
    out: Poly = {}
    add = numbers.add
    for ka, va in a.items():
        for kb, vb in b.items():
            key = ka | kb
            value = mul(va, vb)
            out[key] = add(out[key], value) if key in out else value
    return out


def children_first(children: dict[str, set[str]]) -> list[str]:
    """The nodes of a graph that reach no cycle, each after all of its ``children`` (a node that
    reaches a cycle is left out)."""
    parents: dict[str, list[str]] = {}
    for node, kids in children.items():
        for child in kids:
            parents.setdefault(child, []).append(node)
    pending = {node: len(kids) for node, kids in children.items()}
    order = [node for node, n in pending.items() if n == 0]
    for node in order:  # grows while it is read
        for parent in parents.get(node, ()):
            pending[parent] -= 1
            if pending[parent] == 0:
                order.append(parent)
    return order


class Analysis:
    """Facts about a :class:`Grammar` needed by sampling, counting and the edit operations."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self.shared = set(grammar.shared.values())
        errors: list[GrammarError] = []
        for nt in sorted(self.shared):
            for prod in grammar.rules[nt]:
                if prod.op == terminals.ZERO:
                    errors.append(GrammarError(
                        f"the shared building block {nt} must not derive 'zero'", file=prod.file, line=prod.line))
        self.can_zero: dict[str, bool] = {nt: False for nt in grammar.rules}
        self.can_nonzero: dict[str, bool] = {nt: False for nt in grammar.rules}
        self._feasibility()
        for nt, alts in grammar.rules.items():
            if not self.can_zero[nt] and not self.can_nonzero[nt]:
                errors.append(GrammarError(
                    f"{nt} cannot derive any finite architecture (every derivation recurses forever or "
                    "lets 'zero' disconnect a topology)", file=alts[0].file, line=alts[0].line))
        if errors:
            raise GrammarError.combine(errors)
        self.masks: dict[int, list[int]] = {
            id(p): self._feasible_masks(p) for alts in grammar.rules.values() for p in alts
        }
        self._feasible = {nt: [p for p in alts if self.production_feasible(p)] for nt, alts in grammar.rules.items()}
        self.order, self.recursive = self._finite_order()
        """``order``: the non-recursive nonterminals, each after every nonterminal it uses."""
        self.shared_order = self._shared_order()
        self._local_polys: dict[bool, dict[str, tuple[Poly, Poly]]] = {}

    # feasibility -------------------------------------------------------------------------------
    def child_caps(self, child: Symbol) -> tuple[bool, bool]:
        """(can be zero, can be non-zero) for a right-hand-side child."""
        if child.terminal:
            is_zero = child.name == terminals.ZERO
            return is_zero, not is_zero
        return self.can_zero[child.name], self.can_nonzero[child.name]

    def _feasible_masks(self, prod: Production) -> list[int]:
        """Allowed zero-masks (bit i: child i is zero) the children can realise; [] for primitives.

        Depth-first over the children that can be zero, pruning as soon as the output is cut (cutting
        more edges never reconnects it): the cost is proportional to the number of allowed masks."""
        topo = self.grammar.topologies.get(prod.op)
        if topo is None:
            return []
        caps = [self.child_caps(c) for c in prod.children]
        if any(not z and not nz for z, nz in caps):
            return []
        fixed = sum(1 << i for i, (z, nz) in enumerate(caps) if z and not nz)
        free = [i for i, (z, nz) in enumerate(caps) if z and nz]
        masks: list[int] = []
        stack = [(0, fixed)]  # (next free child, mask so far); the mask without it is explored first
        while stack:
            j, mask = stack.pop()
            if not topo.connects(mask):
                continue
            if j == len(free):
                masks.append(mask)
                if len(masks) > MAX_ZERO_MASKS:
                    raise GrammarError(f"{prod.op} has more than {MAX_ZERO_MASKS} allowed patterns of 'zero' "
                                       "children; use fewer children that may be zero", file=prod.file, line=prod.line)
                continue
            stack.append((j + 1, mask | 1 << free[j]))
            stack.append((j + 1, mask))
        return sorted(masks)

    def production_feasible(self, prod: Production) -> bool:
        """Whether the production derives anything (a topology needs one realisable allowed mask)."""
        return not prod.children or bool(self.masks[id(prod)])

    def _connectable(self, prod: Production) -> bool:
        """Whether a topology production has a realisable allowed mask under the current capabilities:
        the children that can only be ``zero`` must not cut it (cutting more never reconnects)."""
        fixed = 0
        for i, child in enumerate(prod.children):
            z, nz = self.child_caps(child)
            if not nz:
                if not z:
                    return False
                fixed |= 1 << i
        return self.grammar.topologies[prod.op].connects(fixed)

    def _feasibility(self) -> None:
        """can_zero / can_nonzero by a work list: a production is looked at again only when one of
        its children gains a capability (linear in the size of the grammar)."""
        users: dict[str, list[tuple[str, Production]]] = {}
        work: list[tuple[str, Production]] = []
        for nt, alts in self.grammar.rules.items():
            for prod in alts:
                work.append((nt, prod))
                for child in set(self.nonterminal_children(prod)):
                    users.setdefault(child, []).append((nt, prod))
        work.reverse()
        while work:
            nt, prod = work.pop()
            if prod.op == terminals.ZERO:
                if self.can_zero[nt]:
                    continue
                self.can_zero[nt] = True
            elif self.can_nonzero[nt] or (prod.children and not self._connectable(prod)):
                continue
            else:
                self.can_nonzero[nt] = True
            work.extend(users.get(nt, ()))

    def nonterminal_children(self, prod: Production) -> Iterable[str]:
        return (c.name for c in prod.children if not c.terminal)

    def feasible(self, nt: str) -> list[Production]:
        """Productions of ``nt`` that derive something."""
        return self._feasible[nt]

    # recursion ---------------------------------------------------------------------------------
    def _finite_order(self) -> tuple[list[str], set[str]]:
        """(non-recursive nonterminals, children first; the recursive ones, which reach a cycle)."""
        order = children_first({nt: {c for p in self.feasible(nt) for c in self.nonterminal_children(p)}
                                for nt in self.grammar.rules})
        return order, set(self.grammar.rules) - set(order)

    def _shared_order(self) -> list[str]:
        """Shared nonterminals, each before the shared ones its sub-grammar uses."""
        uses: dict[str, set[str]] = {}
        for s in self.shared:
            seen, stack, found = {s}, [s], set()
            while stack:
                for prod in self.grammar.rules[stack.pop()]:
                    for c in self.nonterminal_children(prod):
                        if c in self.shared:
                            found.add(c)
                        elif c not in seen:
                            seen.add(c)
                            stack.append(c)
            uses[s] = found
        order = children_first(uses)  # each block after the blocks it uses
        cyclic = sorted(set(self.shared) - set(order))
        if cyclic:
            first = self.grammar.rules[cyclic[0]][0]
            raise GrammarError(f"the shared building blocks {', '.join(cyclic)} use each other: no finite "
                               "derivation", file=first.file, line=first.line)
        return order[::-1]

    # counting ----------------------------------------------------------------------------------
    def polys(self, constrained: bool, numbers: Numbers = CAPPED) -> dict[str, tuple[Poly, Poly]]:
        """Per non-recursive nonterminal: (zero, non-zero) derivation counts keyed by the shared blocks
        used, in ``numbers`` (saturating integers unless told otherwise; those are computed once)."""
        if numbers is CAPPED:
            if constrained not in self._local_polys:
                self._local_polys[constrained] = self._polys(constrained, CAPPED)
            return self._local_polys[constrained]
        return self._polys(constrained, numbers)

    def _polys(self, constrained: bool, numbers: Numbers) -> dict[str, tuple[Poly, Poly]]:
        one: Poly = {frozenset(): numbers.one}
        add = numbers.add
        memo: dict[str, tuple[Poly, Poly]] = {}

        def child_poly(c: Symbol, zero: bool) -> Poly:
            if c.terminal:
                return one if (c.name == terminals.ZERO) == zero else {}
            if c.name in self.shared:
                return {} if zero else {frozenset([c.name]): numbers.one}
            return memo[c.name][0 if zero else 1]

        for nt in self.order:  # children first: every child's counts are known
            z: Poly = {}
            nz: Poly = {}
            for prod in self.grammar.rules[nt]:
                if not prod.children:
                    _add(z if prod.op == terminals.ZERO else nz, one, add)
                elif constrained:
                    for mask in self.masks[id(prod)]:
                        term = one
                        for i, c in enumerate(prod.children):
                            term = _mul(term, child_poly(c, bool(mask >> i & 1)), numbers)
                        _add(nz, term, add)
                else:
                    term = one
                    for c in prod.children:
                        both = dict(child_poly(c, True))
                        _add(both, child_poly(c, False), add)
                        term = _mul(term, both, numbers)
                    _add(nz, term, add)
            memo[nt] = (z, nz)
        return memo

    def _total(self, constrained: bool, numbers: Numbers) -> Any:
        if self.grammar.start in self.recursive:
            raise GrammarError(f"the space is infinite: {', '.join(sorted(self.recursive))} recursive")
        polys = self.polys(constrained, numbers)
        total: Poly = dict(polys[self.grammar.start][0])
        _add(total, polys[self.grammar.start][1], numbers.add)
        for s in self.shared_order:  # expand each shared block after every block that uses it
            expanded: Poly = {}
            for key, value in total.items():
                if s in key:
                    _add(expanded, _mul({key - {s}: value}, polys[s][1], numbers), numbers.add)
                else:
                    _add(expanded, {key: value}, numbers.add)
            total = expanded
        return reduce(numbers.add, total.values())

    def count(self, constrained: bool = True) -> int:
        """Exact number of distinct architectures (shared blocks: one derivation each, counted once).

        A space larger than 10^MAX_COUNT_DIGITS is a :class:`GrammarError` that gives its log10."""
        try:
            total = self._total(constrained, EXACT)
        except _TooLarge:
            total = None
        if total is None or total.bit_length() > _MAX_COUNT_BITS:
            raise GrammarError(f"the space has about {power_of_ten(self.log10_count(constrained))} architectures: too many "
                               f"to count exactly (exact counts stop at {MAX_COUNT_DIGITS:,} digits)")
        return total

    def log10_count(self, constrained: bool = True) -> float:
        """log10 of the number of architectures, computed in log space (no size limit)."""
        return float(self._total(constrained, LOG10))

    def local_counts(self) -> dict[str, int | float]:
        """Derivations of each nonterminal (zero and non-zero) with shared blocks held fixed, saturating
        at LOCAL_CAP; inf if recursive."""
        counts: dict[str, int | float] = {nt: math.inf for nt in self.recursive}
        counts.update((nt, min(LOCAL_CAP, sum(z.values()) + sum(nz.values())))
                      for nt, (z, nz) in self.polys(True).items())
        return counts

    # depth -------------------------------------------------------------------------------------
    def hierarchy_depth(self, cap: int = DEPTH_CAP) -> int:
        """Largest number of topology nodes on a root-to-leaf path of any derivation (capped)."""
        depth = dict.fromkeys(self.recursive, cap)  # a cycle passes through topologies only
        for nt in self.order:
            best = 0
            for prod in self.feasible(nt):
                if prod.children:
                    below = max((depth[c] for c in self.nonterminal_children(prod)), default=0)
                    best = max(best, min(cap, 1 + below))
            depth[nt] = best
        return depth[self.grammar.start]
