"""Objectives of the DARTS space: the DARTS network of a tree trained on CIFAR-10 with DARTS's
published recipes (search proxy and final evaluation), or briefly on the offline digits task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from hnas.grammar.tree import Tree
from hnas.objectives.data import ImageData
from hnas.objectives.embedded import load_digits_task
from hnas.objectives.loaders import CIFAR10_LAYOUT, load_cifar10
from hnas.objectives.recipes import Recipe, RecipeObjective, data_folder
from hnas.semantics.darts import EVALUATION, SEARCH, NetworkSize, darts_network

__all__ = ["DARTS_DIGITS", "DARTS_SEARCH", "DARTS_EVALUATION", "FACTORIES"]

DARTS_DIGITS = Recipe(epochs=2, batch_size=64, learning_rate=0.025, momentum=0.9, weight_decay=3e-4, grad_clip=5.0)
"""Offline debug: a small DARTS network (C=8, 5 cells) for 2 epochs on digits."""

DARTS_SEARCH = Recipe(epochs=50, batch_size=64, learning_rate=0.025, min_learning_rate=0.001, momentum=0.9,
                      weight_decay=3e-4, grad_clip=5.0, crop_padding=4, flip=True)
"""DARTS's search-time training: 50 epochs, batch 64, SGD lr 0.025 cosine to 0.001, momentum 0.9,
weight decay 3e-4, gradient norm 5, flip + crop; on one half of the training set, validated on the other."""

DARTS_EVALUATION = Recipe(epochs=600, batch_size=96, learning_rate=0.025, momentum=0.9, weight_decay=3e-4,
                          grad_clip=5.0, crop_padding=4, flip=True, cutout=16, auxiliary_weight=0.4,
                          drop_path_prob=0.2)
"""DARTS's evaluation: 600 epochs, batch 96, SGD lr 0.025 cosine to 0, momentum 0.9, weight decay
3e-4, gradient norm 5, flip + crop, cutout 16, auxiliary loss weight 0.4, drop path 0.2 (raised
linearly over the epochs); trained on all 50k training images, the value is the test error."""


def _build(tree: Tree, seed: int, *, num_classes: int, in_channels: int, C: int, layers: int,
           auxiliary: bool) -> nn.Module:
    return darts_network(tree, num_classes=num_classes, in_channels=in_channels,
                         size=NetworkSize(C, layers, auxiliary), rng=np.random.default_rng(seed))


def _cifar10(name: str, data_path: str | Path | None) -> ImageData:
    return load_cifar10(data_folder(name, data_path, CIFAR10_LAYOUT))


def _objective(name: str, data: ImageData, recipe: Recipe, options: dict[str, Any], size: NetworkSize,
               final: bool = False) -> RecipeObjective:
    return RecipeObjective.create(name, data, recipe, _build, options, final=final, C=size.C, layers=size.layers,
                                  auxiliary=size.auxiliary)


FACTORIES = {
    "darts_digits": lambda data_path=None, **options: _objective(
        "darts_digits", load_digits_task(), DARTS_DIGITS, options, NetworkSize(C=8, layers=5)),
    "darts_cifar10_search": lambda data_path=None, **options: _objective(
        "darts_cifar10_search", _cifar10("darts_cifar10_search", data_path), DARTS_SEARCH, options, SEARCH),
    "darts_cifar10": lambda data_path=None, **options: _objective(
        "darts_cifar10", _cifar10("darts_cifar10", data_path), DARTS_EVALUATION, options, EVALUATION, final=True),
}
"""Objective name -> ``factory(data_path=None, **options)``."""
