"""The training core: seeded initialisation, SGD with a cosine schedule, error on a split.

It takes any ``nn.Module`` mapping a float batch (N, C, H, W) to logits (N, classes); the
objectives compile trees into such modules and call :func:`train_and_evaluate`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hnas.objectives.augment import random_flip_crop
from hnas.objectives.data import ImageData, Split
from hnas.objectives.errors import EvaluationError
from hnas.objectives.protocols import TrainingProtocol

__all__ = [
    "TrainingOutcome",
    "select_device",
    "torch_generator",
    "initialize_parameters",
    "classification_error",
    "train_and_evaluate",
]


@dataclass(frozen=True)
class TrainingOutcome:
    """Errors in [0, 1] after training, training seconds, epochs, validation error per epoch."""

    val_error: float
    test_error: float
    train_time: float
    epochs: int
    learning_curve: tuple[float, ...]


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A CPU torch generator seeded from ``rng`` (advances ``rng`` by one draw)."""
    return torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))


@torch.no_grad()
def initialize_parameters(model: nn.Module, generator: torch.Generator) -> None:
    """Re-draw the weights and biases of every convolution and linear layer from ``generator``.

    The distribution is PyTorch's default (uniform in +-1/sqrt(fan_in), i.e. Kaiming-uniform with
    a = sqrt(5), for weights and biases alike), so a seed fixes the initial network. Other
    parameters (norm affines) keep their deterministic constructor values.
    """
    for module in model.modules():
        if not isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
            continue
        bound = 1.0 / math.sqrt(max(module.weight[0].numel(), 1))
        for param in (module.weight, module.bias):
            if param is not None:
                draw = torch.rand(param.shape, generator=generator, dtype=torch.float64)
                param.copy_(draw * (2 * bound) - bound)


@torch.inference_mode()
def classification_error(
    model: nn.Module, split: Split, data: ImageData, device: torch.device, batch_size: int = 1024
) -> float:
    """Top-1 error of ``model`` (in eval mode) on ``split``, normalised as ``data`` prescribes."""
    model.eval()
    wrong = torch.zeros((), dtype=torch.long, device=device)
    for start in range(0, len(split), batch_size):
        x = split.x[start : start + batch_size].to(device, non_blocking=True)
        y = split.y[start : start + batch_size].to(device, non_blocking=True)
        wrong += (model(data.normalize(x)).argmax(dim=1) != y).sum()
    return wrong.item() / len(split)


def _num_batches(n: int, batch_size: int) -> int:
    """Steps per epoch; a last batch of one image is left out (BatchNorm needs two)."""
    count = -(-n // batch_size)
    return count - 1 if count > 1 and n % batch_size == 1 else count


def _batches(n: int, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Shuffled index batches of one epoch."""
    return torch.randperm(n, generator=generator).split(batch_size)[: _num_batches(n, batch_size)]


def train_and_evaluate(
    model: nn.Module,
    data: ImageData,
    protocol: TrainingProtocol,
    *,
    seed: int,
    device: str | torch.device | None = None,
) -> TrainingOutcome:
    """Initialise ``model`` from ``seed``, train it on ``data.train`` and measure its errors.

    Deterministic on the CPU for a given seed and thread count: the initial weights, the order of
    the training images and the augmentation draws all come from generators seeded with ``seed``.
    The validation error is measured after every epoch (the learning curve), the test error once
    at the end. Raises :class:`EvaluationError` when the training loss is not finite.
    """
    device = select_device(device)
    rng = np.random.default_rng(seed)
    initialize_parameters(model, torch_generator(rng))
    order = torch_generator(rng)
    model.to(device)
    train_x, train_y = data.train.x.to(device), data.train.y.to(device)
    valid = Split(data.valid.x.to(device), data.valid.y.to(device))
    optimizer = torch.optim.SGD(
        model.parameters(), lr=protocol.learning_rate, momentum=protocol.momentum,
        weight_decay=protocol.weight_decay, nesterov=protocol.nesterov,
    )
    augment = protocol.flip or protocol.crop_padding > 0
    total_steps = protocol.epochs * _num_batches(len(data.train), protocol.batch_size)
    step, train_time, curve = 0, 0.0, []
    for epoch in range(protocol.epochs):
        start = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        for index in _batches(len(data.train), protocol.batch_size, order):
            index = index.to(device)
            x = train_x[index].to(torch.float32)
            if augment:
                x = random_flip_crop(
                    x, padding=protocol.crop_padding, flip=protocol.flip, generator=order
                )
            lr = 0.5 * protocol.learning_rate * (1.0 + math.cos(math.pi * step / total_steps))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = F.cross_entropy(model(data.normalize(x)), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            step += 1
        loss_total = loss_sum.item()
        train_time += time.perf_counter() - start
        if not math.isfinite(loss_total):
            raise EvaluationError(f"training loss became {loss_total} in epoch {epoch + 1}")
        curve.append(classification_error(model, valid, data, device, protocol.eval_batch_size))
    test_error = classification_error(model, data.test, data, device, protocol.eval_batch_size)
    return TrainingOutcome(curve[-1], test_error, train_time, protocol.epochs, tuple(curve))
