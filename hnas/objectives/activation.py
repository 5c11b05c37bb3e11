"""Objectives of the activation-function space: a network with the tree's activation in place of
ReLU, trained on the offline digits task or on CIFAR-10 with the paper's protocol."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hnas.grammar.tree import Tree
from hnas.objectives.data import ImageData, Split
from hnas.objectives.embedded import load_digits_task
from hnas.objectives.loaders import CIFAR10_LAYOUT, load_cifar10
from hnas.objectives.recipes import Recipe, RecipeObjective, data_folder
from hnas.semantics.activation import activation_network

__all__ = ["ACTIVATION_DIGITS", "ACTIVATION_CIFAR10", "FACTORIES", "balanced_split"]

ACTIVATION_DIGITS = Recipe(epochs=6, batch_size=64, learning_rate=0.05, momentum=0.9, weight_decay=5e-4,
                           nesterov=True)
"""Offline: the small network (conv16 - conv32/2 - pool - linear) on digits, seconds per evaluation."""

ACTIVATION_CIFAR10 = Recipe(epochs=1, steps=64000, batch_size=128, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
                            schedule="multistep", milestones=(0.5, 0.75), crop_padding=4, flip=True,
                            early_stop_step=10000, early_stop_error=0.4)
"""The paper's protocol: ResNet-20, 64k SGD steps of 128 images, lr 0.1 divided by 10 after 32k and
48k steps, weight decay 1e-4, flip + crop; stop after 10k steps when the validation error > 0.4."""


def _build(tree: Tree, seed: int, *, num_classes: int, in_channels: int, network: str) -> nn.Module:
    return activation_network(tree, num_classes=num_classes, in_channels=in_channels, network=network,
                              rng=np.random.default_rng(seed))


def balanced_split(split: Split, fraction: float = 0.1) -> tuple[Split, Split]:
    """``(rest, held_out)``: the first ``fraction`` of the images of each class (in order) held out."""
    labels = split.y.numpy()
    held = np.concatenate([np.flatnonzero(labels == c)[: math.floor(fraction * np.sum(labels == c) + 1e-9)]
                           for c in np.unique(labels)])
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return split.take(np.flatnonzero(~mask)), split.take(np.sort(held))


def _cifar10_45k_5k(data_path: str | Path | None) -> ImageData:
    data = load_cifar10(data_folder("activation_cifar10", data_path, CIFAR10_LAYOUT))
    pool = Split(torch.cat([data.train.x, data.valid.x]), torch.cat([data.train.y, data.valid.y]))
    train, valid = balanced_split(pool)
    return ImageData("cifar10", train, valid, data.test, data.num_classes, data.mean, data.std)


def _objective(name: str, data: ImageData, recipe: Recipe, options: dict[str, Any], network: str) -> RecipeObjective:
    if "epochs" in options and "steps" not in options:
        options = {**options, "steps": 0}  # --epochs replaces the step budget
    return RecipeObjective.create(name, data, recipe, _build, options, network=network)


FACTORIES = {
    "activation_digits": lambda data_path=None, **options: _objective(
        "activation_digits", load_digits_task(), ACTIVATION_DIGITS, options, "small"),
    "activation_cifar10": lambda data_path=None, **options: _objective(
        "activation_cifar10", _cifar10_45k_5k(data_path), ACTIVATION_CIFAR10, options, "resnet20"),
}
"""Objective name -> ``factory(data_path=None, **options)``."""
