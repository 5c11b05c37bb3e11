"""Surrogate models of the objective over architectures: GPs with (hierarchical) WL kernels.

A surrogate is anything with ``fit(trees, y) -> self`` and ``predict(trees) -> (mean, variance)``
(:class:`Surrogate`). ``get_surrogate(name, space, **options)`` builds a registered one;
``register_surrogate(name, factory)`` adds one (``factory(space, **options) -> Surrogate``), e.g.
from a plugin. Built-ins (see :mod:`hnas.surrogates.wl_gp` and docs/surrogates.md):

- ``gp_hierarchical`` (alias ``gpwl_hierarchical``): hWL GP, fitted hyperparameters (the default);
- ``gp`` (alias ``gpwl``): WL GP on the flattened graph, fitted the same way;
- ``gp_hierarchical_paper`` and ``gp_paper``: the paper's fit (no output scale, noise from 1e-3,
  20 Adam steps), kept so its results stay reproducible.

torch and gpytorch are imported when a surrogate is built, not with this package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from hnas.registry import Registry

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace
    from hnas.grammar.tree import Tree
    from hnas.surrogates.wl_gp import GPParameters, WLGaussianProcess

__all__ = [
    "SURROGATE_NAMES",
    "GPParameters",
    "Surrogate",
    "SurrogateFactory",
    "WLGaussianProcess",
    "canonical_name",
    "get_surrogate",
    "register_surrogate",
    "surrogate_names",
]


@runtime_checkable
class Surrogate(Protocol):
    """What a searcher needs of a model: fit on evaluated trees, predict mean and variance."""

    def fit(self, trees: Sequence[Tree], y: Sequence[float] | np.ndarray) -> Surrogate:
        """Fit on ``trees`` and their (finite) objective values; returns the surrogate."""
        ...

    def predict(self, trees: Sequence[Tree]) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the objective at ``trees`` (original scale)."""
        ...


SurrogateFactory = Callable[..., Surrogate]
"""``factory(space, **options) -> Surrogate`` (``space`` a :class:`~hnas.grammar.SearchSpace`)."""

_ALIASES = {"gpwl": "gp", "gpwl_hierarchical": "gp_hierarchical"}
SURROGATE_NAMES = ("gp", "gp_hierarchical", "gp_paper", "gp_hierarchical_paper", *_ALIASES)
"""The built-in surrogate names (``gpwl`` and ``gpwl_hierarchical`` are aliases); a plugin's
surrogates are listed by :func:`surrogate_names`."""


def _builtin(name: str, hierarchical: bool, fit: str) -> SurrogateFactory:
    def build(space: SearchSpace, **options: Any) -> Surrogate:
        from hnas.surrogates.wl_gp import make_wl_gp  # torch is imported here, not at lookup

        options.setdefault("fit", fit)
        return make_wl_gp(space, hierarchical=hierarchical, name=name, **options)

    return build


def _builtins() -> None:
    for name, hierarchical, fit in (
        ("gp", False, "profiled"),
        ("gp_hierarchical", True, "profiled"),
        ("gp_paper", False, "paper"),
        ("gp_hierarchical_paper", True, "paper"),
    ):
        _REGISTRY.register(name, _builtin(name, hierarchical, fit))


_REGISTRY: Registry[SurrogateFactory] = Registry("surrogate model", loader=_builtins)


def register_surrogate(name: str, factory: SurrogateFactory, *, replace: bool = False) -> SurrogateFactory:
    """Make ``get_surrogate(name, space, **options)`` return ``factory(space, **options)``.

    An existing name (built-in or not) needs ``replace=True`` (:class:`~hnas.errors.RegistryError`
    otherwise). Returns ``factory``.
    """
    if name in _ALIASES:
        raise _registry_error(f"surrogate model {name!r} is an alias of {_ALIASES[name]!r}")
    if not callable(factory):
        raise _registry_error(f"surrogate model {name!r}: the factory must be callable, got {factory!r}")
    return _REGISTRY.register(name, factory, replace=replace)


def _registry_error(message: str) -> Exception:
    from hnas.errors import RegistryError

    return RegistryError(message)


def surrogate_names() -> tuple[str, ...]:
    """Every registered surrogate name (built-ins first), aliases included."""
    return (*_REGISTRY.names(), *_ALIASES)


def canonical_name(name: str) -> str:
    """The registered name for any accepted spelling (aliases resolved); an unknown name raises
    :class:`~hnas.errors.RegistryError` (a ValueError) listing the registered ones."""
    canonical = _ALIASES.get(name, name)
    _REGISTRY.get(canonical)
    return canonical


def __getattr__(name: str) -> Any:
    if name in ("GPParameters", "WLGaussianProcess"):
        from hnas.surrogates import wl_gp

        return getattr(wl_gp, name)
    raise AttributeError(f"module 'hnas.surrogates' has no attribute {name!r}")


def get_surrogate(name: str, space: SearchSpace | str, **options: Any) -> Surrogate:
    """A fresh, unfitted surrogate for trees of ``space`` (a SearchSpace or a registered name).

    ``options`` go to the surrogate's factory (built-ins: see
    :func:`hnas.surrogates.wl_gp.make_wl_gp`); an unknown option is a ``ValueError`` naming it.
    """
    factory = _REGISTRY.get(canonical_name(name))
    if isinstance(space, str):
        from hnas.grammar import load_space

        space = load_space(space)
    return factory(space, **options)
