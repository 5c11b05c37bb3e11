"""Ask/tell searchers: random search, regularized evolution and Bayesian optimisation (BANAT),
and the public contract and registries for your own (see docs/searchers.md).

>>> searcher = make_searcher("bayesian_optimization", space, seed=0, n_init=10, acquisition="ucb")
>>> tree = searcher.ask(); searcher.tell(tree, loss)

Bayesian optimisation imports torch (through the surrogate) only when it is built.
"""

from hnas.searchers.acquisition import (
    Acquisition,
    ExpectedImprovement,
    ProbabilityOfImprovement,
    UpperConfidenceBound,
)
from hnas.searchers.base import Searcher, SearcherError, SpaceExhaustedError
from hnas.searchers.factory import accepted_options, build_searcher_options, make_searcher, options_record
from hnas.searchers.options import OptionsError, parse_option_value
from hnas.searchers.pools import (
    AcquisitionProblem,
    EliteEvolutionPool,
    EvolutionPool,
    MutationPool,
    PoolStrategy,
    RandomPool,
    SampledEliteEvolutionPool,
)
from hnas.searchers.registry import (
    acquisition_names,
    canonical_key_for,
    canonical_key_names,
    get_acquisition_class,
    get_pool_strategy_class,
    get_searcher_class,
    pool_strategy_names,
    register_acquisition,
    register_canonical_key,
    register_pool_strategy,
    register_searcher,
    searcher_names,
)

__all__ = [
    "Searcher",
    "SearcherError",
    "SpaceExhaustedError",
    "OptionsError",
    "Acquisition",
    "ExpectedImprovement",
    "ProbabilityOfImprovement",
    "UpperConfidenceBound",
    "AcquisitionProblem",
    "PoolStrategy",
    "EvolutionPool",
    "EliteEvolutionPool",
    "SampledEliteEvolutionPool",
    "RandomPool",
    "MutationPool",
    "make_searcher",
    "build_searcher_options",
    "accepted_options",
    "options_record",
    "parse_option_value",
    "register_searcher",
    "register_acquisition",
    "register_pool_strategy",
    "register_canonical_key",
    "get_searcher_class",
    "get_acquisition_class",
    "get_pool_strategy_class",
    "searcher_names",
    "acquisition_names",
    "pool_strategy_names",
    "canonical_key_names",
    "canonical_key_for",
]
