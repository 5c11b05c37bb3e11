"""``make_searcher``: build a searcher by name, checking every option and its value."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hnas.errors import RegistryError
from hnas.registry import Registry
from hnas.searchers.base import Searcher
from hnas.surrogates import SURROGATE_NAMES

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["SEARCHERS", "SEARCHER_OPTIONS", "SURROGATE_MODELS", "POOL_STRATEGIES", "make_searcher", "register_searcher", "searcher_names"]

SEARCHERS = ("random_search", "regularized_evolution", "bayesian_optimization")
SURROGATE_MODELS = SURROGATE_NAMES
POOL_STRATEGIES = ("evolution", "random", "mutation")

SEARCHER_OPTIONS: dict[str, dict[str, Any]] = {
    "random_search": {},
    "regularized_evolution": {"population_size": 30, "sample_size": 10},
    "bayesian_optimization": {
        "surrogate_model": "gp_hierarchical",
        "pool_strategy": "evolution",
        "pool_size": 200,
        "n_init": 10,
        "p_self_crossover": 0.5,
    },
}
"""The options each searcher takes, with their defaults. Pass a searcher only its own options."""


def _int_at_least(low: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"option {name} must be an integer >= {low}, got {value!r}")
        return value

    return check


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise ValueError(f"option {name}: unknown value {value!r}; choose one of {', '.join(choices)}")
        return value

    return check


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"option {name} must be a probability in [0, 1], got {value!r}")
    return float(value)


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "population_size": _int_at_least(1),
    "sample_size": _int_at_least(1),
    "surrogate_model": _choice(SURROGATE_MODELS),
    "pool_strategy": _choice(POOL_STRATEGIES),
    "pool_size": _int_at_least(1),
    "n_init": _int_at_least(1),
    "p_self_crossover": _probability,
}


_USER_SEARCHERS: Registry[type[Searcher]] = Registry("searcher")


def register_searcher(name: str, cls: type[Searcher], replace: bool = False) -> type[Searcher]:
    """Make ``make_searcher(name, space, seed=..., **options)`` return ``cls(space, seed=seed, **options)``.

    Stop-gap for plugins until the searchers' own registry lands (the agreed signature)."""
    if name in SEARCHERS:
        raise RegistryError(f"searcher {name!r} is built in")
    return _USER_SEARCHERS.register(name, cls, replace=replace)


def searcher_names() -> tuple[str, ...]:
    """The built-in searchers, then the registered ones."""
    return (*SEARCHERS, *_USER_SEARCHERS.names())


def make_searcher(name: str, space: SearchSpace, *, seed: int, **options: Any) -> Searcher:
    """A searcher by name (one of ``SEARCHERS``) over ``space``, seeded with ``seed``.

    ``options`` are the searcher's own (``SEARCHER_OPTIONS[name]``); an unknown searcher, an
    option the searcher does not take, or a bad value raises ``ValueError`` naming it.
    """
    user = _USER_SEARCHERS.find(name) if isinstance(name, str) else None
    if user is not None:
        return user(space, seed=seed, **options)
    if name not in SEARCHERS:
        raise ValueError(f"unknown searcher {name!r}; choose one of {', '.join(SEARCHERS)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    accepted = SEARCHER_OPTIONS[name]
    for option in options:
        if option not in accepted:
            owners = [s for s, opts in SEARCHER_OPTIONS.items() if option in opts]
            where = f"it belongs to {', '.join(owners)}" if owners else "no searcher takes it"
            raise ValueError(f"searcher {name} takes no option {option!r} ({where})")
    config = {key: _CHECKS[key](key, options.get(key, default)) for key, default in accepted.items()}
    if name == "random_search":
        from hnas.searchers.random_search import RandomSearch

        return RandomSearch(space, seed=seed)
    if name == "regularized_evolution":
        from hnas.searchers.evolution import RegularizedEvolution

        if config["sample_size"] > config["population_size"]:
            raise ValueError(
                f"option sample_size ({config['sample_size']}) must not exceed "
                f"population_size ({config['population_size']})"
            )
        return RegularizedEvolution(space, seed=seed, **config)
    from hnas.searchers.bayesian_optimization import BayesianOptimization

    return BayesianOptimization(space, seed=seed, **config)
