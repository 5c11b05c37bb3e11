"""Published training recipes beyond the cosine protocols of :mod:`hnas.objectives.training`:
step budgets, multi-step schedules, cutout, gradient clipping, auxiliary heads, drop path and
early stopping, as the activation-function search (ResNet-20) and DARTS train their networks.

:class:`RecipeObjective` compiles a tree with a space-specific ``build`` function, trains it with
a :class:`Recipe` and reports the validation error (or, for a final evaluation, the test error).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hnas.grammar.tree import Tree
from hnas.objectives.augment import random_flip_crop
from hnas.objectives.data import ImageData, Split
from hnas.objectives.errors import EvaluationError, ObjectiveError
from hnas.objectives.objective import Objective
from hnas.objectives.result import EvaluationResult
from hnas.objectives.protocols import TrainingProtocol
from hnas.objectives.training import _num_batches, classification_error, select_device, torch_generator
from hnas.semantics import count_flops, count_parameters

__all__ = ["Recipe", "RecipeObjective", "cutout", "train_recipe", "checked_options", "data_folder"]


@dataclass(frozen=True)
class Recipe(TrainingProtocol):
    """A :class:`TrainingProtocol` with more knobs. ``steps`` > 0: train that many batches (then
    ``epochs`` is ignored). ``schedule``: ``cosine`` (per step, from ``learning_rate`` to
    ``min_learning_rate``) or ``multistep`` (times 0.1 at each ``milestones`` fraction of the
    steps). ``cutout``: side of the square zeroed at a random position of each normalised training
    image (0: off). ``grad_clip``: gradient norm bound (0: off). ``auxiliary_weight``: weight of the
    loss of a network's auxiliary logits (a network that returns ``(logits, aux)`` in training
    mode). ``drop_path_prob``: set on the network (attribute ``drop_path_prob``) as
    ``p * epoch / epochs`` at the start of each epoch, as DARTS does. ``early_stop_step`` > 0: after
    that many steps, stop when the validation error exceeds ``early_stop_error``."""

    steps: int = 0
    schedule: str = "cosine"
    min_learning_rate: float = 0.0
    milestones: tuple[float, ...] = ()
    cutout: int = 0
    grad_clip: float = 0.0
    auxiliary_weight: float = 0.0
    drop_path_prob: float = 0.0
    early_stop_step: int = 0
    early_stop_error: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "cutout", "early_stop_step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ObjectiveError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("min_learning_rate", "grad_clip", "auxiliary_weight", "drop_path_prob", "early_stop_error"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ObjectiveError(f"{name} must be a number >= 0, got {value!r}")
        if self.schedule not in ("cosine", "multistep"):
            raise ObjectiveError(f"schedule must be cosine or multistep, got {self.schedule!r}")
        if self.drop_path_prob >= 1:
            raise ObjectiveError(f"drop_path_prob must be below 1, got {self.drop_path_prob!r}")

    def learning_rate_at(self, step: int, total: int) -> float:
        if self.schedule == "multistep":
            return self.learning_rate * 0.1 ** sum(step >= m * total for m in self.milestones)
        low = self.min_learning_rate
        return low + 0.5 * (self.learning_rate - low) * (1.0 + math.cos(math.pi * step / total))


def cutout(x: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """Zero a ``length`` x ``length`` square (clipped at the border) centred at a uniformly random
    pixel of each image of the batch ``x`` (DeVries & Taylor 2017, as DARTS applies it)."""
    n, _, h, w = x.shape
    centres = torch.stack([torch.randint(0, h, (n,), generator=generator),
                           torch.randint(0, w, (n,), generator=generator)]).to(x.device)
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    half = length // 2
    in_rows = (rows >= centres[0][:, None] - half) & (rows < centres[0][:, None] - half + length)
    in_cols = (cols >= centres[1][:, None] - half) & (cols < centres[1][:, None] - half + length)
    square = in_rows[:, :, None] & in_cols[:, None, :]
    return x * (~square)[:, None].to(x.dtype)


def train_recipe(
    model: nn.Module, train: Split, data: ImageData, recipe: Recipe, *, seed: int, device: torch.device,
    valid: Split | None = None,
) -> tuple[float, int, bool]:
    """Train ``model`` on ``train`` (normalised as ``data`` says); returns (seconds, epochs run,
    whether it stopped early). Deterministic for a seed on the CPU (drop path draws from torch's
    global generator, seeded from ``seed`` inside a forked RNG state)."""
    rng = np.random.default_rng(seed)
    order = torch_generator(rng)
    per_epoch = _num_batches(len(train), recipe.batch_size)
    total = recipe.steps or recipe.epochs * per_epoch
    epochs = -(-total // per_epoch)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.learning_rate, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    step, elapsed, stopped = 0, 0.0, False
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(rng.integers(2**63 - 1)))
        for epoch in range(epochs):
            start = time.perf_counter()
            if hasattr(model, "drop_path_prob"):
                model.drop_path_prob = recipe.drop_path_prob * epoch / epochs
            model.train()
            batches = torch.randperm(len(train), generator=order).split(recipe.batch_size)[:per_epoch]
            for index in batches[: total - step]:
                x = train.x[index].to(device, torch.float32)
                if recipe.flip or recipe.crop_padding:
                    x = random_flip_crop(x, padding=recipe.crop_padding, flip=recipe.flip, generator=order)
                x = data.normalize(x)
                if recipe.cutout:
                    x = cutout(x, recipe.cutout, order)
                y = train.y[index].to(device)
                for group in optimizer.param_groups:
                    group["lr"] = recipe.learning_rate_at(step, total)
                out = model(x)
                if isinstance(out, tuple):
                    loss = F.cross_entropy(out[0], y) + recipe.auxiliary_weight * F.cross_entropy(out[1], y)
                else:
                    loss = F.cross_entropy(out, y)
                if not torch.isfinite(loss):
                    raise EvaluationError(f"training loss became {loss.item()} at step {step + 1}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if recipe.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
                optimizer.step()
                step += 1
                if valid is not None and step == recipe.early_stop_step:
                    error = classification_error(model, valid, data, device, recipe.eval_batch_size)
                    model.train()
                    if error > recipe.early_stop_error:
                        stopped = True
                        break
            elapsed += time.perf_counter() - start
            if stopped or step >= total:
                return elapsed, epoch + 1, stopped
    return elapsed, epochs, stopped


def data_folder(objective: str, data_path: str | Path | None, layout: str) -> Path:
    """``data_path`` as a folder; a clear error when it is missing or not a folder."""
    if data_path is None:
        raise ObjectiveError(f"objective {objective} needs a data path (--data_path) holding {layout}")
    if not Path(data_path).is_dir():
        raise ObjectiveError(f"data path {data_path} is not a folder; objective {objective} expects it to hold {layout}")
    return Path(data_path)


_EXTRA_OPTIONS = {"train_subset": 0, "eval_subset": 0, "device": ""}


def checked_options(objective: str, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked against ``defaults`` (unknown names are an error) and converted to the
    type of each default (command lines give strings); None values are dropped."""
    result = {}
    for name, value in options.items():
        if value is None:
            continue
        if name not in defaults:
            raise ObjectiveError(f"objective {objective} has no option {name}; options: {', '.join(sorted(defaults))}")
        kind = type(defaults[name])
        if isinstance(value, str) and kind is not str:
            try:
                if kind is bool:
                    if value.lower() not in ("true", "1", "yes", "false", "0", "no"):
                        raise ValueError(value)
                    value = value.lower() in ("true", "1", "yes")
                elif kind is tuple:
                    value = tuple(float(v) for v in value.split(",") if v)
                else:
                    value = kind(value)
            except ValueError:
                raise ObjectiveError(f"option {name} of objective {objective} must be {kind.__name__}, "
                                     f"got {value!r}") from None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        result[name] = value
    return result


class RecipeObjective(Objective):
    """Trains ``build(tree, seed, **build_options)`` with ``recipe`` on ``data.train``; the value is
    the validation error, or the test error when ``final`` (a final evaluation, which trains on
    training and validation images together). The test error is recorded either way."""

    def __init__(self, name: str, data: ImageData, recipe: Recipe,
                 build: Callable[..., nn.Module], *, final: bool = False, device: str | None = None,
                 **build_options: Any) -> None:
        self.name, self.data, self.recipe, self.final = name, data, recipe, final
        self.num_classes, self.input_shape = data.num_classes, data.input_shape
        self._build, self.build_options = build, build_options
        self.device = select_device(device or None)

    @classmethod
    def create(cls, name: str, data: ImageData, recipe: Recipe, build: Callable[..., nn.Module],
               options: Mapping[str, Any], *, final: bool = False, **build_defaults: Any) -> RecipeObjective:
        """The objective with ``options`` applied: :class:`Recipe` fields, ``train_subset``,
        ``eval_subset``, ``device`` and the build options whose defaults are ``build_defaults``."""
        recipe_fields = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(Recipe)}
        options = checked_options(name, options, {**recipe_fields, **_EXTRA_OPTIONS, **build_defaults})
        recipe = dataclasses.replace(recipe, **{k: v for k, v in options.items() if k in recipe_fields})
        data = data.subsets(options.get("train_subset") or None, options.get("eval_subset") or None)
        build_options = {**build_defaults, **{k: v for k, v in options.items() if k in build_defaults}}
        return cls(name, data, recipe, build, final=final, device=options.get("device"), **build_options)

    def build(self, tree: Tree, seed: int = 0) -> nn.Module:
        return self._build(tree, seed, num_classes=self.num_classes, in_channels=self.input_shape[0],
                           **self.build_options)

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        model = self.build(tree, seed)
        params, flops = count_parameters(model), float(count_flops(model, self.input_shape))
        train = self.data.train
        if self.final:
            train = Split(torch.cat([train.x, self.data.valid.x]), torch.cat([train.y, self.data.valid.y]))
        seconds, epochs, stopped = train_recipe(model, train, self.data, self.recipe, seed=seed,
                                                device=self.device, valid=None if self.final else self.data.valid)
        batch = self.recipe.eval_batch_size
        test = classification_error(model, self.data.test, self.data, self.device, batch)
        value = test if self.final else classification_error(model, self.data.valid, self.data, self.device, batch)
        return EvaluationResult(val_error=value, test_error=test, params=params, flops=flops, train_time=seconds,
                                epochs=epochs, extras={"early_stopped": float(stopped)})
