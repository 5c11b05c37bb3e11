"""Grammar layer: grammar files, derivation trees and search-space operations (pure Python, no torch).

>>> import numpy as np
>>> from hnas.grammar import load_space
>>> space = load_space("nb201_fixed_1_none")
>>> space.count(), space.count(constrained=False)
(15284, 15625)
>>> tree = space.sample(np.random.default_rng(0))
>>> space.parse(space.to_string(tree)) == tree
True

API as in docs/DESIGN.md. Additions: ``SearchSpace.is_finite``, ``tree in space`` (validity check),
``register_space(name, items)``, ``space_names()``; ``count`` raises :class:`GrammarError` for a
recursive (infinite) grammar. Tree-string positions in errors are 1-based character offsets.
``register_topology(name, edges, replace=False)`` adds a topology; ``SearchSpace.to_nltk()``,
``tree_to_nltk`` and ``tree_from_nltk`` convert to and from nltk (imported only when called).
"""

from hnas.grammar.cfg import Grammar, Production, Symbol, load_grammar
from hnas.grammar.errors import GrammarError
from hnas.grammar.nltk_interop import tree_from_nltk, tree_to_nltk
from hnas.grammar.space import SearchSpace
from hnas.grammar.spaces import load_space, register_space, space_names
from hnas.grammar.terminals import register_topology
from hnas.grammar.tree import Tree

__all__ = [
    "Tree",
    "GrammarError",
    "SearchSpace",
    "load_space",
    "register_space",
    "space_names",
    "Grammar",
    "Production",
    "Symbol",
    "load_grammar",
    "register_topology",
    "tree_to_nltk",
    "tree_from_nltk",
]
