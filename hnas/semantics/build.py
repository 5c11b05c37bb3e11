"""Fast, seeded construction of the modules of one network.

Building ``nn.Conv2d``/``nn.BatchNorm2d`` through their constructors costs 40-60 us each, most of
it in ``nn.Module.__setattr__`` bookkeeping and default initialisation; a hierarchical
architecture has a few hundred such modules. Built-in primitives (and the shell) are therefore
built once per ``(primitive, channels)`` as a *prototype* and then cloned: a clone is an instance
of the same class whose ``__dict__`` containers (parameters, buffers, submodules, hook tables) are
fresh copies, with fresh tensors. That is what ``copy.deepcopy`` produces, about 8x faster.

Initialisation draws only from the network's ``torch.Generator``, never from torch's global RNG:
convolution and linear weights and biases are uniform in +-1/sqrt(fan_in) (PyTorch's default
distribution), everything else (norm affines, running statistics) is copied from the prototype,
whose values are the constructors' deterministic ones. User primitives are called directly under
``torch.random.fork_rng`` seeded from the generator, so their own default initialisation is
reproducible and leaves the global RNG untouched.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from hnas.semantics.errors import SemanticsError
from hnas.semantics.registry import Primitive

__all__ = ["ModuleBuilder", "TERMINAL_ATTRIBUTE"]

TERMINAL_ATTRIBUTE = "hnas_terminal"
"""Attribute naming the terminal ("conv3x3", ..., "stem", "head") a module was built for."""

_RANDOM_INIT = (_ConvNd, nn.Linear)
_PROTOTYPES: dict[Hashable, nn.Module] = {}


@dataclass(frozen=True)
class _Recipe:
    """How to clone one prototype: its class, plain attributes, containers to create afresh
    (empty hook tables, the non-persistent buffer set), parameters with their init bound (0:
    copy the prototype's value), buffers and child prototypes."""

    cls: type[nn.Module]
    plain: dict[str, object]
    containers: tuple[tuple[str, Callable[[], object]], ...]
    params: tuple[tuple[str, nn.Parameter | None, float], ...]
    buffers: tuple[tuple[str, torch.Tensor | None], ...]
    children: tuple[tuple[str, nn.Module | None], ...]


_RECIPES: dict[int, _Recipe] = {}  # by id of a prototype (prototypes are never freed)


def _recipe(proto: nn.Module) -> _Recipe:
    recipe = _RECIPES.get(id(proto))
    if recipe is not None:
        return recipe
    special = {"_parameters", "_buffers", "_modules"}
    plain, containers = {}, []
    for key, value in proto.__dict__.items():
        if key in special:
            continue
        if isinstance(value, (dict, set, list)):  # mutable: each clone gets its own
            containers.append((key, partial(copy.copy, value) if value else type(value)))
        else:
            plain[key] = value
    bound = 0.0
    if isinstance(proto, _RANDOM_INIT):
        bound = 1.0 / math.sqrt(max(proto.weight[0].numel(), 1))
    recipe = _Recipe(
        type(proto),
        plain,
        tuple(containers),
        tuple((name, p, bound) for name, p in proto._parameters.items()),
        tuple(proto._buffers.items()),
        tuple(proto._modules.items()),
    )
    _RECIPES[id(proto)] = recipe
    return recipe


def _instance(recipe: _Recipe) -> tuple[nn.Module, dict[str, object]]:
    """An instance of the recipe's class with its plain attributes and fresh empty containers."""
    module = recipe.cls.__new__(recipe.cls)
    state = module.__dict__
    state.update(recipe.plain)
    for key, make in recipe.containers:
        state[key] = make()
    return module, state


def _prototype(key: Hashable, make: Callable[[], nn.Module]) -> nn.Module:
    proto = _PROTOTYPES.get(key)
    if proto is None:
        with torch.random.fork_rng(devices=[]):  # its random values are never used
            proto = make()
        _PROTOTYPES[key] = proto
    return proto


class ModuleBuilder:
    """Creates the modules of one network, drawing initial weights from ``generator``."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def primitive(self, primitive: Primitive, channels: int) -> nn.Module:
        """A new module of ``primitive`` for ``channels`` input channels, tagged with its name."""
        if primitive.builtin:
            proto = _prototype((primitive, channels), lambda: primitive.factory(channels))
            return self.clone(proto, primitive.name)
        return self._user_module(primitive, channels)

    def shell(self, key: Hashable, make: Callable[[], nn.Module], terminal: str) -> nn.Module:
        """A new module equal in structure to ``make()`` (cached by ``key``), tagged ``terminal``."""
        return self.clone(_prototype(key, make), terminal)

    def clone(self, proto: nn.Module, terminal: str | None = None) -> nn.Module:
        """A fresh copy of ``proto`` with newly initialised parameters (see the module docstring)."""
        recipe = _recipe(proto)
        module, state = _instance(recipe)
        params = {}
        for name, value, bound in recipe.params:
            if value is None:
                params[name] = None
            elif bound:
                data = torch.empty(value.shape, dtype=value.dtype).uniform_(-bound, bound, generator=self.generator)
                params[name] = nn.Parameter(data, value.requires_grad)
            else:
                params[name] = nn.Parameter(value.detach().clone(), value.requires_grad)
        state["_parameters"] = params
        state["_buffers"] = {name: None if b is None else b.clone() for name, b in recipe.buffers}
        state["_modules"] = {name: None if c is None else self.clone(c) for name, c in recipe.children}
        if terminal is not None:
            state[TERMINAL_ATTRIBUTE] = terminal
        return module

    def container(
        self, empty: Callable[[], nn.Module], children: dict[str, nn.Module], **attributes: object
    ) -> nn.Module:
        """A parameterless container like ``empty()`` holding ``children``, with plain ``attributes``
        replaced (e.g. ``nn.Sequential``: children "0", "1", ...); much cheaper than its constructor."""
        module, state = _instance(_recipe(_prototype(empty, empty)))
        state["_parameters"] = {}
        state["_buffers"] = {}
        state["_modules"] = children
        state.update(attributes)
        return module

    def _user_module(self, primitive: Primitive, channels: int) -> nn.Module:
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)  # torch.manual_seed would reseed CUDA too
            module = primitive.factory(channels)
        if not isinstance(module, nn.Module):
            raise SemanticsError(
                f"primitive {primitive.name!r}: the factory returned {type(module).__name__}, "
                "not a torch.nn.Module"
            )
        if hasattr(module, TERMINAL_ATTRIBUTE):
            raise SemanticsError(
                f"primitive {primitive.name!r}: the factory returned a module it had returned "
                "before; it must build a new module per call (every position has its own weights)"
            )
        setattr(module, TERMINAL_ATTRIBUTE, primitive.name)
        return module
