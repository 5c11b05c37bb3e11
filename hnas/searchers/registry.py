"""The registries of search components: searchers, acquisition functions, pool strategies and
canonical keys. Built-ins are registered through the same ``register_*`` functions as a user's
(lazily, on the first lookup); a plugin calls them at import.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hnas.errors import RegistryError
from hnas.registry import Registry

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace
    from hnas.grammar.tree import Tree
    from hnas.searchers.acquisition import Acquisition
    from hnas.searchers.base import Searcher
    from hnas.searchers.pools import PoolStrategy

__all__ = [
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
    "name_of",
    "CanonicalKey",
    "AUTO",
    "NONE",
]

AUTO = "auto"
"""``canonical_key`` choice: the latest registered key that applies to the space, else none."""
NONE = "none"
"""``canonical_key`` choice: no merging, each tree is its own key."""


def _builtin_searchers() -> None:
    from hnas.searchers.bayesian_optimization import BayesianOptimization
    from hnas.searchers.evolution import RegularizedEvolution
    from hnas.searchers.multi_fidelity import ASHA, BOHyperband, Hyperband, SuccessiveHalving
    from hnas.searchers.multi_objective import MOBayesianOptimization, MORandomSearch, MORegularizedEvolution
    from hnas.searchers.random_search import RandomSearch
    from hnas.searchers.reinforce import Reinforce

    register_searcher("random_search", RandomSearch)
    register_searcher("regularized_evolution", RegularizedEvolution)
    register_searcher("bayesian_optimization", BayesianOptimization)
    register_searcher("reinforce", Reinforce)
    register_searcher("mo_random_search", MORandomSearch)
    register_searcher("mo_regularized_evolution", MORegularizedEvolution)
    register_searcher("mo_bayesian_optimization", MOBayesianOptimization)
    register_searcher("successive_halving", SuccessiveHalving)
    register_searcher("hyperband", Hyperband)
    register_searcher("asha", ASHA)
    register_searcher("bo_hyperband", BOHyperband)


def _builtin_acquisitions() -> None:
    from hnas.searchers.acquisition import ExpectedImprovement, ProbabilityOfImprovement, UpperConfidenceBound

    register_acquisition("ei", ExpectedImprovement)
    register_acquisition("pi", ProbabilityOfImprovement)
    register_acquisition("ucb", UpperConfidenceBound)


def _builtin_pool_strategies() -> None:
    from hnas.searchers.pools import (
        EliteEvolutionPool,
        EvolutionPool,
        MutationPool,
        RandomPool,
        SampledEliteEvolutionPool,
    )

    register_pool_strategy("evolution", EvolutionPool)
    register_pool_strategy("elite_evolution", EliteEvolutionPool)
    register_pool_strategy("sampled_elite", SampledEliteEvolutionPool)
    register_pool_strategy("random", RandomPool)
    register_pool_strategy("mutation", MutationPool)


def _builtin_canonical_keys() -> None:
    from hnas.semantics.canonical import SHIPPED_SPACES, graph_key

    register_canonical_key("graph", graph_key, spaces=SHIPPED_SPACES)


_SEARCHERS: Registry[type[Searcher]] = Registry("searcher", _builtin_searchers)
_ACQUISITIONS: Registry[type[Acquisition]] = Registry("acquisition function", _builtin_acquisitions)
_POOLS: Registry[type[PoolStrategy]] = Registry("pool strategy", _builtin_pool_strategies)


@dataclass(frozen=True)
class CanonicalKey:
    """A registered key function ``tree -> str`` and the spaces it is the default for."""

    function: Callable[[Tree], str]
    applies_to: Callable[[SearchSpace], bool] | None


_KEYS: Registry[CanonicalKey] = Registry("canonical key", _builtin_canonical_keys)


def _subclass_check(kind: str, cls: Any, base: type) -> None:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"register_{kind}: expected a subclass of {base.__name__}, got {cls!r}")


def register_searcher(name: str, cls: type[Searcher], *, replace: bool = False) -> type[Searcher]:
    """Make ``cls`` (a :class:`~hnas.searchers.Searcher` subclass) available as ``name``
    (``--searcher name``, ``RunConfig(searcher=name)``). Returns ``cls``."""
    from hnas.searchers.base import Searcher

    _subclass_check("searcher", cls, Searcher)
    return _SEARCHERS.register(name, cls, replace=replace)


def register_acquisition(name: str, cls: type[Acquisition], *, replace: bool = False) -> type[Acquisition]:
    """Make ``cls`` (an :class:`~hnas.searchers.Acquisition` dataclass) available as ``name``
    (``--acquisition name``). Returns ``cls``."""
    from hnas.searchers.acquisition import Acquisition

    _subclass_check("acquisition", cls, Acquisition)
    return _ACQUISITIONS.register(name, cls, replace=replace)


def register_pool_strategy(name: str, cls: type[PoolStrategy], *, replace: bool = False) -> type[PoolStrategy]:
    """Make ``cls`` (a :class:`~hnas.searchers.PoolStrategy` dataclass) available as ``name``
    (``--pool_strategy name``). Returns ``cls``."""
    from hnas.searchers.pools import PoolStrategy

    _subclass_check("pool_strategy", cls, PoolStrategy)
    return _POOLS.register(name, cls, replace=replace)


def register_canonical_key(
    name: str,
    function: Callable[[Tree], str],
    *,
    spaces: Collection[str] | Callable[[SearchSpace], bool] | None = None,
    replace: bool = False,
) -> Callable[[Tree], str]:
    """Register ``function(tree) -> str``, a canonical key: trees with equal keys are the same
    architecture for the searchers (never proposed twice). ``--canonical_key name`` selects it; with
    the default ``auto`` it is used for the spaces in ``spaces`` (space names, as given to
    ``load_space``, or a predicate on the ``SearchSpace``); the latest registration wins."""
    if not callable(function):
        raise TypeError(f"register_canonical_key: function must be callable, got {function!r}")
    if spaces is not None and not callable(spaces):
        names = frozenset(spaces)
        spaces = lambda space: space.name in names or (len(space.spec) == 1 and space.spec[0] in names)  # noqa: E731
    _KEYS.register(name, CanonicalKey(function, spaces), replace=replace)
    return function


def get_searcher_class(name: str) -> type[Searcher]:
    return _SEARCHERS.get(name)


def get_acquisition_class(name: str) -> type[Acquisition]:
    return _ACQUISITIONS.get(name)


def get_pool_strategy_class(name: str) -> type[PoolStrategy]:
    return _POOLS.get(name)


def searcher_names() -> tuple[str, ...]:
    return _SEARCHERS.names()


def acquisition_names() -> tuple[str, ...]:
    return _ACQUISITIONS.names()


def pool_strategy_names() -> tuple[str, ...]:
    return _POOLS.names()


def canonical_key_names() -> tuple[str, ...]:
    return (AUTO, NONE, *_KEYS.names())


def canonical_key_for(space: SearchSpace, choice: str = AUTO) -> tuple[str, Callable[[Tree], str] | None]:
    """The key function ``choice`` selects for ``space`` and its name (``none``: no function)."""
    if choice == NONE:
        return NONE, None
    if choice != AUTO:
        return choice, _KEYS.get(choice).function
    for name in reversed(_KEYS.names()):
        entry = _KEYS.get(name)
        if entry.applies_to is not None and entry.applies_to(space):
            return name, entry.function
    return NONE, None


def name_of(cls: type, kind: str) -> str:
    """The name ``cls`` is registered under as a ``kind`` (searcher, acquisition, pool strategy)."""
    registry = {"searcher": _SEARCHERS, "acquisition": _ACQUISITIONS, "pool strategy": _POOLS}[kind]
    for name in registry.names():
        if registry.get(name) is cls:
            return name
    raise RegistryError(f"{cls.__qualname__} is not a registered {kind}; register it first")
