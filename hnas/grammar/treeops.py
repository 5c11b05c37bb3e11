"""Path-based edits of immutable trees, keeping shared building blocks consistent (all iterative)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping

from hnas.grammar.tree import Tree

__all__ = ["Site", "sites", "tally", "nth_site", "replace_at", "get_at", "unify", "shared_blocks", "rebuild"]

Path = tuple[int, ...]

Tally = tuple[int, dict[str, int]]
"""The nodes with a nonterminal in a (sub)tree: their number, and their number per nonterminal in
the order each nonterminal first occurs in preorder."""

_NO_SITES: Tally = (0, {})


class Site:
    """A node of a tree and how it is reached. ``path`` (child indices from the root) is built on
    first use, so listing every site of a deep tree costs time linear in its size; ``parent`` is
    None at the root; ``owner`` is the path of the innermost shared block containing the node (the
    node itself if it is one), None in the main tree; ``index``: the node's position in its parent.
    A site found by :func:`nth_site` is given its path and has no ``up``."""

    __slots__ = ("node", "parent", "index", "_up", "_owner", "_path")

    def __init__(
        self, node: Tree, parent: Tree | None, up: Site | None, index: int, owner: Site | None, path: Path | None = None
    ) -> None:
        self.node, self.parent, self.index = node, parent, index
        self._up, self._owner = up, owner
        self._path = path

    @property
    def path(self) -> Path:
        if self._path is None:
            indices: list[int] = []
            site: Site | None = self
            while site is not None and site._path is None:
                indices.append(site.index)
                site = site._up
            prefix = site._path if site is not None else ()
            self._path = prefix + tuple(reversed(indices[:-1] if site is None else indices))
        return self._path

    @property
    def owner(self) -> Path | None:
        return None if self._owner is None else self._owner.path


def sites(tree: Tree, shared: Collection[str]) -> list[Site]:
    """Every node with a nonterminal, preorder; a shared block is visited at its first occurrence only."""
    out: list[Site] = []
    seen: set[str] = set()
    stack: list[tuple[Tree, Site | None, int, Site | None]] = [(tree, None, 0, None)]
    pop, push = stack.pop, stack.append
    while stack:
        node, up, index, owner = pop()
        symbol = node.symbol
        if symbol is None:
            continue
        site = Site(node, None if up is None else up.node, up, index, owner)
        if symbol in shared:
            if symbol in seen:
                continue
            seen.add(symbol)
            site._owner = site
        out.append(site)
        children = node.children
        for i in range(len(children) - 1, -1, -1):
            push((children[i], site, i, site._owner))
    return out


def tally(tree: Tree) -> Tally:
    """The :data:`Tally` of ``tree``'s sites as :func:`sites` lists them in a grammar without shared
    blocks (every node with a nonterminal). Memoised on each node, children first, so a tree that
    shares all but a few nodes with a tallied one (a mutant, a crossover child) costs only those."""
    memo = tree._tally
    if memo is not None:
        return memo
    setattr_ = object.__setattr__
    stack = [tree]
    while stack:
        node = stack[-1]
        untallied = [child for child in node.children if child._tally is None]
        if untallied:  # tally them first, then come back to this node
            stack.extend(untallied)
            continue
        stack.pop()
        symbol = node.symbol
        if node._tally is not None:  # a node met twice is tallied once
            continue
        if symbol is None:
            setattr_(node, "_tally", _NO_SITES)
            continue
        total = 1
        counts = None
        for child in node.children:
            n, sub = child._tally
            if not n:
                continue
            total += n
            if counts is None:  # the first child's tally, copied in one go after the node's own symbol
                counts = {symbol: 0, **sub}
                counts[symbol] += 1
                get = counts.get
            else:
                for s, k in sub.items():
                    counts[s] = get(s, 0) + k
        setattr_(node, "_tally", (total, {symbol: 1} if counts is None else counts))
    return tree._tally


def nth_site(tree: Tree, i: int, symbol: str | None = None, excluded: Collection[str] = ()) -> Site:
    """The site of ``tree`` (a tree without shared blocks) at position ``i`` of the preorder list of its
    nodes with nonterminal ``symbol`` (``None``: with any nonterminal not in ``excluded``): one descent
    along the children's tallies, without listing the sites."""

    def count(t: Tally) -> int:
        if symbol is not None:
            return t[1].get(symbol, 0)
        return t[0] - sum(t[1].get(s, 0) for s in excluded) if excluded else t[0]

    n = count(tally(tree))
    if not 0 <= i < n:
        raise IndexError(f"site {i} of {n}")
    node, parent, index = tree, None, 0
    path: list[int] = []
    while True:
        here = node.symbol
        if here == symbol if symbol is not None else here not in excluded:
            if not i:
                return Site(node, parent, None, index, None, tuple(path))
            i -= 1
        for j, child in enumerate(node.children):
            n, counts = child._tally
            k = counts.get(symbol, 0) if symbol is not None else count(child._tally) if excluded else n
            if i < k:
                node, parent, index = child, node, j
                path.append(j)
                break
            i -= k


def get_at(tree: Tree, path: Path) -> Tree:
    for i in path:
        tree = tree.children[i]
    return tree


def replace_at(tree: Tree, path: Path, sub: Tree) -> Tree:
    """``tree`` with the node at ``path`` replaced by ``sub``."""
    above = []
    for i in path:
        above.append(tree)
        tree = tree.children[i]
    for node, i in zip(reversed(above), reversed(path)):
        children = node.children
        sub = Tree(node.symbol, node.op, children[:i] + (sub,) + children[i + 1 :])
    return sub


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


Enter = Callable[[Tree], tuple[Tree, Hashable, bool]]


def rebuild(tree: Tree, enter: Enter, leave: Callable[[Hashable, Tree], Tree]) -> Tree:
    """``tree`` rebuilt bottom-up without recursion. ``enter(node)`` gives (the node to rebuild in its
    place, a tag, whether that node is final as it is); a rebuilt node with a tag that is not None is
    passed through ``leave(tag, rebuilt)``. A node whose children all come back unchanged is kept."""
    stack: list[tuple[Tree, list[Tree], Hashable]] = []
    result: Tree | None = None
    node = tree
    while True:
        node, tag, final = enter(node)
        if final or not node.children:
            result = node if final or tag is None else leave(tag, node)
        else:
            stack.append((node, [], tag))
            result = None
        while stack:
            top, new, tag = stack[-1]
            if result is not None:
                new.append(result)
            if len(new) < len(top.children):
                node = top.children[len(new)]
                break
            stack.pop()
            children = top.children
            result = top if all(a is b for a, b in zip(new, children)) else Tree(top.symbol, top.op, tuple(new))
            if tag is not None:
                result = leave(tag, result)
        else:
            return result


def unify(tree: Tree, preferred: Mapping[str, Tree], shared: Collection[str]) -> Tree:
    """Make every occurrence of a shared block equal: ``preferred[S]`` where given, else the first
    occurrence (nested blocks inside a preferred derivation are unified too)."""
    done: dict[str, Tree] = {}

    def enter(node: Tree) -> tuple[Tree, Hashable, bool]:
        symbol = node.symbol
        if symbol not in shared:
            return node, None, False
        if symbol in done:
            return done[symbol], None, True
        return preferred.get(symbol, node), symbol, False

    def leave(symbol: Hashable, block: Tree) -> Tree:
        done[symbol] = block
        return block

    return rebuild(tree, enter, leave)
