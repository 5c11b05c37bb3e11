"""In-memory image classification data: train / validation / test splits and their normalisation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hnas.objectives.errors import ObjectiveError

__all__ = ["Split", "ImageData", "channel_stats", "fixed_permutation"]

SUBSET_SEED = 0
"""Seed of the fixed permutations behind splits and subsets: every evaluation sees the same images."""


def fixed_permutation(n: int) -> np.ndarray:
    """A permutation of ``range(n)`` that is the same in every run (seeded with :data:`SUBSET_SEED`)."""
    return np.random.default_rng(SUBSET_SEED).permutation(n)


@dataclass(frozen=True)
class Split:
    """Images ``x`` (N, C, H, W), uint8 or float, in raw units, and int64 labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def take(self, indices: np.ndarray) -> Split:
        index = torch.as_tensor(indices, dtype=torch.long)
        return Split(self.x[index], self.y[index])

    def first(self, n: int | None) -> Split:
        """A fixed random subset of ``n`` images (all of them when ``n`` is None or too large)."""
        if n is None or n >= len(self):
            return self
        return self.take(np.sort(fixed_permutation(len(self))[:n]))


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of images (N, C, H, W), in their own units.

    Accumulated in float64 over chunks of images, so large float32 arrays need no float64 copy.
    """
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for start in range(0, len(x), chunk):
        part = x[start : start + chunk].to(torch.float64)
        total += part.sum(dim=(0, 2, 3))
        squares += part.square().sum(dim=(0, 2, 3))
    count = len(x) * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1e-8)
    return tuple(mean.tolist()), tuple(std.tolist())


@dataclass(frozen=True)
class ImageData:
    """A classification task: three splits, the number of classes and the normalisation.

    ``mean`` and ``std`` are per channel in the units of ``x`` (e.g. 0..255 for uint8 pixels);
    :meth:`normalize` turns a raw batch into float32 network input.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        shape = None
        for split_name in ("train", "valid", "test"):
            split = getattr(self, split_name)
            x, y = split.x, split.y
            if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
                raise ObjectiveError(
                    f"{self.name}: {split_name} split needs images (N, C, H, W) and labels (N,), "
                    f"got {tuple(x.shape)} and {tuple(y.shape)}"
                )
            if len(y) == 0:
                raise ObjectiveError(f"{self.name}: the {split_name} split is empty")
            if shape is not None and tuple(x.shape[1:]) != shape:
                raise ObjectiveError(
                    f"{self.name}: {split_name} images are {tuple(x.shape[1:])}, train images {shape}"
                )
            shape = tuple(x.shape[1:])
            low, high = int(y.min()), int(y.max())
            if low < 0 or high >= self.num_classes:
                raise ObjectiveError(
                    f"{self.name}: {split_name} labels must lie in 0..{self.num_classes - 1}, "
                    f"found {low}..{high}"
                )
        if not len(self.mean) == len(self.std) == shape[0]:
            raise ObjectiveError(f"{self.name}: need one mean and std per channel ({shape[0]})")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.x.shape[1:]
        return int(c), int(h), int(w)

    def subsets(self, train: int | None = None, evaluation: int | None = None) -> ImageData:
        """The same task on fixed random subsets: ``train`` training images, ``evaluation``
        validation and test images each (None: all)."""
        for what, n in (("train_subset", train), ("eval_subset", evaluation)):
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                raise ObjectiveError(f"{what} must be a positive integer, got {n!r}")
        return ImageData(
            self.name, self.train.first(train), self.valid.first(evaluation),
            self.test.first(evaluation), self.num_classes, self.mean, self.std,
        )

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Float32 network input from a raw batch on any device."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device)[:, None, None]
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device)[:, None, None]
        return (x.to(torch.float32) - mean) / std
