"""Objectives: a derivation tree in, an :class:`EvaluationResult` out.

- :class:`TrainingObjective` compiles the tree, trains it with a protocol and reports the
  validation error (optionally with zero-cost proxy scores as ``extras``);
- :class:`ProxyObjective` reports ``-score`` of one zero-cost proxy, without training;
- :class:`DebugObjective` reports the relative distance of the parameter count to a target.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from hnas.grammar.tree import Tree
from hnas.objectives.budget import TrainingBudget
from hnas.objectives.data import ImageData
from hnas.objectives.errors import ObjectiveError
from hnas.objectives.protocols import TrainingProtocol
from hnas.objectives.proxies import check_proxy_names, score_proxies
from hnas.objectives.result import EvaluationResult
from hnas.semantics import compile_tree, count_flops, count_parameters
from hnas.objectives.training import (
    initialize_parameters,
    select_device,
    torch_generator,
    train_and_evaluate,
)

__all__ = ["Objective", "TrainingObjective", "ProxyObjective", "DebugObjective"]


class Objective(ABC):
    """Evaluates architectures: ``evaluate(tree, seed)``; lower ``val_error`` is better."""

    name: str
    num_classes: int
    input_shape: tuple[int, int, int]
    nonnegative: bool | None = None
    """Whether every ``val_error`` is >= 0 (``--log`` needs it); ``None``: not declared."""
    supports_fidelity: bool = False
    """Whether ``evaluate`` takes ``budget=`` (a :class:`~hnas.objectives.budget.TrainingBudget`):
    train to some epochs, save and continue from checkpoints (multi-fidelity searchers need it)."""

    @abstractmethod
    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        """Evaluate ``tree``; raises :class:`EvaluationError` (or any error) when it fails."""

    def build(self, tree: Tree, seed: int = 0) -> nn.Module:
        """The network of ``tree`` for this objective's input channels and classes, initialised from
        ``seed``, built by the tree's compiler (see :mod:`hnas.semantics.compilers`)."""
        return compile_tree(
            tree, num_classes=self.num_classes, in_channels=self.input_shape[0], rng=np.random.default_rng(seed)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, classes={self.num_classes}, input={self.input_shape})"


def _check_proxy_batch_size(name: str, value: object) -> int:
    """Proxies need a batch of at least two images (train-mode BatchNorm, kernels between images)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ObjectiveError(f"{name} must be an integer >= 2, got {value!r}")
    return value


def _proxy_batch(
    model: nn.Module, data: ImageData, batch_size: int, seed: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Initialise ``model`` from ``seed`` (as training would) and draw a training batch for proxies."""
    rng = np.random.default_rng(seed)
    initialize_parameters(model, torch_generator(rng))
    index = np.sort(rng.choice(len(data.train), size=min(batch_size, len(data.train)), replace=False))
    batch = data.train.take(index)
    model.to(device)
    return data.normalize(batch.x.to(device)), batch.y.to(device)


class TrainingObjective(Objective):
    """Validation error after training with ``protocol`` on ``data``.

    ``proxies`` names zero-cost proxies scored on the initial network (one batch of
    ``proxy_batch_size`` training images) and recorded in ``extras``.
    """

    nonnegative = True  # an error rate
    supports_fidelity = True

    def __init__(
        self,
        name: str,
        data: ImageData,
        protocol: TrainingProtocol,
        *,
        proxies: Iterable[str] | str = (),
        proxy_batch_size: int = 64,
        device: str | torch.device | None = None,
    ) -> None:
        self.name, self.data, self.protocol = name, data, protocol
        self.num_classes, self.input_shape = data.num_classes, data.input_shape
        self.proxies = check_proxy_names(proxies)
        self.proxy_batch_size = _check_proxy_batch_size("proxy_batch_size", proxy_batch_size)
        self.device = select_device(device)

    def evaluate(self, tree: Tree, seed: int, budget: TrainingBudget | None = None) -> EvaluationResult:
        """Train and evaluate ``tree``; ``budget``: how far to train, from and to which checkpoint
        (see :func:`~hnas.objectives.training.train_and_evaluate`)."""
        model = self.build(tree, seed)
        extras = {}
        if self.proxies:
            x, y = _proxy_batch(model, self.data, self.proxy_batch_size, seed, self.device)
            extras = score_proxies(model, x, y, self.proxies, seed=seed)
        outcome = train_and_evaluate(model, self.data, self.protocol, seed=seed, device=self.device, budget=budget)
        return EvaluationResult(
            val_error=outcome.val_error,
            test_error=outcome.test_error,
            params=count_parameters(model),
            flops=float(count_flops(model, self.input_shape)),
            train_time=outcome.train_time,
            epochs=outcome.epochs,
            learning_curve=outcome.learning_curve,
            extras=extras,
        )


class ProxyObjective(Objective):
    """``-score`` of the zero-cost proxy ``proxy`` on one batch of ``data`` (no training).

    ``proxies`` names further proxies recorded in ``extras`` (the objective's own score is
    always there too); ``train_time`` is the time spent scoring.
    """

    nonnegative = False  # -score

    def __init__(
        self,
        proxy: str,
        data: ImageData,
        *,
        batch_size: int = 64,
        proxies: Iterable[str] | str = (),
        device: str | torch.device | None = None,
    ) -> None:
        (self.proxy,) = check_proxy_names([proxy])
        self.name, self.data = proxy, data
        self.batch_size = _check_proxy_batch_size("batch_size", batch_size)
        self.num_classes, self.input_shape = data.num_classes, data.input_shape
        self.proxies = check_proxy_names([proxy, *check_proxy_names(proxies)])
        self.device = select_device(device)

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        model = self.build(tree, seed)
        start = time.perf_counter()
        x, y = _proxy_batch(model, self.data, self.batch_size, seed, self.device)
        scores = score_proxies(model, x, y, self.proxies, seed=seed)
        elapsed = time.perf_counter() - start
        return EvaluationResult(
            val_error=-scores[self.proxy],
            params=count_parameters(model),
            flops=float(count_flops(model, self.input_shape)),
            train_time=elapsed,
            extras=scores,
        )


class DebugObjective(Objective):
    """|params - target| / target for the network compiled for ``num_classes`` and ``input_shape``:
    no data, no training, for fast pipeline runs."""

    nonnegative = True

    def __init__(
        self,
        target_params: int = 100_000,
        *,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (3, 32, 32),
    ) -> None:
        if isinstance(target_params, bool) or not isinstance(target_params, int) or target_params < 1:
            raise ObjectiveError(f"target_params must be a positive integer, got {target_params!r}")
        sides = input_shape.replace("x", ",").split(",") if isinstance(input_shape, str) else input_shape
        try:  # a string comes from a command line: "C,H,W" or "CxHxW"
            shape = tuple(int(side) for side in sides)
        except (TypeError, ValueError):
            shape = ()
        if len(shape) != 3 or min(shape) < 1:
            raise ObjectiveError(f"input_shape must be three positive integers C,H,W, got {input_shape!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ObjectiveError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.name, self.target_params = "debug", target_params
        self.num_classes, self.input_shape = num_classes, shape

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        n = count_parameters(self.build(tree))
        return EvaluationResult(val_error=abs(n - self.target_params) / self.target_params, params=n)
