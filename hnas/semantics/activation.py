"""The activation-function space's semantics: trees -> activation modules and readable formulas.

A tree of the ``activation`` space (``grammars/activation.cfg``) is an expression in the input
``x``: ``UnaryTopo c`` is ``c(x)``; ``BinaryTopo op l r id id`` is ``op(l(x), r(x))``; a unary
leaf ``u`` is ``u(x)``. The operations follow the paper's code (Schrodi et al. 2023), made
numerically safe: for every finite input, forward and backward are finite (no NaN, no inf):

- inputs of growing operations are clamped first: ``square`` to +-1e6, ``cubic`` to +-1e4, ``exp``
  to at most 30, ``sinh`` / ``cosh`` to +-30, ``multi`` operands to +-1e6, the exponent of
  ``bgaussian_*`` to at most 30, every other operand of a binary operation (and of ``mconst``,
  ``aconst``, ``asinh``, ``gaussian``) to +-1e12, so no intermediate value exceeds ~1e24;
- ``log(x)`` is ``log(|x| + 1e-6)``, ``square_root(x)`` is ``sqrt(|x| + 1e-6)``;
- ``div(a, b)`` is ``a / (b + sign(b) * 1e-6)`` with ``sign(0) = +1`` (the denominator keeps its
  sign and is at least 1e-6 in magnitude);
- ``atanh`` clamps its input to +-(1 - 1e-6); ``logexp`` is softplus (``log(1 + exp(x))`` without
  overflow); ``sinc`` is 1 (slope 0) near 0.

Constants (``mconst``, ``aconst``, ``const``, ``bgaussian_sq``, ``bgaussian_abs``, ``wavg``) are
learnable parameters initialised to 1, one per channel (shape ``(C, 1, 1)``) when the activation
is compiled for ``channels=C``, a scalar otherwise. :func:`activation_formula` prints a tree as
e.g. ``max(x, sigmoid(x)) * tanh(x)`` (Python syntax but ``^`` for powers; ``log``, ``square_root``
and ``div`` print their plain mathematical form); constants print as ``c0``, ``c1``, ... in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hnas.grammar.tree import Tree
from hnas.semantics.errors import SemanticsError

__all__ = [
    "UNARY_OPS",
    "BINARY_OPS",
    "Activation",
    "ActivationCompiler",
    "compile_activation",
    "activation_formula",
    "activation_network",
]

EPS = 1e-6
BIG = 1e12
EXP_MAX = 30.0

Tensor = torch.Tensor


def _big(x: Tensor) -> Tensor:
    return x.clamp(-BIG, BIG)


def _safe_div(a: Tensor, b: Tensor) -> Tensor:
    b = _big(b)
    sign = torch.where(b >= 0, 1.0, -1.0).to(b.dtype)
    return a.clamp(-1e6, 1e6) / (b + sign * EPS)


def _sinc(x: Tensor) -> Tensor:
    small = x.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(x), x.clamp(-BIG, BIG)) * math.pi
    return torch.where(small, torch.ones_like(x), torch.sin(safe) / safe)


# precedence of a formula's top operator: parenthesise an operand whose precedence is lower
_ADD, _MUL, _NEG, _POW, _ATOM = 1, 2, 3, 4, 5
Formula = tuple[str, int]


def _wrap(f: Formula, least: int) -> str:
    return f[0] if f[1] >= least else f"({f[0]})"


def _call(name: str) -> Callable[[Formula, str], Formula]:
    return lambda f, c: (f"{name}({f[0]})", _ATOM)


@dataclass(frozen=True)
class UnaryOp:
    """``fn(x, c)`` (``c``: the learnable constant or None) and its formula ``show((text, prec), c_name)``."""

    fn: Callable[[Tensor, Tensor | None], Tensor]
    show: Callable[[Formula, str], Formula]
    constant: bool = False


@dataclass(frozen=True)
class BinaryOp:
    """``fn(a, b, c)`` and its formula ``show(a, b, c_name)``."""

    fn: Callable[[Tensor, Tensor, Tensor | None], Tensor]
    show: Callable[[Formula, Formula, str], Formula]
    constant: bool = False


UNARY_OPS: dict[str, UnaryOp] = {
    "id": UnaryOp(lambda x, c: x, lambda f, c: f),
    "neg": UnaryOp(lambda x, c: -x, lambda f, c: (f"-{_wrap(f, _POW)}", _NEG)),
    "abs": UnaryOp(lambda x, c: x.abs(), _call("abs")),
    "square": UnaryOp(lambda x, c: x.clamp(-1e6, 1e6).square(), lambda f, c: (f"{_wrap(f, _ATOM)}^2", _POW)),
    "cubic": UnaryOp(lambda x, c: x.clamp(-1e4, 1e4).pow(3), lambda f, c: (f"{_wrap(f, _ATOM)}^3", _POW)),
    "square_root": UnaryOp(lambda x, c: torch.sqrt(x.abs() + EPS), lambda f, c: (f"sqrt(abs({f[0]}))", _ATOM)),
    "mconst": UnaryOp(lambda x, c: c * _big(x), lambda f, c: (f"{c}*{_wrap(f, _MUL)}", _MUL), True),
    "aconst": UnaryOp(lambda x, c: _big(x) + c, lambda f, c: (f"{f[0]} + {c}", _ADD), True),
    "log": UnaryOp(lambda x, c: torch.log(x.abs() + EPS), lambda f, c: (f"log(abs({f[0]}))", _ATOM)),
    "exp": UnaryOp(lambda x, c: torch.exp(x.clamp(max=EXP_MAX)), _call("exp")),
    "sin": UnaryOp(lambda x, c: torch.sin(x), _call("sin")),
    "cos": UnaryOp(lambda x, c: torch.cos(x), _call("cos")),
    "sinh": UnaryOp(lambda x, c: torch.sinh(x.clamp(-EXP_MAX, EXP_MAX)), _call("sinh")),
    "cosh": UnaryOp(lambda x, c: torch.cosh(x.clamp(-EXP_MAX, EXP_MAX)), _call("cosh")),
    "tanh": UnaryOp(lambda x, c: torch.tanh(x), _call("tanh")),
    "asinh": UnaryOp(lambda x, c: torch.asinh(_big(x)), _call("asinh")),
    "atanh": UnaryOp(lambda x, c: torch.atanh(x.clamp(-1 + EPS, 1 - EPS)), _call("atanh")),
    "sinc": UnaryOp(lambda x, c: _sinc(x), _call("sinc")),
    "umax": UnaryOp(lambda x, c: torch.clamp(x, min=0), lambda f, c: (f"max({f[0]}, 0)", _ATOM)),
    "umin": UnaryOp(lambda x, c: torch.clamp(x, max=0), lambda f, c: (f"min({f[0]}, 0)", _ATOM)),
    "sigmoid": UnaryOp(lambda x, c: torch.sigmoid(x), _call("sigmoid")),
    "logexp": UnaryOp(lambda x, c: F.softplus(x), _call("softplus")),
    "gaussian": UnaryOp(lambda x, c: torch.exp(-x.clamp(-1e6, 1e6).square()),
                        lambda f, c: (f"exp(-{_wrap(f, _ATOM)}^2)", _ATOM)),
    "erf": UnaryOp(lambda x, c: torch.erf(x), _call("erf")),
    "const": UnaryOp(lambda x, c: c * torch.ones_like(x), lambda f, c: (c, _ATOM), True),
}
"""The 25 unary operations of the activation space."""


def _gauss(d: Tensor, c: Tensor) -> Tensor:
    return torch.exp((-c * d).clamp(max=EXP_MAX))


BINARY_OPS: dict[str, BinaryOp] = {
    "add": BinaryOp(lambda a, b, c: _big(a) + _big(b), lambda a, b, c: (f"{a[0]} + {b[0]}", _ADD)),
    "multi": BinaryOp(lambda a, b, c: a.clamp(-1e6, 1e6) * b.clamp(-1e6, 1e6),
                      lambda a, b, c: (f"{_wrap(a, _MUL)} * {_wrap(b, _MUL)}", _MUL)),
    "sub": BinaryOp(lambda a, b, c: _big(a) - _big(b), lambda a, b, c: (f"{a[0]} - {_wrap(b, _MUL)}", _ADD)),
    "div": BinaryOp(lambda a, b, c: _safe_div(a, b), lambda a, b, c: (f"{_wrap(a, _MUL)} / {_wrap(b, _NEG)}", _MUL)),
    "bmax": BinaryOp(lambda a, b, c: torch.maximum(_big(a), _big(b)), lambda a, b, c: (f"max({a[0]}, {b[0]})", _ATOM)),
    "bmin": BinaryOp(lambda a, b, c: torch.minimum(_big(a), _big(b)), lambda a, b, c: (f"min({a[0]}, {b[0]})", _ATOM)),
    "bsigmoid": BinaryOp(lambda a, b, c: torch.sigmoid(a) * _big(b),
                         lambda a, b, c: (f"sigmoid({a[0]}) * {_wrap(b, _MUL)}", _MUL)),
    "bgaussian_sq": BinaryOp(lambda a, b, c: _gauss((_big(a) - _big(b)).clamp(-1e6, 1e6).square(), c),
                             lambda a, b, c: (f"exp(-{c}*({a[0]} - {_wrap(b, _MUL)})^2)", _ATOM), True),
    "bgaussian_abs": BinaryOp(lambda a, b, c: _gauss((_big(a) - _big(b)).abs(), c),
                              lambda a, b, c: (f"exp(-{c}*abs({a[0]} - {_wrap(b, _MUL)}))", _ATOM), True),
    "wavg": BinaryOp(lambda a, b, c: c * _big(a) + (1 - c) * _big(b),
                     lambda a, b, c: (f"{c}*{_wrap(a, _MUL)} + (1 - {c})*{_wrap(b, _MUL)}", _ADD), True),
}
"""The 10 binary operations of the activation space."""

UNARY_TOPOLOGY = "UnaryTopo"
BINARY_TOPOLOGY = "BinaryTopo"


def _constant(channels: int | None) -> nn.Parameter:
    return nn.Parameter(torch.ones(()) if channels is None else torch.ones(channels, 1, 1))


class _Unary(nn.Module):
    def __init__(self, name: str, channels: int | None) -> None:
        super().__init__()
        self.op_name, self.op = name, UNARY_OPS[name]
        self.c = _constant(channels) if self.op.constant else None

    def forward(self, x: Tensor) -> Tensor:
        return self.op.fn(x, self.c)

    def extra_repr(self) -> str:
        return self.op_name


class _Binary(nn.Module):
    def __init__(self, name: str, left: nn.Module, right: nn.Module, channels: int | None) -> None:
        super().__init__()
        self.op_name, self.op = name, BINARY_OPS[name]
        self.left, self.right = left, right
        self.c = _constant(channels) if self.op.constant else None

    def forward(self, x: Tensor) -> Tensor:
        return self.op.fn(self.left(x), self.right(x), self.c)

    def extra_repr(self) -> str:
        return self.op_name


class Activation(nn.Module):
    """An activation function compiled from a tree; ``formula`` is its readable form."""

    def __init__(self, tree: Tree, expression: nn.Module, formula: str) -> None:
        super().__init__()
        self.tree, self.expression, self.formula = tree, expression, formula

    def forward(self, x: Tensor) -> Tensor:
        return self.expression(x)

    def extra_repr(self) -> str:
        return self.formula


def _shown(tree: Tree) -> str:
    text = str(tree)
    return text if len(text) <= 160 else text[:157] + "..."


def _check(node: Tree) -> None:
    """Raise :class:`SemanticsError` unless ``node`` is an expression of the activation space."""
    op, children = node.op, node.children
    if op == UNARY_TOPOLOGY and len(children) == 1:
        return _check(children[0])
    if op == BINARY_TOPOLOGY and len(children) == 5:
        binary, left, right, *ids = children
        if binary.children or binary.op not in BINARY_OPS:
            raise SemanticsError(f"{BINARY_TOPOLOGY}: first child must be a binary operation "
                                 f"({', '.join(BINARY_OPS)}), got {_shown(binary)}")
        if any(i.op != "id" or i.children for i in ids):
            raise SemanticsError(f"{BINARY_TOPOLOGY}: the last two children must be id in {_shown(node)}")
        _check(left)
        _check(right)
        return None
    if not children and op in UNARY_OPS:
        return None
    raise SemanticsError(
        f"not an activation expression: {_shown(node)} ({UNARY_TOPOLOGY} with 1 child, "
        f"{BINARY_TOPOLOGY} with 5, or a unary operation)"
    )


def _build(node: Tree, channels: int | None) -> nn.Module:
    if node.op == UNARY_TOPOLOGY:
        return _build(node.children[0], channels)
    if node.op == BINARY_TOPOLOGY:
        binary, left, right = node.children[:3]
        return _Binary(binary.op, _build(left, channels), _build(right, channels), channels)
    return _Unary(node.op, channels)


def _formula(node: Tree, names: list[str]) -> Formula:
    if node.op == UNARY_TOPOLOGY:
        return _formula(node.children[0], names)
    if node.op == BINARY_TOPOLOGY:
        binary, left, right = node.children[:3]
        a, b = _formula(left, names), _formula(right, names)
        op = BINARY_OPS[binary.op]
        return op.show(a, b, _next_constant(names) if op.constant else "")
    op = UNARY_OPS[node.op]
    return op.show(("x", _ATOM), _next_constant(names) if op.constant else "")


def _next_constant(names: list[str]) -> str:
    names.append(f"c{len(names)}")
    return names[-1]


def activation_formula(tree: Tree) -> str:
    """The readable formula of an activation tree, e.g. ``max(x, sigmoid(x)) * tanh(x)``."""
    _check(tree)
    return _formula(tree, [])[0]


def compile_activation(tree: Tree, channels: int | None = None) -> Activation:
    """The activation module of ``tree``; constants per channel when ``channels`` is given."""
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
        raise ValueError(f"channels must be a positive integer or None, got {channels!r}")
    _check(tree)
    return Activation(tree, _build(tree, channels), _formula(tree, [])[0])


# networks with the activation in place of ReLU ----------------------------------------------------
class _BasicBlock(nn.Module):
    """ResNet basic block for CIFAR (He et al. 2016, option A shortcut: subsample and zero-pad)."""

    def __init__(self, tree: Tree, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = compile_activation(tree, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = compile_activation(tree, c_out)
        self.pad = (c_out - c_in) // 2 if stride != 1 or c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        shortcut = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return self.act2(out + shortcut)


def _resnet20(tree: Tree, num_classes: int, in_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                               compile_activation(tree, 16)]
    c_in = 16
    for c_out, stride in ((16, 1), (32, 2), (64, 2)):
        for block in range(3):
            layers.append(_BasicBlock(tree, c_in, c_out, stride if block == 0 else 1))
            c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


def _small(tree: Tree, num_classes: int, in_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), compile_activation(tree, 16),
        nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), compile_activation(tree, 32),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes),
    )


NETWORKS: dict[str, Callable[[Tree, int, int], nn.Module]] = {"resnet20": _resnet20, "small": _small}
"""Networks the activation replaces ReLU in: ``resnet20`` (He et al., option A, 0.27 M parameters
on CIFAR-10; the paper's), ``small`` (conv16 - conv32/2 - pool - linear, for the offline task)."""


def activation_network(
    tree: Tree, *, num_classes: int, in_channels: int = 3, network: str = "resnet20",
    rng: np.random.Generator | None = None,
) -> nn.Module:
    """``network`` with the activation of ``tree`` at every ReLU site; Kaiming-normal convolution and
    linear weights (as the paper's ResNet), all random values drawn from ``rng`` (seed 0 when None)."""
    if network not in NETWORKS:
        raise SemanticsError(f"unknown activation network {network!r}; known: {', '.join(NETWORKS)}")
    _check(tree)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.default_generator.manual_seed(0 if rng is None else int(rng.integers(2**63 - 1)))
        model = NETWORKS[network](tree, num_classes, in_channels)  # linear bias: PyTorch's default
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.normal_(0.0, math.sqrt(2.0 / module.weight[0].numel()))
    return model


class ActivationCompiler:
    """The ``activation`` compiler (claims ``BinaryTopo`` and ``UnaryTopo``).

    ``compile(tree)`` / ``compile(tree, channels=C)``: the :class:`Activation` module.
    ``compile(tree, num_classes=K, in_channels=C, network="resnet20" | "small", rng=...)``: a
    classifier with the activation in place of ReLU (:func:`activation_network`).
    """

    roots = (UNARY_TOPOLOGY, BINARY_TOPOLOGY)

    def compile(
        self, tree: Tree, *, num_classes: int | None = None, in_channels: int = 3, channels: int | None = None,
        network: str = "resnet20", rng: np.random.Generator | None = None,
    ) -> nn.Module:
        if num_classes is None:
            return compile_activation(tree, channels)
        return activation_network(tree, num_classes=num_classes, in_channels=in_channels, network=network, rng=rng)
