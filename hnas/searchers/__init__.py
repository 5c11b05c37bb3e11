"""Ask/tell searchers: random search, regularized evolution and Bayesian optimisation (BANAT).

>>> searcher = make_searcher("bayesian_optimization", space, seed=0, n_init=10)
>>> tree = searcher.ask(); searcher.tell(tree, loss)

Bayesian optimisation imports torch (through the surrogate) only when it is built.
"""

from hnas.searchers.base import Searcher, SpaceExhaustedError
from hnas.searchers.factory import (
    POOL_STRATEGIES,
    SEARCHER_OPTIONS,
    SEARCHERS,
    SURROGATE_MODELS,
    make_searcher,
    register_searcher,
    searcher_names,
)

__all__ = [
    "Searcher",
    "SpaceExhaustedError",
    "make_searcher",
    "register_searcher",
    "searcher_names",
    "SEARCHERS",
    "SEARCHER_OPTIONS",
    "SURROGATE_MODELS",
    "POOL_STRATEGIES",
]
