"""Loaders of the benchmark datasets under ``--data_path`` (SPEC §5). Nothing is ever downloaded.

Each loader returns an :class:`ImageData` with the protocol's splits; a missing or malformed file
raises :class:`DataFileError` naming the file and the expected layout.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from hnas.objectives.data import ImageData, Split, channel_stats, fixed_permutation
from hnas.objectives.errors import DataFileError

__all__ = ["load_cifar10", "load_cifar100", "load_imagenet16_120", "load_npy_task"]

CIFAR10_LAYOUT = (
    "cifar-10-batches-py/data_batch_1 .. data_batch_5 and test_batch, pickled dicts with "
    "'data' (N x 3072 uint8 rows, 3x32x32 channel-major) and 'labels' (N ints in 0..9)"
)
CIFAR100_LAYOUT = (
    "cifar-100-python/train and test, pickled dicts with 'data' (N x 3072 uint8 rows, 3x32x32 "
    "channel-major) and 'fine_labels' (N ints in 0..99)"
)
IMAGENET16_LAYOUT = (
    "ImageNet16/train_data_batch_1 .. train_data_batch_10 and val_data, pickled dicts with "
    "'data' (N x 768 uint8 rows, 3x16x16 channel-major) and 'labels' (N ints, 1-based)"
)
NPY_LAYOUT = (
    "train_x.npy, train_y.npy, valid_x.npy, valid_y.npy, test_x.npy, test_y.npy (x: N,3,H,W "
    "float; y: N ints in 0..{last}) directly under the data path or in its subfolder {sub}/"
)

# The usual per-channel statistics (NAS-Bench-201's), in 0..255 pixel units.
CIFAR10_STATS = ((125.307, 122.961, 113.8575), (62.9932, 62.0887, 66.7048))
CIFAR100_STATS = ((129.3105, 124.1085, 112.404), (68.2125, 65.4075, 70.4055))
IMAGENET16_STATS = ((122.68, 116.66, 104.01), (63.22, 61.26, 65.09))


def _read_pickle(path: Path, layout: str) -> dict[str, object]:
    """The dict in a pickle file, keys as str (the CIFAR files are Python 2 pickles)."""
    if not path.is_file():
        raise DataFileError(f"missing data file {path}; expected {layout}")
    try:
        with path.open("rb") as file:
            content = pickle.load(file, encoding="latin1")
    except Exception as error:
        raise DataFileError(
            f"malformed data file {path} (not a readable pickle: {error}); expected {layout}"
        ) from None
    if not isinstance(content, dict):
        raise DataFileError(
            f"malformed data file {path}: holds {type(content).__name__}, not a dict; expected {layout}"
        )
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in content.items()}


def _pickled_images(
    path: Path, label_key: str, side: int, layout: str
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, side, side) uint8 and labels (N,) int64 from one pickled batch."""
    content = _read_pickle(path, layout)
    missing = [key for key in ("data", label_key) if key not in content]
    if missing:
        raise DataFileError(
            f"malformed data file {path}: no {' or '.join(map(repr, missing))} entry; expected {layout}"
        )
    try:
        data = np.asarray(content["data"])
        labels = np.asarray(content[label_key], dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise DataFileError(f"malformed data file {path}: {error}; expected {layout}") from None
    row = 3 * side * side
    if data.ndim != 2 or data.shape[1] != row or data.dtype != np.uint8:
        raise DataFileError(
            f"malformed data file {path}: 'data' is {data.dtype} of shape {data.shape}, "
            f"not uint8 rows of {row}; expected {layout}"
        )
    if labels.shape != (len(data),):
        raise DataFileError(
            f"malformed data file {path}: {len(data)} images but {labels.size} labels; expected {layout}"
        )
    return data.reshape(-1, 3, side, side), labels


def _check_labels(path: Path, labels: np.ndarray, low: int, high: int, layout: str) -> None:
    if labels.size and (labels.min() < low or labels.max() > high):
        raise DataFileError(
            f"malformed data file {path}: labels {labels.min()}..{labels.max()} outside "
            f"{low}..{high}; expected {layout}"
        )


def _split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))


def _halves(split: Split) -> tuple[Split, Split]:
    """A fixed random half/half partition of a split."""
    order = fixed_permutation(len(split))
    half = len(split) // 2
    return split.take(np.sort(order[:half])), split.take(np.sort(order[half:]))


def _pickled_split(
    paths: list[Path], label_key: str, side: int, low: int, high: int, layout: str
) -> Split:
    xs, ys = [], []
    for path in paths:
        x, y = _pickled_images(path, label_key, side, layout)
        _check_labels(path, y, low, high, layout)
        xs.append(x)
        ys.append(y)
    return _split(np.concatenate(xs), np.concatenate(ys))


def load_cifar10(data_path: str | Path) -> ImageData:
    """CIFAR-10: train on a fixed half of the 50k training images, validate on the other half,
    test on the test batch (NAS-Bench-201's ``cifar10-valid`` setting)."""
    root = Path(data_path) / "cifar-10-batches-py"
    full = _pickled_split(
        [root / f"data_batch_{i}" for i in range(1, 6)], "labels", 32, 0, 9, CIFAR10_LAYOUT
    )
    test = _pickled_split([root / "test_batch"], "labels", 32, 0, 9, CIFAR10_LAYOUT)
    train, valid = _halves(full)
    return ImageData("cifar10", train, valid, test, 10, *CIFAR10_STATS)


def load_cifar100(data_path: str | Path) -> ImageData:
    """CIFAR-100 (fine labels): train on the 50k training images, validate on a fixed half of the
    test set, test on the other half."""
    root = Path(data_path) / "cifar-100-python"
    train = _pickled_split([root / "train"], "fine_labels", 32, 0, 99, CIFAR100_LAYOUT)
    valid, test = _halves(_pickled_split([root / "test"], "fine_labels", 32, 0, 99, CIFAR100_LAYOUT))
    return ImageData("cifar100", train, valid, test, 100, *CIFAR100_STATS)


def _imagenet16_split(paths: list[Path]) -> Split:
    """Images of classes 1..120 (of 1..1000), relabelled 0..119."""
    xs, ys = [], []
    for path in paths:
        x, y = _pickled_images(path, "labels", 16, IMAGENET16_LAYOUT)
        _check_labels(path, y, 1, 1000, IMAGENET16_LAYOUT)
        keep = y <= 120
        xs.append(x[keep])
        ys.append(y[keep] - 1)
    return _split(np.concatenate(xs), np.concatenate(ys))


def load_imagenet16_120(data_path: str | Path) -> ImageData:
    """ImageNet16-120: train on the training batches, validate on a fixed half of ``val_data``,
    test on the other half; only the first 120 classes are kept."""
    root = Path(data_path) / "ImageNet16"
    train = _imagenet16_split([root / f"train_data_batch_{i}" for i in range(1, 11)])
    valid, test = _halves(_imagenet16_split([root / "val_data"]))
    return ImageData("ImageNet16-120", train, valid, test, 120, *IMAGENET16_STATS)


def _npy_array(path: Path, layout: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as error:
        raise DataFileError(
            f"malformed data file {path} (not a readable .npy array: {error}); expected {layout}"
        ) from None


def load_npy_task(data_path: str | Path, name: str, subfolder: str, num_classes: int) -> ImageData:
    """A task stored as ``{train,valid,test}_{x,y}.npy`` (CIFARTile, AddNIST), used as given.

    The files lie directly under ``data_path`` or in ``data_path/subfolder``. Images are
    normalised with the per-channel statistics of the training images.
    """
    layout = NPY_LAYOUT.format(last=num_classes - 1, sub=subfolder)
    candidates = [Path(data_path), Path(data_path) / subfolder]
    root = next((c for c in candidates if (c / "train_x.npy").is_file()), None)
    if root is None:
        raise DataFileError(
            f"missing data file {candidates[0] / 'train_x.npy'} (nor {candidates[1] / 'train_x.npy'}); "
            f"expected {layout}"
        )
    splits = []
    for split_name in ("train", "valid", "test"):
        x_path, y_path = root / f"{split_name}_x.npy", root / f"{split_name}_y.npy"
        for path in (x_path, y_path):
            if not path.is_file():
                raise DataFileError(f"missing data file {path}; expected {layout}")
        x, y = _npy_array(x_path, layout), _npy_array(y_path, layout)
        if x.ndim != 4 or x.shape[1] != 3 or not np.issubdtype(x.dtype, np.number):
            raise DataFileError(
                f"malformed data file {x_path}: {x.dtype} array of shape {x.shape}, not N,3,H,W "
                f"numbers; expected {layout}"
            )
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise DataFileError(
                f"malformed data file {y_path}: {y.dtype} array of shape {y.shape}, not {len(x)} "
                f"ints; expected {layout}"
            )
        _check_labels(y_path, y, 0, num_classes - 1, layout)
        splits.append(_split(x.astype(np.float32, copy=False), y.astype(np.int64)))
    train = splits[0]
    for split_name, split in zip(("valid", "test"), splits[1:]):
        if split.x.shape[1:] != train.x.shape[1:]:
            raise DataFileError(
                f"malformed data file {root / f'{split_name}_x.npy'}: images "
                f"{tuple(split.x.shape[1:])}, train images {tuple(train.x.shape[1:])}; expected {layout}"
            )
    return ImageData(name, *splits, num_classes, *channel_stats(train.x))
