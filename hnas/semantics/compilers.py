"""Per-space semantics: compilers by name, and the one rule that picks a tree's compiler.

A *compiler* turns a derivation tree into a torch module: ``compiler.compile(tree, **task_options)``
(task options such as ``num_classes``, ``in_channels`` and ``rng`` are the compiler's own). It may
claim *root terminals* (attribute ``roots``, a collection of operator terminal names).

Rule: **a tree is compiled by the compiler that claims the operator terminal of its root; a root
that no compiler claims selects** :data:`DEFAULT_COMPILER` (``"network"``, the NAS-Bench-201 style
cell-network compiler of :mod:`hnas.semantics.compiler`). A root terminal is claimed by at most
one compiler (registering a second claim is a :class:`~hnas.errors.RegistryError`), so the choice
is unambiguous. A tree whose root selects the default compiler but which contains another
compiler's root terminal deeper down is a :class:`SemanticsError` naming both compilers.

Built-in compilers: ``network`` (claims nothing), ``activation`` (claims ``BinaryTopo`` and
``UnaryTopo``, see :mod:`hnas.semantics.activation`) and ``darts`` (claims ``DARTS``, see
:mod:`hnas.semantics.darts`). A plugin registers its own::

    class ProgramCompiler:
        roots = ("Program",)
        def compile(self, tree, **task_options): ...

    register_compiler("program", ProgramCompiler())

This module imports no torch; built-in compilers are registered on the first lookup.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hnas.errors import RegistryError
from hnas.grammar.tree import Tree
from hnas.registry import Registry
from hnas.semantics.errors import SemanticsError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "Compiler",
    "DEFAULT_COMPILER",
    "register_compiler",
    "get_compiler",
    "compiler_names",
    "compiler_name_for",
    "root_owner",
    "compile_tree",
]

DEFAULT_COMPILER = "network"
"""The compiler of trees whose root terminal no compiler claims."""


@runtime_checkable
class Compiler(Protocol):
    """Turns trees into modules; ``roots`` (optional attribute): the root terminals it claims."""

    def compile(self, tree: Tree, **task_options: Any) -> nn.Module:
        """The module of ``tree``; raises :class:`SemanticsError` for a tree it cannot realise."""


def _load_builtins() -> None:
    from hnas.semantics.activation import ActivationCompiler
    from hnas.semantics.compiler import NetworkCompiler
    from hnas.semantics.darts import DartsCompiler

    for name, compiler in (("network", NetworkCompiler()), ("activation", ActivationCompiler()),
                           ("darts", DartsCompiler())):
        register_compiler(name, compiler)


_COMPILERS: Registry[Compiler] = Registry("compiler", loader=_load_builtins)
_ROOT_OWNERS: dict[str, str] = {}  # root terminal -> compiler name


def _roots(name: str, compiler: object) -> frozenset[str]:
    roots = getattr(compiler, "roots", ())
    if isinstance(roots, str) or not isinstance(roots, Collection) or not all(isinstance(r, str) for r in roots):
        raise RegistryError(f"compiler {name!r}: roots must be a collection of terminal names, got {roots!r}")
    return frozenset(roots)


def register_compiler(name: str, compiler: Compiler, *, replace: bool = False) -> Compiler:
    """Register ``compiler`` as ``name``; its ``roots`` (if any) select it for trees with those roots.

    An existing name needs ``replace=True``; a root terminal claimed by another compiler is a
    :class:`~hnas.errors.RegistryError` either way. Returns ``compiler``.
    """
    if not callable(getattr(compiler, "compile", None)):
        raise RegistryError(f"compiler {name!r} needs a method compile(tree, **task_options), got {compiler!r}")
    roots = _roots(name, compiler)
    if name in _COMPILERS and not replace:  # also runs the built-in loader first
        _COMPILERS.register(name, compiler)  # raises the registry's own message
    for root in sorted(roots):
        owner = _ROOT_OWNERS.get(root)
        if owner is not None and owner != name:
            raise RegistryError(
                f"compiler {name!r}: root terminal {root!r} is already claimed by compiler {owner!r}"
            )
    _COMPILERS.register(name, compiler, replace=replace)
    for root in [r for r, owner in _ROOT_OWNERS.items() if owner == name]:
        del _ROOT_OWNERS[root]
    _ROOT_OWNERS.update(dict.fromkeys(roots, name))
    return compiler


def get_compiler(name: str) -> Compiler:
    """The compiler registered as ``name`` (an unknown name lists the registered ones)."""
    return _COMPILERS.get(name)


def compiler_names() -> tuple[str, ...]:
    """Registered compiler names, built-ins first."""
    return _COMPILERS.names()


def root_owner(terminal: str) -> str | None:
    """The compiler claiming ``terminal`` as a root terminal, or None."""
    _COMPILERS.names()  # registers the built-ins
    return _ROOT_OWNERS.get(terminal)


def compiler_name_for(tree: Tree) -> str:
    """The name of the compiler of ``tree``: the one claiming its root terminal, else the default."""
    if not isinstance(tree, Tree):
        raise TypeError(f"expected a hnas.grammar.Tree, got {type(tree).__name__}")
    name = root_owner(tree.op) or DEFAULT_COMPILER
    if name == DEFAULT_COMPILER:
        foreign = next((n.op for n in tree.walk() if n.op in _ROOT_OWNERS), None)
        if foreign is not None:
            raise SemanticsError(
                f"the tree's root terminal {tree.op!r} selects compiler {DEFAULT_COMPILER!r}, but it contains "
                f"{foreign!r}, the root terminal of compiler {_ROOT_OWNERS[foreign]!r}; a tree's compiler "
                "is chosen by its root terminal"
            )
    return name


def compile_tree(tree: Tree, **task_options: Any) -> nn.Module:
    """Compile ``tree`` with its compiler (:func:`compiler_name_for`), passing ``task_options``."""
    return get_compiler(compiler_name_for(tree)).compile(tree, **task_options)
