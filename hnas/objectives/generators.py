"""Generators of the paper's two composed datasets (the CVPR 2021 NAS Unseen-Data challenge) from
the source files the user gives, written in the ``.npy`` layout that ``nb201_cifarTile`` and
``nb201_addNIST`` read (:func:`hnas.objectives.loaders.load_npy_task`). Nothing is downloaded.

- **CIFARTile** (:func:`make_cifartile`): four CIFAR-10 images tiled 2x2 into a 3x64x64 image;
  label = number of distinct CIFAR-10 classes among the four, minus 1 (0..3).
- **AddNIST** (:func:`make_addnist`): three MNIST digits as the three channels of a 3x28x28 image;
  label = (sum of the three digits) - 1, for sums 1..20 (20 classes, 0..19), as published.

As published, classes are balanced (counts differ by at most one), the training and validation
images are composed from disjoint parts of the source training set (3:1 in every class) and the test images from
the source test set. The default sizes are the published ones (45,000 / 15,000 / 10,000). Pixels
stay uint8 (the loaders normalise with the training images' channel statistics). The same seed
gives the same files.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hnas.objectives.errors import DataFileError
from hnas.objectives.loaders import CIFAR10_LAYOUT, _pickled_split

__all__ = [
    "PUBLISHED_SIZES",
    "CIFARTILE_CLASSES",
    "ADDNIST_CLASSES",
    "MNIST_LAYOUT",
    "read_cifar10",
    "read_mnist",
    "make_cifartile",
    "make_addnist",
    "write_npy_task",
]

PUBLISHED_SIZES = (45_000, 15_000, 10_000)
"""Images in the training, validation and test split of both published datasets."""
CIFARTILE_CLASSES = 4
ADDNIST_CLASSES = 20
VALID_FRACTION = 0.25
"""The share of the source training images kept for composing validation images."""

MNIST_LAYOUT = (
    "the MNIST idx files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    "t10k-labels-idx1-ubyte (each optionally .gz), or mnist.npz with x_train, y_train, x_test, y_test"
)

Pool = tuple[np.ndarray, np.ndarray]
"""Source images (N, ...) uint8 and their labels (N,)."""


def read_cifar10(source: str | Path) -> tuple[Pool, Pool]:
    """The CIFAR-10 training and test images (N, 3, 32, 32) uint8 with labels, from
    ``source/cifar-10-batches-py`` (or ``source`` itself holding the batches)."""
    root = Path(source)
    if not (root / "data_batch_1").is_file() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    train = _pickled_split([root / f"data_batch_{i}" for i in range(1, 6)], "labels", 32, 0, 9, CIFAR10_LAYOUT)
    test = _pickled_split([root / "test_batch"], "labels", 32, 0, 9, CIFAR10_LAYOUT)
    return (train.x.numpy(), train.y.numpy()), (test.x.numpy(), test.y.numpy())


def _idx_file(root: Path, name: str) -> Path:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataFileError(f"missing data file {root / name} (nor {name}.gz); expected {MNIST_LAYOUT}")


def _read_idx(path: Path, dims: int) -> np.ndarray:
    """An idx array of unsigned bytes with ``dims`` dimensions (LeCun's MNIST format)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            content = file.read()
    except OSError as error:
        raise DataFileError(f"malformed data file {path} ({error}); expected {MNIST_LAYOUT}") from None
    header = 4 + 4 * dims
    if len(content) < header or content[:4] != bytes([0, 0, 0x08, dims]):
        raise DataFileError(
            f"malformed data file {path}: not an idx file of unsigned bytes with {dims} dimension(s); "
            f"expected {MNIST_LAYOUT}"
        )
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(content) - header != int(np.prod(shape)):
        raise DataFileError(
            f"malformed data file {path}: header says {shape} but it holds {len(content) - header} bytes; "
            f"expected {MNIST_LAYOUT}"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def _mnist_pool(images: np.ndarray, labels: np.ndarray, where: str) -> Pool:
    labels = np.asarray(labels).astype(np.int64)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (len(images),):
        raise DataFileError(
            f"malformed MNIST data in {where}: images {images.shape}, labels {labels.shape}, not "
            f"N x 28 x 28 and N; expected {MNIST_LAYOUT}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataFileError(f"malformed MNIST data in {where}: labels outside 0..9; expected {MNIST_LAYOUT}")
    return np.asarray(images, dtype=np.uint8), labels


def read_mnist(source: str | Path) -> tuple[Pool, Pool]:
    """The MNIST training and test digits (N, 28, 28) uint8 with labels, from the idx files in the
    folder ``source`` or from an ``.npz`` file (``source`` itself or ``source/mnist.npz``)."""
    source = Path(source)
    npz = source if source.suffix == ".npz" else source / "mnist.npz"
    if npz.is_file():
        try:
            with np.load(npz, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
        except (OSError, ValueError, KeyError) as error:
            raise DataFileError(f"malformed data file {npz} ({error}); expected {MNIST_LAYOUT}") from None
        return (
            _mnist_pool(arrays["x_train"], arrays["y_train"], str(npz)),
            _mnist_pool(arrays["x_test"], arrays["y_test"], str(npz)),
        )
    pools = []
    for prefix in ("train", "t10k"):
        images = _read_idx(_idx_file(source, f"{prefix}-images-idx3-ubyte"), 3)
        labels = _read_idx(_idx_file(source, f"{prefix}-labels-idx1-ubyte"), 1)
        pools.append(_mnist_pool(images, labels, str(source)))
    return pools[0], pools[1]


def _balanced_labels(n: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` labels in random order, each class ``n // classes`` or one more times."""
    return rng.permutation(np.arange(n) % classes)


def _by_class(pool: Pool, classes: int, what: str) -> list[np.ndarray]:
    indices = [np.flatnonzero(pool[1] == c) for c in range(classes)]
    missing = [c for c, idx in enumerate(indices) if len(idx) == 0]
    if missing:
        raise DataFileError(f"the {what} images have no image of class {', '.join(map(str, missing))}")
    return indices


def _split_pool(pool: Pool, rng: np.random.Generator) -> tuple[Pool, Pool]:
    """A random 3:1 partition of the source training images (training, validation), class by class."""
    train, valid = [], []
    for label in np.unique(pool[1]):
        members = rng.permutation(np.flatnonzero(pool[1] == label))
        cut = len(members) - int(round(VALID_FRACTION * len(members)))
        train.append(members[:cut])
        valid.append(members[cut:])
    parts = [np.sort(np.concatenate(part)) for part in (train, valid)]
    return (pool[0][parts[0]], pool[1][parts[0]]), (pool[0][parts[1]], pool[1][parts[1]])


def _tiles(pool: Pool, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` CIFARTile images from ``pool`` (N, 3, 32, 32) and their labels."""
    by_class = _by_class(pool, 10, "CIFAR-10")
    labels = _balanced_labels(n, CIFARTILE_CLASSES, rng)
    images = np.empty((n, 3, 64, 64), dtype=np.uint8)
    for i, label in enumerate(labels):
        chosen = rng.choice(10, size=label + 1, replace=False)
        while True:  # a uniform assignment of the 4 tiles that uses every chosen class
            tile_classes = chosen[rng.integers(0, label + 1, size=4)]
            if len(np.unique(tile_classes)) == label + 1:
                break
        tiles = [pool[0][rng.choice(by_class[c])] for c in tile_classes]
        images[i, :, :32, :32], images[i, :, :32, 32:], images[i, :, 32:, :32], images[i, :, 32:, 32:] = tiles
    return images, labels.astype(np.int64)


_SUMS = {s: [t for t in itertools.product(range(10), repeat=3) if sum(t) == s] for s in range(1, ADDNIST_CLASSES + 1)}
"""The digit triples (r, g, b) of each sum 1..20."""


def _additions(pool: Pool, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` AddNIST images from ``pool`` (N, 28, 28) and their labels."""
    by_class = _by_class(pool, 10, "MNIST")
    labels = _balanced_labels(n, ADDNIST_CLASSES, rng)
    images = np.empty((n, 3, 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        triples = _SUMS[label + 1]
        digits = triples[rng.integers(len(triples))]
        images[i] = [pool[0][rng.choice(by_class[d])] for d in digits]
    return images, labels.astype(np.int64)


def _make(
    train: Pool, test: Pool, compose: Callable[[Pool, int, np.random.Generator], tuple[np.ndarray, np.ndarray]],
    sizes: tuple[int, int, int], seed: int,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    if len(sizes) != 3 or any(int(n) < 1 for n in sizes):
        raise ValueError(f"sizes must be three positive image counts (train, valid, test), got {sizes}")
    rng = np.random.default_rng(seed)
    train_pool, valid_pool = _split_pool(train, rng)
    pools = {"train": train_pool, "valid": valid_pool, "test": test}
    return {split: compose(pools[split], int(n), rng) for split, n in zip(pools, sizes)}


def make_cifartile(
    source: str | Path, sizes: tuple[int, int, int] = PUBLISHED_SIZES, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """CIFARTile splits ``{"train"|"valid"|"test": (x, y)}`` from the CIFAR-10 pickles under ``source``."""
    train, test = read_cifar10(source)
    return _make(train, test, _tiles, sizes, seed)


def make_addnist(
    source: str | Path, sizes: tuple[int, int, int] = PUBLISHED_SIZES, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """AddNIST splits ``{"train"|"valid"|"test": (x, y)}`` from the MNIST files at ``source``."""
    train, test = read_mnist(source)
    return _make(train, test, _additions, sizes, seed)


def write_npy_task(splits: dict[str, tuple[np.ndarray, np.ndarray]], folder: str | Path) -> list[Path]:
    """Write ``{split}_x.npy`` and ``{split}_y.npy`` of every split into ``folder`` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, (x, y) in splits.items():
        for suffix, array in (("x", x), ("y", y)):
            path = folder / f"{split}_{suffix}.npy"
            np.save(path, array)
            paths.append(path)
    return paths
