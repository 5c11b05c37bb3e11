"""CIFARTile and AddNIST composed from fabricated CIFAR-10 pickles and MNIST idx / npz files whose
every source image has a pixel value of its own, so each tile / channel of a composed image tells
which source image it came from; the result loads with the objectives' loaders."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from hnas.cli import main
from hnas.objectives import DataFileError, get_objective, load_task
from hnas.objectives.generators import make_addnist, make_cifartile, write_npy_task

SIZES = (40, 20, 12)


def fake_cifar10(root: Path, per_batch: int = 20, n_test: int = 20) -> None:
    """Training image i (0..99) is filled with the value i, test image i with 100 + i; label i % 10."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = [(f"data_batch_{b + 1}", range(b * per_batch, (b + 1) * per_batch)) for b in range(5)]
    for name, ids in batches + [("test_batch", range(100, 100 + n_test))]:
        data = np.repeat(np.array(ids, dtype=np.uint8)[:, None], 3072, axis=1)
        with open(folder / name, "wb") as file:
            pickle.dump({"data": data, "labels": [i % 10 for i in ids]}, file)


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def mnist_arrays(n_train: int = 60, n_test: int = 30) -> dict[str, np.ndarray]:
    """Digit image i is filled with i + 1 (test: 101 + i); label i % 10."""
    return {
        "x_train": np.repeat(np.arange(1, n_train + 1, dtype=np.uint8), 784).reshape(n_train, 28, 28),
        "y_train": np.arange(n_train) % 10,
        "x_test": np.repeat(np.arange(101, 101 + n_test, dtype=np.uint8), 784).reshape(n_test, 28, 28),
        "y_test": np.arange(n_test) % 10,
    }


def fake_mnist_idx(root: Path) -> None:
    """train-* gzipped, t10k-* plain, as both occur."""
    arrays = mnist_arrays()
    root.mkdir(parents=True)
    for prefix, key in (("train", "train"), ("t10k", "test")):
        opener = gzip.open if prefix == "train" else open
        suffix = ".gz" if prefix == "train" else ""
        with opener(root / f"{prefix}-images-idx3-ubyte{suffix}", "wb") as file:
            file.write(idx_bytes(arrays[f"x_{key}"]))
        with opener(root / f"{prefix}-labels-idx1-ubyte{suffix}", "wb") as file:
            file.write(idx_bytes(arrays[f"y_{key}"]))


def test_cifartile_tiles_four_source_images_and_labels_distinct_classes_minus_one(tmp_path):
    fake_cifar10(tmp_path)
    splits = make_cifartile(tmp_path, sizes=SIZES, seed=1)
    used = {}
    for split, n in zip(("train", "valid", "test"), SIZES):
        x, y = splits[split]
        assert x.shape == (n, 3, 64, 64) and x.dtype == np.uint8 and y.dtype == np.int64
        assert np.bincount(y, minlength=4).tolist() == [n // 4 + (k < n % 4) for k in range(4)]
        sources = set()
        for image, label in zip(x, y):
            tiles = [image[:, :32, :32], image[:, :32, 32:], image[:, 32:, :32], image[:, 32:, 32:]]
            ids = [int(t.flat[0]) for t in tiles]
            assert all((t == i).all() for t, i in zip(tiles, ids))  # each tile is one whole source image
            assert label == len({i % 10 for i in ids}) - 1  # source image i has class i % 10
            sources.update(ids)
        used[split] = sources
    assert all(i >= 100 for i in used["test"]) and all(i < 100 for i in used["train"] | used["valid"])
    assert not used["train"] & used["valid"]  # validation tiles come from unseen training images


def test_addnist_stacks_three_digits_and_labels_their_sum_minus_one(tmp_path):
    fake_mnist_idx(tmp_path / "mnist")
    splits = make_addnist(tmp_path / "mnist", sizes=SIZES, seed=2)
    used = {}
    for split, n in zip(("train", "valid", "test"), SIZES):
        x, y = splits[split]
        assert x.shape == (n, 3, 28, 28) and x.dtype == np.uint8
        assert np.bincount(y, minlength=20).tolist() == [n // 20 + (k < n % 20) for k in range(20)]
        ids = x.reshape(n, 3, -1)[:, :, 0].astype(int)
        assert (x == ids[:, :, None, None]).all()  # every channel is one whole digit image
        offset = 101 if split == "test" else 1
        assert y.tolist() == [sum((i - offset) % 10 for i in row) - 1 for row in ids]
        used[split] = set(ids.ravel())
    assert not used["train"] & used["valid"] and all(i >= 101 for i in used["test"])


def test_addnist_from_npz_equals_addnist_from_idx_files(tmp_path):
    fake_mnist_idx(tmp_path / "idx")
    np.savez(tmp_path / "mnist.npz", **mnist_arrays())
    from_idx, from_npz = make_addnist(tmp_path / "idx", SIZES, 3), make_addnist(tmp_path / "mnist.npz", SIZES, 3)
    for split in from_idx:
        assert all(np.array_equal(a, b) for a, b in zip(from_idx[split], from_npz[split]))


def test_generators_are_deterministic_given_the_seed(tmp_path):
    fake_cifar10(tmp_path)
    a, b, c = (make_cifartile(tmp_path, SIZES, seed) for seed in (5, 5, 6))
    assert all(np.array_equal(a[s][0], b[s][0]) and np.array_equal(a[s][1], b[s][1]) for s in a)
    assert not np.array_equal(a["train"][0], c["train"][0])


@pytest.mark.parametrize("dataset, objective, shape", [
    ("cifartile", "nb201_cifarTile", (3, 64, 64)), ("addnist", "nb201_addNIST", (3, 28, 28)),
])  # fmt: skip
def test_make_dataset_command_writes_what_the_objective_loads(tmp_path, capsys, dataset, objective, shape):
    source = tmp_path / "source"
    if dataset == "cifartile":
        fake_cifar10(source)
    else:
        fake_mnist_idx(source)
    data_path = tmp_path / "data"
    code = main(["make-dataset", dataset, "--source", str(source), "--data_path", str(data_path),
                 "--sizes", *map(str, SIZES), "--seed", "4"])  # fmt: skip
    assert code == 0
    assert f"--objective {objective} --data_path {data_path}" in capsys.readouterr().out
    data, _ = load_task(objective, data_path)
    assert [len(data.train), len(data.valid), len(data.test)] == list(SIZES)
    assert data.input_shape == shape
    expected = (make_cifartile if dataset == "cifartile" else make_addnist)(source, SIZES, 4)
    assert np.array_equal(data.train.y.numpy(), expected["train"][1])
    assert np.array_equal(data.test.x.numpy(), expected["test"][0].astype(np.float32))
    assert get_objective(objective, data_path, epochs=1).num_classes == (4 if dataset == "cifartile" else 20)


def test_bad_sources_are_one_clear_line(tmp_path, capsys):
    with pytest.raises(DataFileError, match=r"missing data file .*data_batch_1"):
        make_cifartile(tmp_path, SIZES)
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + bytes(8))
    with pytest.raises(DataFileError, match=r"train-images-idx3-ubyte: not an idx file of unsigned bytes with 3"):
        make_addnist(tmp_path / "mnist", SIZES)
    code = main(["make-dataset", "addnist", "--source", str(tmp_path / "nowhere"), "--data_path", str(tmp_path)])
    assert code == 1
    assert capsys.readouterr().err == f"hnas make-dataset: error: --source {tmp_path / 'nowhere'} does not exist\n"
    assert main(["make-dataset", "addnist", "--source", str(tmp_path / "mnist"), "--data_path", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("hnas make-dataset: error: malformed data file ")


def test_write_npy_task_round_trips(tmp_path):
    names = ("train", "valid", "test")
    splits = {s: (np.full((2, 3, 4, 4), i, np.uint8), np.array([0, 1])) for i, s in enumerate(names)}
    write_npy_task(splits, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s}_{k}.npy" for s in splits for k in "xy")
    assert np.array_equal(np.load(tmp_path / "valid_x.npy"), splits["valid"][0])
