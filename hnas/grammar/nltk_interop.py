"""Conversions between hnas and nltk: grammars to and from ``nltk.CFG`` / ``nltk.PCFG``, trees to
and from ``nltk.Tree``.

nltk is imported only inside these functions (importing it takes seconds), never by sampling or
by ``import hnas.grammar``. A derivation tree ``(SYMBOL op child ...)`` is the nltk tree
``Tree(SYMBOL, [op, child, ...])``, with terminals written as children being plain strings, which
is exactly the parse tree nltk gives for the grammar. nltk has no shared building blocks: a
space with them converts to the grammar in which every occurrence is derived on its own.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from hnas.grammar.cfg import Grammar, Production, Symbol, build_grammar, check_weight
from hnas.grammar.errors import GrammarError
from hnas.grammar.tree import Tree

if TYPE_CHECKING:
    import nltk

    from hnas.grammar.space import SearchSpace

__all__ = ["is_nltk_grammar", "grammar_from_nltk", "grammar_to_nltk", "tree_to_nltk", "tree_from_nltk"]

_TOKEN = re.compile(r"[^\s()\"'\[\]|;#]+")


def is_nltk_grammar(obj: object) -> bool:
    """Whether ``obj`` is an nltk grammar (checked without importing nltk)."""
    return type(obj).__module__.startswith("nltk.") and hasattr(obj, "productions") and hasattr(obj, "start")


def grammar_from_nltk(cfg: nltk.CFG) -> Grammar:
    """A checked :class:`Grammar` from an ``nltk.CFG`` (weight 1 each) or ``nltk.PCFG`` (its
    probabilities as weights). Errors name ``<nltk.PCFG>:N``, N the 1-based production index."""
    import nltk

    file = f"<nltk.{type(cfg).__name__}>"
    productions: list[Production] = []
    errors: list[GrammarError] = []
    for line, prod in enumerate(cfg.productions(), start=1):
        try:
            productions.append(_production(nltk, prod, file, line))
        except GrammarError as error:
            errors.append(error)
    if not productions and not errors:
        errors.append(GrammarError("the grammar has no rules", file=file, line=1))
    if errors:
        raise GrammarError.combine(errors)
    return build_grammar([(None, str(cfg.start().symbol()), productions)], (file,))


def _production(nltk: Any, prod: nltk.Production, file: str, line: int) -> Production:
    lhs = str(prod.lhs().symbol())
    names = [lhs] + [str(item.symbol()) if isinstance(item, nltk.Nonterminal) else item for item in prod.rhs()]
    bad = next((name for name in names if not isinstance(name, str) or not _TOKEN.fullmatch(name)), None)
    if bad is not None:
        raise GrammarError(f"bad symbol {bad!r} in {prod}: symbols must be non-empty, without spaces, quotes "
                           "or brackets", file=file, line=line)
    rhs = prod.rhs()
    if not rhs or isinstance(rhs[0], nltk.Nonterminal):
        raise GrammarError(f"a right-hand side must start with an operator terminal: {prod}", file=file, line=line)
    children = tuple(Symbol(str(item.symbol()), False) if isinstance(item, nltk.Nonterminal) else Symbol(item, True)
                     for item in rhs[1:])
    weighted = isinstance(prod, nltk.ProbabilisticProduction)
    weight = check_weight(prod.prob(), file, line) if weighted else 1.0
    return Production(lhs, rhs[0], children, weight, file, line, weighted)


def grammar_to_nltk(grammar: Grammar) -> nltk.PCFG:
    """``grammar`` as an ``nltk.PCFG``, each nonterminal's weights normalised to probabilities;
    shared blocks become ordinary nonterminals (nltk cannot say "one derivation reused")."""
    import nltk

    productions = []
    for nt, alts in grammar.rules.items():
        total = sum(p.weight for p in alts)
        for p in alts:
            rhs = (p.op, *(c.name if c.terminal else nltk.Nonterminal(c.name) for c in p.children))
            productions.append(nltk.ProbabilisticProduction(nltk.Nonterminal(nt), rhs, prob=p.weight / total))
    return nltk.PCFG(nltk.Nonterminal(grammar.start), productions)


def tree_to_nltk(tree: Tree) -> nltk.Tree:
    """``tree`` as an ``nltk.Tree`` (label the nonterminal, children the operator then the children;
    terminals written as children are strings). Iterative: any depth."""
    import nltk

    if tree.symbol is None:
        raise GrammarError(f"a terminal leaf ({tree.op}) is no derivation tree")
    root = nltk.Tree(tree.symbol, [tree.op])
    stack = [(tree, root)]
    while stack:
        node, out = stack.pop()
        for child in node.children:
            if child.symbol is None:
                out.append(child.op)
            else:
                converted = nltk.Tree(child.symbol, [child.op])
                out.append(converted)
                stack.append((child, converted))
    return root


def tree_from_nltk(space: SearchSpace, tree: nltk.Tree) -> Tree:
    """The derivation of ``space`` that the ``nltk.Tree`` denotes (as :func:`tree_to_nltk` writes it),
    checked against the space's grammar and constraint; :class:`GrammarError` if it is none."""
    import nltk

    def node(item: object) -> tuple[str, str, list]:
        if not isinstance(item, nltk.Tree) or not isinstance(item.label(), str) or not item \
                or not isinstance(item[0], str):
            raise GrammarError(f"not a derivation tree of {space.name}: expected Tree(NONTERMINAL, [op, "
                               f"children...]), got {str(item)[:80]!r}")
        return item.label(), item[0], list(item[1:])

    def build(top: object) -> Tree:
        symbol, op, children = node(top)
        stack = [(symbol, op, children, [])]
        while True:
            symbol, op, children, done = stack[-1]
            if len(done) == len(children):
                stack.pop()
                built = Tree(symbol, op, tuple(done))
                if not stack:
                    return built
                stack[-1][3].append(built)
                continue
            child = children[len(done)]
            if isinstance(child, str):
                done.append(Tree(None, child))
            else:
                stack.append((*node(child), []))

    converted = build(tree)
    try:
        return space.parse(str(converted))
    except GrammarError as error:
        raise GrammarError(f"the nltk tree is no derivation of {space.name}: {error.message}") from None
