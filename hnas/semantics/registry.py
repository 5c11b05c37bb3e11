"""Registry of the torch primitives that terminals of a grammar stand for.

A primitive is a factory ``channels -> nn.Module`` for one edge of a topology. Registering it
also declares the name to the grammar layer, so grammar files may use it. Topologies are pure
edge lists and live in :mod:`hnas.grammar.terminals` (re-exported here as
:func:`register_topology`)::

    @register_primitive("sep_conv3x3")
    def sep_conv3x3(channels: int) -> nn.Module:
        return nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                             nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from hnas.grammar.terminals import ZERO, declare_primitive, lookup_topology, register_topology
from hnas.semantics.errors import SemanticsError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "Primitive",
    "PrimitiveFactory",
    "register_primitive",
    "register_topology",
    "get_primitive",
    "primitives",
]

PrimitiveFactory = Callable[[int], "nn.Module"]
"""Builds a fresh module for an edge whose input has ``channels`` channels."""

F = TypeVar("F", bound=PrimitiveFactory)


@dataclass(frozen=True)
class Primitive:
    """A registered primitive.

    ``reduces``: the module halves the resolution and doubles the channels (like ``resBlock``);
    otherwise it keeps both. ``builtin`` marks hnas's own primitives, whose modules the compiler
    may clone from a cached prototype instead of calling the factory (see ``hnas.semantics.build``).
    """

    name: str
    factory: PrimitiveFactory
    reduces: bool = False
    builtin: bool = False


_REGISTRY: dict[str, Primitive] = {}


def register_primitive(name: str, *, reduces: bool = False, _builtin: bool = False) -> Callable[[F], F]:
    """Decorator registering ``factory(channels) -> nn.Module`` as the primitive ``name``.

    The factory must return a new module on every call (each position has its own weights).
    With ``reduces=True`` the module must halve height and width and double the channels.
    Registering an existing name replaces it. Returns the factory unchanged.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"primitive name must be an identifier-like string, got {name!r}")
    if name == ZERO:
        raise ValueError(f"{ZERO!r} is built in: it cuts its edge and has no module")
    if not _builtin:
        _ensure_builtins()  # so that a user's primitive replaces a built-in one, not the reverse

    def decorate(factory: F) -> F:
        if not callable(factory):
            raise TypeError(f"primitive {name!r}: the factory must be callable, got {factory!r}")
        declare_primitive(name)
        _REGISTRY[name] = Primitive(name, factory, reduces, _builtin)
        return factory

    return decorate


def get_primitive(name: str) -> Primitive:
    """The primitive registered as ``name``; a :class:`SemanticsError` says how to register it."""
    _ensure_builtins()
    primitive = _REGISTRY.get(name)
    if primitive is None:
        kind = "a topology, not a primitive" if lookup_topology(name) else "not a registered primitive"
        raise SemanticsError(
            f"terminal {name!r} is {kind}: register a module factory with "
            f"@hnas.semantics.register_primitive({name!r}) (or an edge list with register_topology)"
        )
    return primitive


def primitives() -> Mapping[str, Primitive]:
    """A read-only view of the registered primitives, by name."""
    _ensure_builtins()
    return MappingProxyType(_REGISTRY)


def _ensure_builtins() -> None:
    """Import the built-in primitives (they need torch) on first use of the registry."""
    import hnas.semantics.primitives  # noqa: F401  (registers on import)
