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

import math
from collections.abc import Callable, Hashable

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
        cls = type(proto)
        module = cls.__new__(cls)
        state = {k: v.copy() if isinstance(v, (dict, set)) else v for k, v in proto.__dict__.items()}
        params = state["_parameters"]
        if params:
            bound = None
            if isinstance(proto, _RANDOM_INIT):
                bound = 1.0 / math.sqrt(max(proto.weight[0].numel(), 1))
            for name, p in params.items():
                if p is None:
                    continue
                if bound is None:
                    data = p.detach().clone()
                else:
                    data = torch.empty(p.shape, dtype=p.dtype).uniform_(-bound, bound, generator=self.generator)
                params[name] = nn.Parameter(data, requires_grad=p.requires_grad)
        buffers = state["_buffers"]
        for name, b in buffers.items():
            if b is not None:
                buffers[name] = b.clone()
        modules = state["_modules"]
        for name, child in modules.items():
            if child is not None:
                modules[name] = self.clone(child)
        if terminal is not None:
            state[TERMINAL_ATTRIBUTE] = terminal
        module.__dict__.update(state)
        return module

    def _user_module(self, primitive: Primitive, channels: int) -> nn.Module:
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
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
