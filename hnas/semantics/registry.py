"""Registry of the primitives that terminals of a grammar stand for.

A primitive is a factory ``channels -> nn.Module`` for one edge of a topology. Registering it
also declares the name to the grammar layer, so grammar files may use it. Topologies are pure
edge lists and live in :mod:`hnas.grammar.terminals` (re-exported here as
:func:`register_topology`)::

    @register_primitive("sep_conv3x3")
    def sep_conv3x3(channels: int) -> nn.Module:
        return nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                             nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels))

    register_primitive("gcn")  # a terminal without a module: grammars, searchers and objectives
                               # that never build a network (e.g. a table lookup) need no torch

Registering an existing name (a built-in included) needs ``replace=True``; looking a name up
never registers anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from hnas.errors import RegistryError
from hnas.grammar.terminals import ZERO, declare_primitive, is_primitive, lookup_topology, register_topology
from hnas.registry import Registry
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
    factory: PrimitiveFactory | None
    reduces: bool = False
    builtin: bool = False


_REGISTRY: Registry[Primitive] = Registry("primitive")


def _ensure_builtins() -> None:
    """Import the built-in primitives (they need torch) on first use of the modules."""
    import hnas.semantics.primitives  # noqa: F401  (registers on import)


def register_primitive(
    name: str, *, reduces: bool = False, replace: bool = False, _builtin: bool = False
) -> Callable[[F], F]:
    """Declare the primitive ``name``; the returned decorator gives it ``factory(channels) -> nn.Module``.

    The call alone declares a terminal without a module (grammars may use it; compiling it is a
    :class:`SemanticsError`). The factory must return a new module on every call (each position
    has its own weights). With ``reduces=True`` the module must halve height and width and double
    the channels. An existing name (a built-in included) needs ``replace=True``, otherwise a
    :class:`~hnas.errors.RegistryError`. The decorator returns the factory unchanged.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise SemanticsError(f"primitive name must be an identifier-like string, got {name!r}")
    if name == ZERO:
        raise SemanticsError(f"{ZERO!r} is built in: it cuts its edge and has no module")
    if lookup_topology(name) is not None:
        raise SemanticsError(f"{name!r} is already a topology")
    if replace:
        _ensure_builtins()  # so that a user's primitive replaces a built-in one, not the reverse
    elif not _builtin and is_primitive(name) and name not in _REGISTRY:  # a built-in not imported yet
        raise RegistryError(f"primitive {name!r} is already registered; pass replace=True to replace it")
    _REGISTRY.register(name, Primitive(name, None, reduces, _builtin), replace=replace)
    declare_primitive(name)

    def decorate(factory: F) -> F:
        if not callable(factory):
            raise SemanticsError(f"primitive {name!r}: the factory must be callable, got {factory!r}")
        _REGISTRY.register(name, Primitive(name, factory, reduces, _builtin), replace=True)
        return factory

    return decorate


def get_primitive(name: str) -> Primitive:
    """The primitive registered as ``name`` with a module factory; a :class:`SemanticsError` says
    how to register it."""
    _ensure_builtins()
    primitive = _REGISTRY.find(name)
    if primitive is None:
        kind = "a topology, not a primitive" if lookup_topology(name) else "not a registered primitive"
        raise SemanticsError(
            f"terminal {name!r} is {kind}: register a module factory with "
            f"@hnas.semantics.register_primitive({name!r}) (or an edge list with register_topology)"
        )
    if primitive.factory is None:
        raise SemanticsError(
            f"primitive {name!r} was registered without a module, so it cannot be compiled: give it one with "
            f"@hnas.semantics.register_primitive({name!r}, replace=True)"
        )
    return primitive


def primitives() -> Mapping[str, Primitive]:
    """A read-only view of the registered primitives, by name (``factory`` is None for a
    primitive registered without a module)."""
    _ensure_builtins()
    return MappingProxyType({name: _REGISTRY.get(name) for name in _REGISTRY.names()})
