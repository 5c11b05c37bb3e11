"""Test helper: drive a searcher sequentially on a known function of the tree."""

from __future__ import annotations

from collections.abc import Callable

from hnas.grammar.tree import Tree
from hnas.searchers import Searcher


def drive(searcher: Searcher, objective: Callable[[Tree], float], budget: int) -> list[Tree]:
    """Ask/tell ``budget`` times sequentially; the asked trees in order."""
    asked = []
    for _ in range(budget):
        tree = searcher.ask()
        searcher.tell(tree, objective(tree))
        asked.append(tree)
    return asked
