"""SearchSpace: sampling, counting, parsing, printing, mutation and crossover for one grammar."""

from __future__ import annotations

import math
from bisect import bisect
from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from hnas.grammar import terminals
from hnas.grammar.analysis import Analysis
from hnas.grammar.brackets import BracketCodec
from hnas.grammar.cfg import Grammar
from hnas.grammar.derivation import Deriver, uniform_stream
from hnas.grammar.errors import GrammarError
from hnas.grammar.tree import Tree
from hnas.grammar.treeops import Site, get_at, nth_site, replace_at, shared_blocks, sites, tally, unify

if TYPE_CHECKING:
    import nltk

__all__ = ["SearchSpace"]

T = TypeVar("T")

_PAIR_TRIES = 32
"""Random subtree pairs tried before crossover enumerates all compatible pairs."""

_SITES_CACHE_SIZE = 512
"""Trees whose listed sites (:class:`_Listed`) a space keeps, least recently used out: an
evolutionary pool breeds the same parents many times (a pool of 200 fits)."""

_TALLY_MAX_NONTERMINALS = 64
"""Grammars without shared blocks and with at most this many nonterminals tally their trees' sites
(:class:`_Tallied`); a node's tally has an entry per nonterminal below it, so a grammar with more
(e.g. a chain of thousands of nonterminals, whose trees would need quadratic memory) lists them."""


class _Listed:
    """The sites of a tree, listed (each shared block at its first occurrence): the mutation
    candidates (sites with an alternative derivation, preorder) and the sites by nonterminal."""

    __slots__ = ("mutable", "groups", "counts")

    def __init__(self, tree: Tree, shared: frozenset[str], immutable: frozenset[str]) -> None:
        self.mutable: list[Site] = []
        self.groups: dict[str, list[Site]] = {}
        for site in sites(tree, shared):
            symbol = site.node.symbol
            if symbol not in immutable:
                self.mutable.append(site)
            group = self.groups.get(symbol)
            if group is None:
                self.groups[symbol] = [site]
            else:
                group.append(site)
        self.counts = {symbol: len(group) for symbol, group in self.groups.items()}

    @property
    def n_mutable(self) -> int:
        return len(self.mutable)

    def mutable_site(self, k: int) -> Site:
        return self.mutable[k]

    def site(self, symbol: str, i: int) -> Site:
        return self.groups[symbol][i]

    def group(self, symbol: str) -> list[Site]:
        return self.groups[symbol]


class _Tallied:
    """The same for a tree of a grammar without shared blocks (and not too many nonterminals), found
    in the tallies memoised on its nodes (:func:`~hnas.grammar.treeops.tally`) instead of listed: a
    child shares all but a few nodes with its parent, so indexing it costs those few nodes, and a
    site costs one descent."""

    __slots__ = ("tree", "counts", "n_mutable", "immutable")

    def __init__(self, tree: Tree, immutable: frozenset[str]) -> None:
        total, self.counts = tally(tree)
        self.tree, self.immutable = tree, immutable
        self.n_mutable = total - sum(self.counts.get(symbol, 0) for symbol in immutable)

    def mutable_site(self, k: int) -> Site:
        return nth_site(self.tree, k, None, self.immutable)

    def site(self, symbol: str, i: int) -> Site:
        return nth_site(self.tree, i, symbol)

    def group(self, symbol: str) -> list[Site]:
        return [site for site in sites(self.tree, ()) if site.node.symbol == symbol]


_Index = _Listed | _Tallied


class SearchSpace:
    """The architectures a grammar derives, under the zero-disconnect constraint.

    All randomness comes from the ``rng`` argument (a seeded ``numpy.random.Generator``). The space
    keeps the topologies and weights it was loaded with, whatever is registered later.
    """

    def __init__(self, grammar: Grammar, name: str, spec: tuple[str, ...] = ()) -> None:
        self.name = name
        self.grammar = grammar
        self.spec = spec
        """The ``load_space`` items that rebuild this space from any folder (a registered name, or
        absolute grammar paths and ``TERMINAL=path`` items); empty for a space built from a grammar."""
        self._analysis = Analysis(grammar)
        self._deriver = Deriver(self._analysis)
        self._shared = frozenset(self._analysis.shared)
        self._local = self._analysis.local_counts()
        self._count_cache: dict[bool, int] = {}
        self._immutable = frozenset(symbol for symbol, n in self._local.items() if n < 2)
        self._tallied = not self._shared and len(grammar.rules) <= _TALLY_MAX_NONTERMINALS
        self._sites_cache: OrderedDict[Tree, _Listed] = OrderedDict()
        main_template = None
        if self._shared and self._local[grammar.start] == 1:
            placeholders = {nt: Tree(nt, t) for t, nt in grammar.shared.items()}
            main_template = self._deriver.derive(grammar.start, False, lambda: 0.0, placeholders)
        self._codec = BracketCodec(self._analysis, main_template)
        self.hierarchy_depth: int = self._analysis.hierarchy_depth()
        """Largest number of topology nodes on a root-to-leaf path of any derivation (capped at 8)."""

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r})"

    def __reduce__(self) -> tuple[type[SearchSpace], tuple[Grammar, str, tuple[str, ...]]]:
        """Pickles as its grammar; the compiled tables are rebuilt on loading."""
        return (SearchSpace, (self.grammar, self.name, self.spec))

    # sampling and counting ---------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Tree:
        """One architecture, drawn by production weight; ``zero`` never disconnects a topology."""
        uniform = uniform_stream(rng)
        start = self.grammar.start
        zero = self._deriver.draw_class(start, True, True, uniform)
        return self._deriver.derive(start, zero, uniform, {})

    def derive(self, symbol: str, rng: np.random.Generator) -> Tree:
        """One non-zero derivation of the nonterminal ``symbol`` by production weight (e.g. a new
        statement to insert into a program); shared blocks inside it are drawn afresh."""
        if not self._deriver.can_be(symbol, False):
            raise GrammarError(f"{symbol} is not a nonterminal of {self.name} with a non-zero derivation")
        return self._deriver.derive(symbol, False, uniform_stream(rng), {})

    def count(self, constrained: bool = True) -> int:
        """Exact number of architectures (``constrained=False``: ignoring the zero constraint).

        :class:`GrammarError` for an infinite space and for one with more than
        ``hnas.grammar.analysis.MAX_COUNT_DIGITS`` digits (its message gives the log10)."""
        if constrained not in self._count_cache:
            self._count_cache[constrained] = self._analysis.count(constrained)
        return self._count_cache[constrained]

    def log10_count(self, constrained: bool = True) -> float:
        """log10 of the number of architectures; works for spaces too large to count exactly."""
        if constrained not in self._count_cache:
            try:
                self.count(constrained)
            except GrammarError:
                return self._analysis.log10_count(constrained)  # too large to count exactly (or infinite: raises)
        return math.log10(self._count_cache[constrained])

    @property
    def topologies(self) -> Mapping[str, terminals.Topology]:
        """The topology of every operator of the grammar, as registered when the space was loaded."""
        return MappingProxyType(self.grammar.topologies)

    def to_nltk(self) -> nltk.PCFG:
        """This grammar as an ``nltk.PCFG`` (weights normalised per nonterminal); see
        :func:`hnas.grammar.nltk_interop.grammar_to_nltk`."""
        from hnas.grammar.nltk_interop import grammar_to_nltk

        return grammar_to_nltk(self.grammar)

    @property
    def is_finite(self) -> bool:
        return self.grammar.start not in self._analysis.recursive

    # strings -----------------------------------------------------------------------------------
    def parse(self, text: str) -> Tree:
        """The tree a bracket string denotes; :class:`GrammarError` at the first bad symbol."""
        return self._codec.parse(text)

    def to_string(self, tree: Tree) -> str:
        """Canonical bracket form; ``parse(to_string(t)) == t``."""
        return self._codec.format(tree)

    def __contains__(self, tree: object) -> bool:
        """Whether ``tree`` is a valid derivation of this space (grammar, constraint, shared blocks)."""
        try:
            self.validate(tree)
        except GrammarError:
            return False
        return True

    def validate(self, tree: object) -> None:
        """Nothing if ``tree`` is a valid derivation of this space, else a :class:`GrammarError`
        saying why (positions count in ``str(tree)``)."""
        if not isinstance(tree, Tree):
            raise GrammarError(f"expected a hnas.grammar.Tree, got {type(tree).__name__}")
        if self.parse(str(tree)) != tree:
            raise GrammarError("the tree differs from the derivation its bracket string denotes")

    # edits -------------------------------------------------------------------------------------
    def mutate(self, tree: Tree, rng: np.random.Generator) -> Tree:
        """Re-derive one random subtree from its nonterminal; the result always differs from ``tree``."""
        _require_tree(tree)
        uniform = uniform_stream(rng)
        index = self._index(tree)
        n = index.n_mutable  # candidates left: positions 0..n-1 of the mutable sites, as ``moved`` permutes them
        moved: dict[int, int] = {}
        blocks = shared_blocks(tree, self._shared) if self._shared else {}
        deriver = self._deriver
        while n:
            k = int(uniform() * n)
            site = index.mutable_site(moved.get(k, k))
            symbol = site.node.symbol
            zero_ok = deriver.can_be(symbol, True) and self._zero_ok(site)
            z, nz = self._class_counts(symbol)
            if (nz if not zero_ok else nz + z) < 2:  # no alternative here: the last candidate takes its place
                n -= 1
                moved[k] = moved.get(n, n)
                continue
            zero = deriver.draw_class(symbol, zero_ok, True, uniform)
            new = deriver.derive(symbol, zero, uniform, blocks)
            if new != site.node:
                return self._edited(tree, [(site, new)])
        raise GrammarError(f"cannot mutate {tree}: no subtree has an alternative derivation")

    def crossover(self, a: Tree, b: Tree, rng: np.random.Generator) -> tuple[Tree, Tree] | None:
        """Swap two subtrees with the same nonterminal between ``a`` and ``b``; both children differ from
        their parents and are not just the parents exchanged (None: no such pair)."""
        _require_tree(a)
        _require_tree(b)
        apart = None if self._shared else _divergence(a, b)

        def attempt(x: Site, y: Site) -> tuple[Tree, Tree] | None:
            if x.node == y.node or (x.parent is None and y.parent is None):
                return None
            if apart is not None and x.path == y.path == apart[: len(x.path)]:
                return None  # a and b agree outside x and y: the swap would just exchange the parents
            if not (self._swappable(x, y.node) and self._swappable(y, x.node)):
                return None
            children = self._edited(a, [(x, y.node)]), self._edited(b, [(y, x.node)])
            if children[0] == a or children[1] == b or children == (b, a):
                return None  # a swap undone by the shared blocks, or one that just exchanges the parents
            return children

        return _pick_pair(self._index(a), self._index(b), attempt, uniform_stream(rng), disjoint=False)

    def self_crossover(self, tree: Tree, rng: np.random.Generator) -> Tree | None:
        """Swap two different, non-overlapping subtrees with the same nonterminal inside ``tree``
        (None: no such pair)."""
        _require_tree(tree)

        def attempt(x: Site, y: Site) -> Tree | None:
            n = min(len(x.path), len(y.path))
            if x.path[:n] == y.path[:n] or x.node == y.node:
                return None
            if not (self._swappable(x, y.node) and self._swappable(y, x.node)):
                return None
            child = self._edited(tree, [(x, y.node), (y, x.node)])
            return child if child != tree else None

        index = self._index(tree)
        return _pick_pair(index, index, attempt, uniform_stream(rng), disjoint=True)

    # helpers -----------------------------------------------------------------------------------
    def _class_counts(self, symbol: str) -> tuple[float, float]:
        """(zero, non-zero) derivations of ``symbol`` with shared blocks fixed."""
        z = 1 if self._deriver.can_be(symbol, True) else 0
        return z, self._local[symbol] - z

    def _index(self, tree: Tree) -> _Index:
        """The mutation candidates and the sites by nonterminal of ``tree``: tallied where the grammar
        allows (see ``_TALLY_MAX_NONTERMINALS``), else listed and memoised per tree (bounded, least
        recently used out)."""
        if self._tallied:
            return _Tallied(tree, self._immutable)
        cache = self._sites_cache
        entry = cache.get(tree)
        if entry is not None:
            cache.move_to_end(tree)
            return entry
        entry = cache[tree] = _Listed(tree, self._shared, self._immutable)
        if len(cache) > _SITES_CACHE_SIZE:
            cache.popitem(last=False)
        return entry

    def _zero_ok(self, site: Site) -> bool:
        """Whether the node at ``site`` may become ``zero`` without disconnecting its parent topology."""
        parent = site.parent
        if parent is None:
            return True
        topology = self.grammar.topologies[parent.op]
        mask = 1 << site.index
        for j, child in enumerate(parent.children):
            if child.op == terminals.ZERO:
                mask |= 1 << j
        return topology.connects(mask)

    def _swappable(self, site: Site, incoming: Tree) -> bool:
        return incoming.op != terminals.ZERO or self._zero_ok(site)

    def _edited(self, tree: Tree, edits: list[tuple[Site, Tree]]) -> Tree:
        """``tree`` with each site replaced; an edit inside a shared block changes every copy, and a
        subtree brought in uses ``tree``'s derivations of the blocks it contains."""
        preferred = shared_blocks(tree, self._shared) if self._shared else {}
        for site, new in edits:
            tree = replace_at(tree, site.path, new)
        if not self._shared:
            return tree
        for site, _ in edits:
            if site.owner is not None:
                block = get_at(tree, site.owner)
                preferred[block.symbol] = block
        return unify(tree, preferred, self._shared)


def _divergence(a: Tree, b: Tree) -> tuple[int, ...] | None:
    """The path of the deepest node under which all differences between ``a`` and ``b`` lie (they are
    equal outside the subtrees at that path); None if they are equal."""
    if a == b:
        return None
    path: list[int] = []
    while a.symbol == b.symbol and a.op == b.op and len(a.children) == len(b.children):
        differing = [i for i, (x, y) in enumerate(zip(a.children, b.children)) if x != y]
        if len(differing) != 1:
            break
        path.append(differing[0])
        a, b = a.children[differing[0]], b.children[differing[0]]
    return tuple(path)


def _require_tree(tree: object) -> None:
    if not isinstance(tree, Tree):
        raise TypeError(f"expected a hnas.grammar.Tree, got {type(tree).__name__}")


def _pick_pair(
    index_a: _Index,
    index_b: _Index,
    attempt: Callable[[Site, Site], T | None],
    uniform: Callable[[], float],
    disjoint: bool,
) -> T | None:
    """The result of ``attempt`` on a pair of sites with the same nonterminal, uniform over the pairs
    where it succeeds (None if it succeeds nowhere): a few random draws first, then every pair.
    ``disjoint``: both indexes are of one tree, so each unordered pair is tried once."""
    counts_a, counts_b = index_a.counts, index_b.counts
    symbols = [s for s in counts_a if s in counts_b]
    if not symbols:
        return None
    cum: list[int] = []
    total = 0
    for s in symbols:
        total += counts_a[s] * counts_b[s]
        cum.append(total)
    for _ in range(_PAIR_TRIES):
        symbol = symbols[bisect(cum, uniform() * total)]
        x = index_a.site(symbol, int(uniform() * counts_a[symbol]))
        result = attempt(x, index_b.site(symbol, int(uniform() * counts_b[symbol])))
        if result is not None:
            return result
    results = []
    for s in symbols:
        group_b = index_b.group(s)
        for i, x in enumerate(index_a.group(s)):
            for y in group_b[i + 1 :] if disjoint else group_b:
                if (result := attempt(x, y)) is not None:
                    results.append(result)
    return results[int(uniform() * len(results))] if results else None
