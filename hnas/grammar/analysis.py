"""Static analysis of a grammar under the zero-disconnect constraint.

* feasibility: which nonterminals can derive ``zero`` / something else, which topology edge
  masks each production can realise (``zero`` may never disconnect a topology's input from
  its output);
* exact counting, with shared building blocks counted once per derivation: counts are
  polynomials keyed by the set of shared nonterminals a derivation uses, expanded at the end;
* recursion and hierarchy depth.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hnas.grammar import terminals
from hnas.grammar.cfg import Grammar, Production, Symbol
from hnas.grammar.errors import GrammarError

__all__ = ["Analysis", "DEPTH_CAP"]

DEPTH_CAP = 8
"""hierarchy_depth of a recursive grammar is capped here."""

MAX_ZERO_MASKS = 1 << 16
"""Most allowed zero patterns of one topology production (sampling keeps a table of them)."""

Poly = dict[frozenset, int]
_ONE: Poly = {frozenset(): 1}


def _add(into: Poly, other: Poly) -> None:
    for key, value in other.items():
        into[key] = into.get(key, 0) + value


def _mul(a: Poly, b: Poly) -> Poly:
    if not a or not b:
        return {}
    if len(b) == 1 and frozenset() in b:
        factor = b[frozenset()]
        return {k: v * factor for k, v in a.items()}
    out: Poly = {}
    for ka, va in a.items():
        for kb, vb in b.items():
            key = ka | kb
            out[key] = out.get(key, 0) + va * vb
    return out


class Analysis:
    """Facts about a :class:`Grammar` needed by sampling, counting and the edit operations."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self.shared = set(grammar.shared.values())
        errors: list[GrammarError] = []
        for nt in self.shared:
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
        self.recursive = self._recursive()
        self.shared_order = self._shared_order()

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
        topo = terminals.lookup_topology(prod.op)
        if topo is None:
            return []
        caps = [self.child_caps(c) for c in prod.children]
        if any(not z and not nz for z, nz in caps):
            return []
        fixed = sum(1 << i for i, (z, nz) in enumerate(caps) if z and not nz)
        free = [i for i, (z, nz) in enumerate(caps) if z and nz]
        masks: list[int] = []

        def extend(j: int, mask: int) -> None:
            if not topo.connects(mask):
                return
            if j == len(free):
                masks.append(mask)
                if len(masks) > MAX_ZERO_MASKS:
                    raise GrammarError(f"{prod.op} has more than {MAX_ZERO_MASKS} allowed patterns of 'zero' "
                                       "children; use fewer children that may be zero", file=prod.file, line=prod.line)
                return
            extend(j + 1, mask)
            extend(j + 1, mask | 1 << free[j])

        extend(0, fixed)
        return sorted(masks)

    def production_feasible(self, prod: Production) -> bool:
        """Whether the production derives anything (a topology needs one realisable allowed mask)."""
        return not prod.children or bool(self.masks[id(prod)])

    def _feasibility(self) -> None:
        changed = True
        while changed:
            changed = False
            for nt, alts in self.grammar.rules.items():
                for prod in alts:
                    if prod.op == terminals.ZERO:
                        if not self.can_zero[nt]:
                            self.can_zero[nt] = changed = True
                    elif not self.can_nonzero[nt] and (not prod.children or self._feasible_masks(prod)):
                        self.can_nonzero[nt] = changed = True

    def nonterminal_children(self, prod: Production) -> Iterable[str]:
        return (c.name for c in prod.children if not c.terminal)

    def feasible(self, nt: str) -> list[Production]:
        """Productions of ``nt`` that derive something."""
        return [p for p in self.grammar.rules[nt] if self.production_feasible(p)]

    # recursion ---------------------------------------------------------------------------------
    def _recursive(self) -> set[str]:
        """Nonterminals with infinitely many derivations (they reach a cycle)."""
        graph = {nt: {c for p in self.feasible(nt) for c in self.nonterminal_children(p)} for nt in self.grammar.rules}
        infinite: set[str] = set()
        state: dict[str, int] = {}  # 1 on stack, 2 done

        def visit(nt: str) -> bool:
            state[nt] = 1
            result = False
            for child in graph[nt]:
                mark = state.get(child)
                if mark == 1 or (mark == 2 and child in infinite) or (mark is None and visit(child)):
                    result = True
            state[nt] = 2
            if result:
                infinite.add(nt)
            return result

        for nt in self.grammar.rules:
            if nt not in state:
                visit(nt)
        return infinite

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
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(s: str) -> None:
            state[s] = 1
            for t in uses[s]:
                if state.get(t) == 1:
                    raise GrammarError(f"shared building blocks {s} and {t} use each other: no finite derivation")
                if t not in state:
                    visit(t)
            state[s] = 2
            order.append(s)

        for s in sorted(self.shared):
            if s not in state:
                visit(s)
        return order[::-1]

    # counting ----------------------------------------------------------------------------------
    def polys(self, constrained: bool) -> dict[str, tuple[Poly, Poly]]:
        """Per non-recursive nonterminal: (zero, non-zero) derivation counts keyed by the shared blocks used."""
        memo: dict[str, tuple[Poly, Poly]] = {}

        def child_poly(c: Symbol, zero: bool) -> Poly:
            if c.terminal:
                return _ONE if (c.name == terminals.ZERO) == zero else {}
            if c.name in self.shared:
                return {} if zero else {frozenset([c.name]): 1}
            return count(c.name)[0 if zero else 1]

        def count(nt: str) -> tuple[Poly, Poly]:
            if nt in memo:
                return memo[nt]
            z: Poly = {}
            nz: Poly = {}
            for prod in self.grammar.rules[nt]:
                if not prod.children:
                    _add(z if prod.op == terminals.ZERO else nz, _ONE)
                elif constrained:
                    for mask in self.masks[id(prod)]:
                        term = _ONE
                        for i, c in enumerate(prod.children):
                            term = _mul(term, child_poly(c, bool(mask >> i & 1)))
                        _add(nz, term)
                else:
                    term = _ONE
                    for c in prod.children:
                        both = dict(child_poly(c, True))
                        _add(both, child_poly(c, False))
                        term = _mul(term, both)
                    _add(nz, term)
            memo[nt] = (z, nz)
            return memo[nt]

        for nt in self.grammar.rules:
            if nt not in self.recursive:  # a non-recursive nonterminal never reaches a recursive one
                count(nt)
        return memo

    def count(self, constrained: bool = True) -> int:
        """Exact number of distinct architectures (shared blocks: one derivation each, counted once)."""
        if self.grammar.start in self.recursive:
            raise GrammarError(f"the space is infinite: {', '.join(sorted(self.recursive))} recursive")
        polys = self.polys(constrained)
        total: Poly = dict(polys[self.grammar.start][0])
        _add(total, polys[self.grammar.start][1])
        for s in self.shared_order:  # expand each shared block after every block that uses it
            expanded: Poly = {}
            for key, value in total.items():
                if s in key:
                    _add(expanded, _mul({key - {s}: value}, polys[s][1]))
                else:
                    _add(expanded, {key: value})
            total = expanded
        return sum(total.values())

    def local_counts(self) -> dict[str, int | float]:
        """Derivations of each nonterminal (zero and non-zero) with shared blocks held fixed; inf if recursive."""
        counts: dict[str, int | float] = {nt: math.inf for nt in self.recursive}
        counts.update((nt, sum(z.values()) + sum(nz.values())) for nt, (z, nz) in self.polys(True).items())
        return counts

    # depth -------------------------------------------------------------------------------------
    def hierarchy_depth(self, cap: int = DEPTH_CAP) -> int:
        """Largest number of topology nodes on a root-to-leaf path of any derivation (capped)."""
        depth = {nt: 0 for nt in self.grammar.rules}
        changed = True
        while changed:
            changed = False
            for nt in self.grammar.rules:
                best = 0
                for prod in self.feasible(nt):
                    if prod.children:
                        below = max((depth[c] for c in self.nonterminal_children(prod)), default=0)
                        best = max(best, min(cap, 1 + below))
                if best > depth[nt]:
                    depth[nt] = best
                    changed = True
        return depth[self.grammar.start]
