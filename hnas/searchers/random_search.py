"""Random search: independent samples of the grammar (by production weight), never a known tree."""

from __future__ import annotations

from hnas.grammar.tree import Tree
from hnas.searchers.base import Searcher

__all__ = ["RandomSearch"]


class RandomSearch(Searcher):
    """Each ask is a fresh sample of the search space that was neither evaluated nor is pending."""

    name = "random_search"

    def propose(self) -> Tree:
        return self.sample_new()
