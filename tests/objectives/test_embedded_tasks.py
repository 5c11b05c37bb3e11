import numpy as np
import torch

from hnas.objectives import load_task
from hnas.objectives.embedded import load_addnist_mini, load_digits_task


def test_digits_has_a_fixed_disjoint_split_of_all_1797_images():
    data, protocol = load_task("digits")
    assert (len(data.train), len(data.valid), len(data.test)) == (1000, 397, 400)
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    rows = torch.cat([data.train.x, data.valid.x, data.test.x]).reshape(1797, -1)
    from sklearn.datasets import load_digits

    expected = torch.from_numpy(load_digits().images.reshape(1797, -1).astype(np.float32))
    assert torch.equal(rows[np.lexsort(rows.numpy().T[::-1])], expected[np.lexsort(expected.numpy().T[::-1])])
    fresh = load_digits_task.__wrapped__()
    assert torch.equal(fresh.valid.x, data.valid.x) and torch.equal(fresh.test.y, data.test.y)
    assert protocol.epochs == 6


def test_addnist_mini_labels_are_sums_of_three_digits_below_20():
    data = load_addnist_mini()
    assert (len(data.train), len(data.valid), len(data.test)) == (3000, 1000, 1000)
    assert data.input_shape == (3, 8, 8) and data.num_classes == 20
    counts = torch.bincount(data.train.y, minlength=20)
    assert int(data.train.y.max()) <= 19 and (counts > 0).all()
    assert int(counts.argmax()) in range(10, 16)  # sums of three digits peak in the middle
    fresh = load_addnist_mini.__wrapped__()
    assert torch.equal(fresh.train.x, data.train.x) and torch.equal(fresh.test.y, data.test.y)
    # the three channels are different digits (not one image repeated)
    assert not torch.equal(data.train.x[:, 0], data.train.x[:, 1])
