"""Writers of small data files in exactly the benchmark layouts (real pickles, real .npy)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def _pickle(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        pickle.dump(content, file)


def images(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    """``n`` uint8 rows of 3 x side x side pixels, channel-major, as in the CIFAR pickles."""
    return rng.integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def write_cifar10(root: Path, per_batch: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """cifar-10-batches-py/data_batch_1..5 and test_batch; returns the training rows and labels."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, y = images(rng, per_batch, 32), rng.integers(0, 10, per_batch).tolist()
        _pickle(root / "cifar-10-batches-py" / name, {"batch_label": name, "data": data, "labels": y})
        if name != "test_batch":
            rows.append(data)
            labels += y
    return {"data": np.concatenate(rows), "labels": np.array(labels)}


def write_cifar100(root: Path, n_train: int = 24, n_test: int = 10, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for name, n in (("train", n_train), ("test", n_test)):
        _pickle(root / "cifar-100-python" / name, {
            "data": images(rng, n, 32),
            "fine_labels": rng.integers(0, 100, n).tolist(),
            "coarse_labels": rng.integers(0, 20, n).tolist(),
        })


def write_imagenet16(root: Path, per_batch: int = 6, n_val: int = 12, seed: int = 0) -> None:
    """Labels 1..1000, about a third of them within 1..120."""
    rng = np.random.default_rng(seed)
    names = [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]
    for name in names:
        n = n_val if name == "val_data" else per_batch
        labels = np.where(np.arange(n) % 3 == 2, rng.integers(121, 1001, n), rng.integers(1, 121, n))
        _pickle(root / "ImageNet16" / name, {"data": images(rng, n, 16), "labels": labels.tolist()})


def write_npy_task(
    folder: Path, num_classes: int, side: int, sizes: tuple[int, int, int] = (16, 8, 8), seed: int = 0
) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "valid", "test"), sizes):
        np.save(folder / f"{split}_x.npy", rng.normal(size=(n, 3, side, side)).astype(np.float32))
        np.save(folder / f"{split}_y.npy", rng.integers(0, num_classes, n).astype(np.int64))
