"""``make_searcher``: a searcher by name with its options, and the record of a configuration.

Options are given flat: a key that is not a field of the searcher's ``Options`` goes to the one
component option (e.g. BO's ``acquisition`` or ``pool_strategy``) whose dataclass has that
field, so ``pool_size=50`` sets the pool strategy's pool size and ``xi=0.01`` the acquisition's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hnas.searchers.base import KeyFunction, Searcher
from hnas.searchers.options import OptionsError, build_options, option_defaults
from hnas.searchers.registry import AUTO, canonical_key_for, get_searcher_class, name_of

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["make_searcher", "build_searcher_options", "options_record", "accepted_options"]


def _components(options: Any) -> dict[str, Any]:
    """The option fields of ``options`` whose values are component dataclasses."""
    return {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(options)
        if dataclasses.is_dataclass(getattr(options, f.name)) and not isinstance(getattr(options, f.name), type)
    }


def build_searcher_options(cls: type[Searcher], values: Mapping[str, Any]) -> Any:
    """``cls.Options`` built from flat ``values`` (see the module doc); OptionsError names a bad key."""
    own = option_defaults(cls.Options)
    label = f"searcher {_label(cls)}"
    options = build_options(cls.Options, {k: v for k, v in values.items() if k in own}, label)
    routed: dict[str, dict[str, Any]] = {}
    components = _components(options)
    for key, value in values.items():
        if key in own:
            continue
        owners = [name for name, component in components.items() if key in option_defaults(type(component))]
        if len(owners) != 1:
            accepted = ", ".join(sorted(accepted_options(cls, options))) or "none"
            why = "several components take it" if owners else f"its options: {accepted}"
            raise OptionsError(f"{label} takes no option {key!r} ({why})", key)
        routed.setdefault(owners[0], {})[key] = value
    if not routed:
        return options
    changes = {name: dataclasses.replace(components[name], **keys) for name, keys in routed.items()}
    return dataclasses.replace(options, **changes)


def accepted_options(cls: type[Searcher], options: Any = None) -> set[str]:
    """The flat option names a searcher takes with ``options`` (default: its defaults)."""
    options = cls.Options() if options is None else options
    names = set(option_defaults(cls.Options))
    for component in _components(options).values():
        names |= set(option_defaults(type(component)))
    return names


def make_searcher(
    searcher: str | type[Searcher],
    space: SearchSpace,
    *,
    seed: int,
    canonical_key: str | KeyFunction | None = AUTO,
    **options: Any,
) -> Searcher:
    """A searcher by registered name (or class) over ``space``, seeded with ``seed``.

    ``canonical_key``: a key function, or a choice of :func:`canonical_key_for` (``auto``: the key
    registered for the space, ``none``, or a key name). ``options`` are flat (see the module doc);
    an unknown searcher or key is a RegistryError, an option it does not take or a bad value an
    OptionsError naming it (both ``ValueError``s).
    """
    cls = get_searcher_class(searcher) if isinstance(searcher, str) else searcher
    if isinstance(canonical_key, str):
        canonical_key = canonical_key_for(space, canonical_key)[1]
    return cls(space, seed=seed, options=build_searcher_options(cls, options), canonical_key=canonical_key)


def options_record(options: Any) -> dict[str, Any]:
    """JSON-able options: components as ``{"name": registered name, **their options}``."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = {"name": _component_name(value), **options_record(value)}
        out[f.name] = value
    return out


def _component_name(component: Any) -> str:
    from hnas.searchers.acquisition import Acquisition

    kind = "acquisition" if isinstance(component, Acquisition) else "pool strategy"
    try:
        return name_of(type(component), kind)
    except ValueError:
        return f"{type(component).__module__}.{type(component).__qualname__}"


def _label(cls: type[Searcher]) -> str:
    try:
        return name_of(cls, "searcher")
    except ValueError:
        return cls.__qualname__
