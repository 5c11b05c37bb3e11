"""Reading grammar files (NLTK CFG notation) into a :class:`Grammar`, with file:line errors.

Notation: ``LHS -> "op" CHILD ... | "op2" ...``; quoted items are terminals, bare ones
nonterminals; ``#`` starts a comment; ``;`` separates rules on one line; a line starting with
``|`` continues the previous rule. The first rule's left-hand side is the start symbol. Every
right-hand side is one operator terminal (a topology or a primitive) followed by as many children
as the operator's arity, and optionally a weight in nltk's PCFG notation, ``"id" [0.2]``.
Weights are relative (normalised per nonterminal), must be finite and > 0, and either every
alternative of a nonterminal has one or none does (weight 1 each). A production listed twice
becomes one choice with the sum of the weights (a warning says so).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from hnas.grammar import terminals
from hnas.grammar.errors import GrammarError
from hnas.grammar.terminals import MAX_ARITY, Topology

__all__ = ["Symbol", "Production", "Grammar", "parse_grammar_text", "load_grammar", "build_grammar", "check_weight"]


class Symbol(NamedTuple):
    """A right-hand-side child: a nonterminal, or a terminal written directly (a leaf)."""

    name: str
    terminal: bool


@dataclass
class Production:
    """``lhs -> "op" children...`` with its sampling weight and where it was written.

    ``weighted``: the weight was written (``[w]``); unweighted productions have weight 1."""

    lhs: str
    op: str
    children: tuple[Symbol, ...]
    weight: float
    file: str
    line: int
    weighted: bool = False

    @property
    def key(self) -> tuple[str, str, tuple[Symbol, ...]]:
        return (self.lhs, self.op, self.children)

    def __str__(self) -> str:
        items = [f'"{self.op}"'] + [f'"{c.name}"' if c.terminal else c.name for c in self.children]
        return f"{self.lhs} -> {' '.join(items)}"


@dataclass
class Grammar:
    """A checked grammar: the start symbol, the rules of every nonterminal, shared building blocks.

    ``shared`` maps each shared terminal (e.g. ``SharedCell``) to the start nonterminal of its
    sub-grammar; inside ``rules`` the terminal has already been replaced by that nonterminal.
    """

    start: str
    rules: dict[str, list[Production]]
    shared: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    topologies: dict[str, Topology] = field(default_factory=dict)
    """The topology of every operator used, as registered when the grammar was loaded."""

    @property
    def shared_nonterminals(self) -> dict[str, str]:
        """Shared nonterminal -> the terminal name that stands for it."""
        return {nt: t for t, nt in self.shared.items()}

    @property
    def n_productions(self) -> int:
        return sum(len(prods) for prods in self.rules.values())


_LINEAR_WIDTH = re.compile(r"Linear([0-9]+)")

_TOKEN = re.compile(
    r'\s*(?:(->)|(\|)|(;)|"([^"]*)"|\'([^\']*)\'|([A-Za-z_][A-Za-z0-9_.]*)|\[([^\]]*)\]|(\S))'
)


def _tokenize(text: str, file: str, lineno: int, errors: list[GrammarError]) -> list[tuple[str, str, int]]:
    """(kind, value, column) tokens of one comment-free line; kinds: arrow bar semi term name weight."""
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing whitespace left
            break
        col = m.start(m.lastindex) + 1
        if m.group(1):
            tokens.append(("arrow", "->", col))
        elif m.group(2):
            tokens.append(("bar", "|", col))
        elif m.group(3):
            tokens.append(("semi", ";", col))
        elif m.group(4) is not None or m.group(5) is not None:
            value = m.group(4) if m.group(4) is not None else m.group(5)
            if not value or any(ch.isspace() or ch in "()" for ch in value):
                errors.append(GrammarError(f"bad terminal {value!r}: must be non-empty, without spaces or parentheses",
                                           file=file, line=lineno, column=col))
            tokens.append(("term", value, col))
        elif m.group(6):
            tokens.append(("name", m.group(6), col))
        elif m.group(7) is not None:
            tokens.append(("weight", m.group(7), col - 1))  # the column of '['

        else:
            ch = m.group(8)
            what = ("unterminated quote" if ch in "\"'" else "unclosed '[' of a weight" if ch == "["
                    else f"unexpected character {ch!r}")
            errors.append(GrammarError(what, file=file, line=lineno, column=col))
            return []
        pos = m.end()
    return tokens


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def parse_grammar_text(text: str, file: str) -> tuple[str | None, list[Production], list[GrammarError]]:
    """Productions of one file, in order (duplicates kept), its first left-hand side, and syntax errors."""
    productions: list[Production] = []
    errors: list[GrammarError] = []
    start: str | None = None
    lhs: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        tokens = _tokenize(_strip_comment(raw), file, lineno, errors)
        if not tokens:
            continue
        if tokens[0][0] == "bar":
            if lhs is None:
                errors.append(GrammarError("'|' continues no rule", file=file, line=lineno, column=tokens[0][2]))
                continue
            tokens = [("name", lhs, tokens[0][2]), ("arrow", "->", tokens[0][2])] + tokens[1:]
        for rule in _split(tokens, "semi"):
            lhs = _parse_rule(rule, file, lineno, productions, errors) or lhs
            if start is None and lhs is not None:
                start = lhs
    return start, productions, errors


def _split(tokens: list[tuple[str, str, int]], kind: str) -> list[list[tuple[str, str, int]]]:
    parts: list[list[tuple[str, str, int]]] = [[]]
    for tok in tokens:
        if tok[0] == kind:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def _parse_rule(rule: list[tuple[str, str, int]], file: str, lineno: int, productions: list[Production],
                errors: list[GrammarError]) -> str | None:
    """Append the productions of one ``LHS -> alternatives`` rule; returns its left-hand side."""
    if not rule:  # nothing between two ';' (or after the last one)
        return None
    if len(rule) < 2 or rule[0][0] != "name" or rule[1][0] != "arrow":
        col = rule[0][2]
        errors.append(GrammarError("expected a rule 'NONTERMINAL -> \"op\" ...'", file=file, line=lineno, column=col))
        return None
    lhs = rule[0][1]
    for alt in _split(rule[2:], "bar"):
        if not alt:
            errors.append(GrammarError(f"empty alternative in the rule for {lhs}", file=file, line=lineno,
                                       column=rule[1][2]))
            continue
        bad = next((tok for tok in alt if tok[0] == "arrow"), None)
        if bad is not None:
            errors.append(GrammarError("unexpected '->' (one rule per line, or separate rules with ';')",
                                       file=file, line=lineno, column=bad[2]))
            continue
        kind, op, col = alt[0]
        if kind != "term":
            errors.append(GrammarError(
                f"a right-hand side must start with a quoted operator terminal, got {op}", file=file,
                line=lineno, column=col))
            continue
        weight = None
        if alt[-1][0] == "weight" and len(alt) > 1:
            weight = _weight(alt[-1], file, lineno, errors)
            alt = alt[:-1]
        bad = next((tok for tok in alt if tok[0] == "weight"), None)
        if bad is not None:
            errors.append(GrammarError(f"a weight [{bad[1]}] must end its alternative", file=file, line=lineno,
                                       column=bad[2]))
            continue
        children = tuple(Symbol(value, k == "term") for k, value, _ in alt[1:])
        productions.append(Production(lhs, op, children, 1.0 if weight is None else weight, file, lineno,
                                      weight is not None))
    return lhs


def check_weight(value: str | float, file: str, line: int, column: int | None = None) -> float:
    """``value`` as a weight: a finite number > 0, else a :class:`GrammarError` at file:line."""
    try:
        weight = float(value)
    except (TypeError, ValueError):
        weight = math.nan
    if not math.isfinite(weight) or weight <= 0:
        raise GrammarError(f"bad weight [{value}]: must be a finite number > 0", file=file, line=line, column=column)
    return weight


def _weight(token: tuple[str, str, int], file: str, lineno: int, errors: list[GrammarError]) -> float:
    """The value of a ``[w]`` token (1.0 after reporting a bad one)."""
    try:
        return check_weight(token[1], file, lineno, token[2])
    except GrammarError as error:
        errors.append(error)
        return 1.0


def _merge(productions: list[Production], errors: list[GrammarError]) -> dict[str, list[Production]]:
    """Group by left-hand side; a repeated production adds its weight to the first one's, with a
    warning; a nonterminal with weighted and unweighted alternatives is an error."""
    rules: dict[str, list[Production]] = {}
    seen: dict[tuple, Production] = {}
    weighted: dict[str, Production] = {}  # lhs -> its first production (whose weightedness rules)
    for prod in productions:
        first_of_lhs = weighted.setdefault(prod.lhs, prod)
        if prod.weighted != first_of_lhs.weighted:
            which = "has a weight" if prod.weighted else "has none"
            errors.append(GrammarError(
                f"{prod.lhs} mixes weighted and unweighted alternatives: this one {which}, the first "
                f"({first_of_lhs.file}:{first_of_lhs.line}) {'none' if prod.weighted else 'has one'}; give every "
                f"alternative of {prod.lhs} a weight, or none", file=prod.file, line=prod.line))
            continue
        first = seen.get(prod.key)
        if first is not None:
            first.weight += prod.weight
            warnings.warn_explicit(
                f"{prod.file}:{prod.line}: duplicate production {prod} (first at {first.file}:{first.line}): "
                f"counted once in the size of the space, sampled with weight {first.weight:g}",
                UserWarning,
                prod.file,
                prod.line,
            )
            continue
        seen[prod.key] = Production(prod.lhs, prod.op, prod.children, prod.weight, prod.file, prod.line,
                                    prod.weighted)
        rules.setdefault(prod.lhs, []).append(seen[prod.key])
    return rules


def _read(path: str) -> str:
    """The text of a grammar file; an unreadable file is an error at the file, bad UTF-8 at its line."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise GrammarError(f"cannot read grammar file: {error.strerror}", file=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise GrammarError(f"not UTF-8 text: {error.reason} (byte {error.start + 1})", file=path, line=line) from None


def load_grammar(paths: Sequence[str], shared: Sequence[tuple[str, str]] = ()) -> Grammar:
    """Read and check a grammar: ``paths`` are concatenated (the first holds the start symbol);
    ``shared`` maps shared terminals to sub-grammar files. Raises :class:`GrammarError` listing
    every problem found, each with file and line."""
    if not paths:
        raise GrammarError("no grammar file given")
    errors: list[GrammarError] = []
    units: list[tuple[str | None, str, list[Production]]] = []  # (shared terminal, start, productions)
    for terminal, files in [(None, list(paths))] + [(t, [p]) for t, p in shared]:
        unit_prods: list[Production] = []
        unit_start = None
        for path in files:
            start, prods, errs = parse_grammar_text(_read(path), path)
            errors.extend(errs)
            unit_prods.extend(prods)
            unit_start = unit_start or start
        if unit_start is None:
            errors.append(GrammarError("the grammar has no rules (only blank lines and comments)", file=files[-1],
                                       line=1))
            continue
        units.append((terminal, unit_start, unit_prods))
    if errors:
        raise GrammarError.combine(errors)
    return build_grammar(units, tuple(paths) + tuple(p for _, p in shared))


def build_grammar(units: Sequence[tuple[str | None, str, list[Production]]], files: tuple[str, ...]) -> Grammar:
    """Merge and check parsed productions: ``units`` holds (shared terminal or None for the main
    grammar, start symbol, productions in order), the main grammar first."""
    errors: list[GrammarError] = []
    mapping = {t: start for t, start, _ in units if t is not None}
    rules: dict[str, list[Production]] = {}
    for _, _, prods in units:
        unit_rules = _merge(prods, errors)
        for lhs, alts in unit_rules.items():
            if lhs in rules:
                a, b = rules[lhs][0], alts[0]
                errors.append(GrammarError(
                    f"nonterminal {lhs} is defined in two grammars ({a.file}:{a.line}); sub-grammars need "
                    "their own nonterminal names", file=b.file, line=b.line))
                continue
            rules[lhs] = alts
    if errors:
        raise GrammarError.combine(errors)
    grammar = Grammar(units[0][1], rules, mapping, files)
    _check(grammar, errors)
    if errors:
        raise GrammarError.combine(errors)
    return grammar


def _check(grammar: Grammar, errors: list[GrammarError]) -> None:
    """Resolve children and report unknown names, arity mismatches and unreachable rules."""
    shared = grammar.shared
    for alts in grammar.rules.values():
        for prod in alts:
            here = {"file": prod.file, "line": prod.line}
            if prod.op in shared:
                errors.append(GrammarError(
                    f"shared terminal {prod.op} cannot be an operator; use it as a child, e.g. "
                    f'"Linear1" "{prod.op}"', **here))
                continue
            width = _LINEAR_WIDTH.fullmatch(prod.op)
            if width and int(width.group(1)) > MAX_ARITY:
                errors.append(GrammarError(f"{prod.op}: topologies have at most {MAX_ARITY} edges", **here))
                continue
            topology = grammar.topologies.get(prod.op) or terminals.lookup_topology(prod.op)
            if topology is not None:
                grammar.topologies[prod.op] = topology
            n = topology.arity if topology is not None else 0 if terminals.is_primitive(prod.op) else None
            if n is None:
                errors.append(GrammarError(f"unknown terminal {prod.op!r}: neither a registered topology nor a "
                                           "primitive nor a shared terminal", **here))
                continue
            if n != len(prod.children):
                kind = "primitive" if n == 0 else f"topology with {n} edges"
                errors.append(GrammarError(
                    f"{prod.op} is a {kind} but has {len(prod.children)} children in {prod}", **here))
            resolved = []
            for child in prod.children:
                if child.terminal and child.name in shared:
                    child = Symbol(shared[child.name], False)
                elif child.terminal and not terminals.is_primitive(child.name):
                    if _LINEAR_WIDTH.fullmatch(child.name) or terminals.arity(child.name) is not None:
                        errors.append(GrammarError(f"topology {child.name!r} used as a leaf; it needs children",
                                                   **here))
                    else:
                        errors.append(GrammarError(f"unknown terminal {child.name!r}: neither a primitive nor a "
                                                   "shared terminal", **here))
                elif not child.terminal and child.name not in grammar.rules:
                    errors.append(GrammarError(f"undefined nonterminal {child.name}", **here))
                resolved.append(child)
            prod.children = tuple(resolved)
    reached = {grammar.start}
    stack = [grammar.start]
    while stack:
        for prod in grammar.rules[stack.pop()]:
            for child in prod.children:
                if not child.terminal and child.name not in reached and child.name in grammar.rules:
                    reached.add(child.name)
                    stack.append(child.name)
    for lhs, alts in grammar.rules.items():
        if lhs not in reached:
            hint = f" (the start of the sub-grammar for {grammar.shared_nonterminals[lhs]}, which the grammar " \
                   "never uses)" if lhs in grammar.shared_nonterminals else ""
            errors.append(GrammarError(f"unreachable rule for {lhs}{hint}", file=alts[0].file, line=alts[0].line))
