"""The training core: seeded initialisation, SGD with a cosine schedule, error on a split.

It takes any ``nn.Module`` mapping a float batch (N, C, H, W) to logits (N, classes); the
objectives compile trees into such modules and call :func:`train_and_evaluate`.

Training can stop early and continue (multi-fidelity search): with a :class:`TrainingBudget`,
training runs to ``budget.epochs`` of a cosine schedule over ``budget.max_epochs``, saves its
state (weights and buffers, the optimizer's momentum, the generator that orders the images and
draws the augmentations, the step, the learning curve) to ``budget.checkpoint``, and a later
call with ``budget.resume`` set to that file continues exactly where it stopped: stopping at E
and continuing to E' gives the same learning curve and weights as an uninterrupted run to E'
(bit for bit on the CPU with the same thread count). A missing, unreadable or mismatched resume
file is a :class:`CheckpointError` (the evaluation fails with its message): it never silently
trains from zero.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hnas.objectives.augment import random_flip_crop
from hnas.objectives.budget import TrainingBudget
from hnas.objectives.data import ImageData, Split
from hnas.objectives.errors import EvaluationError
from hnas.objectives.protocols import TrainingProtocol

__all__ = [
    "TrainingOutcome",
    "TrainingBudget",
    "CheckpointError",
    "select_device",
    "torch_generator",
    "initialize_parameters",
    "classification_error",
    "train_and_evaluate",
]


class CheckpointError(EvaluationError):
    """A training checkpoint to continue from is missing, unreadable or belongs to another run."""


@dataclass(frozen=True)
class TrainingOutcome:
    """Errors in [0, 1] after training, training seconds (of this call only: a continued run
    reports the time it added), epochs trained in all, validation error per epoch (all of them,
    those of the run it continued included)."""

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


def _train_subset(data: ImageData, n: int) -> ImageData:
    """``data`` with its first ``n`` training images (the fixed order of :meth:`Split.first`, so a
    larger subset contains a smaller one); EvaluationError when it has fewer."""
    if n > len(data.train):
        raise EvaluationError(f"cannot train on {n} images: the training split of {data.name} has {len(data.train)}")
    return data.subsets(n)


def train_and_evaluate(
    model: nn.Module,
    data: ImageData,
    protocol: TrainingProtocol,
    *,
    seed: int,
    device: str | torch.device | None = None,
    budget: TrainingBudget | None = None,
) -> TrainingOutcome:
    """Initialise ``model`` from ``seed``, train it on ``data.train`` and measure its errors.

    Deterministic on the CPU for a given seed and thread count: the initial weights, the order of
    the training images and the augmentation draws all come from generators seeded with ``seed``.
    The validation error is measured after every epoch (the learning curve), the test error once
    at the end. Without ``budget`` it trains ``protocol.epochs`` epochs; with one it trains to
    ``budget.epochs`` of a schedule over ``budget.max_epochs`` (``protocol.epochs`` is ignored),
    continuing from ``budget.resume`` and saving to ``budget.checkpoint`` when they are set (see
    the module doc); with ``budget.train_images`` it trains on that many first training images
    (the train-subset fidelity), ``protocol.epochs`` epochs unless ``budget.epochs`` is set.
    Raises :class:`EvaluationError` when the training loss is not finite,
    :class:`CheckpointError` when ``budget.resume`` cannot be continued from.
    """
    device = select_device(device)
    if budget is not None and budget.train_images is not None:
        data = _train_subset(data, budget.train_images)
    if budget is None or budget.epochs is None:
        epochs = horizon = protocol.epochs
    else:
        epochs, horizon = budget.epochs, budget.max_epochs
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
    per_epoch = _num_batches(len(data.train), protocol.batch_size)
    total_steps = horizon * per_epoch
    step, train_time, curve = 0, 0.0, []
    if budget is not None and budget.resume is not None:
        step, curve = _load_checkpoint(budget.resume, model, optimizer, order, seed=seed, horizon=horizon,
                                       epochs=epochs, per_epoch=per_epoch, device=device)  # fmt: skip
    for epoch in range(len(curve), epochs):
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
    if budget is not None and budget.checkpoint is not None:
        _save_checkpoint(budget.checkpoint, model, optimizer, order, seed=seed, horizon=horizon, step=step, curve=curve)
    test_error = classification_error(model, data.test, data, device, protocol.eval_batch_size)
    return TrainingOutcome(curve[-1], test_error, train_time, epochs, tuple(curve))


_CHECKPOINT_FORMAT = 1


def _save_checkpoint(
    path: str, model: nn.Module, optimizer: torch.optim.Optimizer, order: torch.Generator, *,
    seed: int, horizon: int, step: int, curve: list[float],
) -> None:
    """Write the training state to ``path`` through a temporary file (a kill never leaves half a file)."""
    state = {
        "format": _CHECKPOINT_FORMAT, "seed": int(seed), "max_epochs": int(horizon), "step": int(step),
        "curve": [float(v) for v in curve], "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "order": order.get_state(),
    }  # fmt: skip
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _load_checkpoint(
    path: str, model: nn.Module, optimizer: torch.optim.Optimizer, order: torch.Generator, *,
    seed: int, horizon: int, epochs: int, per_epoch: int, device: torch.device,
) -> tuple[int, list[float]]:
    """Load the state saved by :func:`_save_checkpoint` into ``model``, ``optimizer`` and ``order``;
    returns the step and the learning curve so far. CheckpointError when it cannot be continued."""
    try:
        state: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"cannot continue training: the checkpoint {path} does not exist") from None
    except Exception as error:  # a truncated or foreign file: unpickling, zip or torch errors
        raise CheckpointError(f"cannot continue training from {path}: {type(error).__name__}: {error}") from None
    if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT:
        raise CheckpointError(f"cannot continue training from {path}: not an hnas training checkpoint")
    expected = {"seed": seed, "max_epochs": horizon}
    for name, value in expected.items():
        if state[name] != value:
            raise CheckpointError(
                f"cannot continue training from {path}: it was saved with {name}={state[name]}, this run has {value}"
            )
    curve = list(state["curve"])
    if len(curve) > epochs or state["step"] != len(curve) * per_epoch:
        raise CheckpointError(
            f"cannot continue training from {path}: it holds {len(curve)} epochs ({state['step']} steps), "
            f"this evaluation trains to {epochs} epochs of {per_epoch} steps"
        )
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(f"cannot continue training from {path}: another network ({error})") from None
    order.set_state(state["order"])
    return int(state["step"]), curve
