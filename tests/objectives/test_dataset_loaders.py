import pickle

import numpy as np
import pytest
import torch

from fabricate_data import write_cifar10, write_cifar100, write_imagenet16, write_npy_task
from hnas.objectives import DataFileError, ObjectiveError, load_task
from hnas.objectives.loaders import load_cifar10, load_cifar100, load_imagenet16_120, load_npy_task


def test_cifar10_splits_the_training_batches_in_halves_and_keeps_pixels(tmp_path):
    written = write_cifar10(tmp_path, per_batch=8)
    data = load_cifar10(tmp_path)
    assert (len(data.train), len(data.valid), len(data.test)) == (20, 20, 8)
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    # train + valid are exactly the 40 training images, each once, with its own label
    rows = torch.cat([data.train.x, data.valid.x]).reshape(40, -1).numpy()
    labels = torch.cat([data.train.y, data.valid.y]).numpy()
    order = np.lexsort(rows.T[::-1])
    expected = np.lexsort(written["data"].T[::-1])
    assert np.array_equal(rows[order], written["data"][expected])
    assert np.array_equal(labels[order], written["labels"][expected])
    assert data.train.x.dtype == torch.uint8


def test_cifar10_split_is_the_same_on_every_load(tmp_path):
    write_cifar10(tmp_path)
    a, b = load_cifar10(tmp_path), load_cifar10(tmp_path)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.valid.y, b.valid.y)


def test_cifar100_validates_and_tests_on_halves_of_the_test_set(tmp_path):
    write_cifar100(tmp_path, n_train=24, n_test=10)
    data = load_cifar100(tmp_path)
    assert (len(data.train), len(data.valid), len(data.test)) == (24, 5, 5)
    assert data.num_classes == 100


def test_imagenet16_keeps_classes_1_to_120_and_maps_them_to_0_to_119(tmp_path):
    write_imagenet16(tmp_path, per_batch=6, n_val=12)
    data = load_imagenet16_120(tmp_path)
    assert len(data.train) == 40  # 4 of every 6 images have labels <= 120, 10 batches
    assert len(data.valid) + len(data.test) == 8
    assert data.input_shape == (3, 16, 16) and data.num_classes == 120
    raw = pickle.loads((tmp_path / "ImageNet16" / "train_data_batch_1").read_bytes())
    first = np.asarray(raw["labels"][0])
    assert int(data.train.y[0]) == first - 1
    assert torch.equal(data.train.x[0].reshape(-1), torch.from_numpy(raw["data"][0]))
    assert int(data.train.y.min()) >= 0 and int(data.train.y.max()) <= 119


@pytest.mark.parametrize("subfolder", [None, "addNIST"])
def test_npy_task_is_found_directly_or_in_its_subfolder(tmp_path, subfolder):
    write_npy_task(tmp_path / subfolder if subfolder else tmp_path, 20, 28, sizes=(16, 8, 6))
    data = load_npy_task(tmp_path, "addNIST", "addNIST", 20)
    assert (len(data.train), len(data.valid), len(data.test)) == (16, 8, 6)
    assert data.input_shape == (3, 28, 28) and data.train.x.dtype == torch.float32
    normalized = data.normalize(data.train.x)
    assert torch.allclose(normalized.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(normalized.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-2)


def test_missing_file_names_the_file_and_the_layout(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataFileError, match=r"missing data file .*data_batch_3.*expected cifar-10-batches-py/data_batch_1"):
        load_cifar10(tmp_path)


def test_missing_npy_folder_names_both_places_looked_at(tmp_path):
    with pytest.raises(DataFileError, match=r"train_x\.npy \(nor .*cifarTile.train_x\.npy\).*expected"):
        load_npy_task(tmp_path, "cifarTile", "cifarTile", 4)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a pickle at all", "not a readable pickle"),
        (pickle.dumps([1, 2, 3]), "holds list, not a dict"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}), "no 'labels' entry"),
        (pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}), "not uint8 rows of 3072"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), "2 images but 1 labels"),
        (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}), r"labels 0\.\.10 outside 0\.\.9"),
    ],
)
def test_malformed_pickle_names_the_file_the_problem_and_the_layout(tmp_path, content, message):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(content)
    with pytest.raises(DataFileError, match=rf"malformed data file .*test_batch.*{message}.*expected cifar-10"):
        load_cifar10(tmp_path)


def test_malformed_npy_files_name_the_file(tmp_path):
    write_npy_task(tmp_path, 4, 8)
    np.save(tmp_path / "valid_x.npy", np.zeros((8, 8, 8), np.float32))
    with pytest.raises(DataFileError, match=r"valid_x\.npy: float32 array of shape \(8, 8, 8\), not N,3,H,W"):
        load_npy_task(tmp_path, "cifarTile", "cifarTile", 4)
    write_npy_task(tmp_path, 4, 8)
    (tmp_path / "test_y.npy").write_bytes(b"garbage")
    with pytest.raises(DataFileError, match=r"malformed data file .*test_y\.npy \(not a readable \.npy"):
        load_npy_task(tmp_path, "cifarTile", "cifarTile", 4)
    write_npy_task(tmp_path, 4, 8)
    np.save(tmp_path / "train_y.npy", np.full(16, 7))
    with pytest.raises(DataFileError, match=r"train_y\.npy: labels 7\.\.7 outside 0\.\.3"):
        load_npy_task(tmp_path, "cifarTile", "cifarTile", 4)


def test_a_file_objective_without_data_path_says_what_to_pass(tmp_path):
    with pytest.raises(ObjectiveError, match=r"nb201_cifar100 needs a data path \(--data_path\) holding cifar-100-python/train"):
        load_task("nb201_cifar100")
    with pytest.raises(ObjectiveError, match="is not a folder"):
        load_task("nb201_cifar10", tmp_path / "nowhere")


def test_data_errors_are_usage_errors_for_the_command_line():
    from hnas.errors import UsageError

    assert issubclass(DataFileError, UsageError) and issubclass(DataFileError, ValueError)
