"""Objectives of the activation and DARTS spaces, and the recipe training they share."""

import numpy as np
import pytest
import torch

from hnas.grammar import load_space
from hnas.objectives import ObjectiveError, get_objective
from hnas.objectives.activation import ACTIVATION_CIFAR10, balanced_split
from hnas.objectives.data import Split
from hnas.objectives.recipes import Recipe, checked_options, cutout
from hnas.semantics.darts import darts_tree

from tests.objectives.fabricate_data import write_cifar10
from tests.spaces.darts_reference import DARTS_V2


def test_multistep_and_cosine_schedules():
    steps = [ACTIVATION_CIFAR10.learning_rate_at(s, 64000) for s in (0, 31999, 32000, 47999, 48000, 63999)]
    assert steps == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    cosine = Recipe(epochs=1, batch_size=8, learning_rate=0.025, min_learning_rate=0.001)
    assert [cosine.learning_rate_at(s, 10) for s in (0, 5, 10)] == pytest.approx([0.025, 0.013, 0.001])


def test_cutout_zeroes_one_clipped_square_per_image():
    x = torch.ones(2, 3, 8, 8)
    out = cutout(x, 4, torch.Generator().manual_seed(0))
    for image in out:
        zero_rows, zero_cols = np.nonzero((image[0] == 0).numpy())
        rows, cols = sorted(set(zero_rows)), sorted(set(zero_cols))
        assert len(zero_rows) == len(rows) * len(cols) and 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4
        assert rows == list(range(rows[0], rows[-1] + 1)) and (image[1:] == image[0]).all()


def test_options_are_checked_and_converted():
    defaults = {"epochs": 1, "learning_rate": 0.1, "flip": False, "milestones": (), "device": ""}
    got = checked_options("o", {"epochs": "3", "learning_rate": 1, "flip": "yes", "milestones": "0.5,0.75",
                                "device": None}, defaults)
    assert got == {"epochs": 3, "learning_rate": 1.0, "flip": True, "milestones": (0.5, 0.75)}
    with pytest.raises(ObjectiveError, match="objective o has no option lr"):
        checked_options("o", {"lr": 1}, defaults)
    with pytest.raises(ObjectiveError, match="option epochs of objective o must be int"):
        checked_options("o", {"epochs": "many"}, defaults)


def test_balanced_split_holds_out_a_tenth_of_each_class_in_order():
    y = torch.tensor([0] * 20 + [1] * 10 + [0] * 10)
    rest, held = balanced_split(Split(torch.arange(40.0)[:, None, None, None], y))
    assert held.x.flatten().tolist() == [0, 1, 2, 20] and len(rest) == 36


def test_activation_digits_trains_the_small_network():
    tree = load_space("activation").parse("(L2 UnaryTopo (L1 UnaryTopo (UnOp umax)))")
    objective = get_objective("activation_digits", epochs=2)
    result = objective.evaluate(tree, seed=0)
    assert 0 <= result.val_error < 0.8 and result.params == 16 * 9 + 32 + 16 * 32 * 9 + 64 + 32 * 10 + 10
    assert objective.evaluate(tree, seed=0).val_error == result.val_error  # same seed, same result


def test_cifar10_objectives_read_data_path_and_train(tmp_path):
    labels = write_cifar10(tmp_path, per_batch=20)["labels"]
    held_out = sum(np.sum(labels == c) // 10 for c in range(10))
    act = load_space("activation").parse("(L2 UnaryTopo (L1 UnaryTopo (UnOp tanh)))")
    objective = get_objective("activation_cifar10", tmp_path, steps=2, batch_size=16)
    assert len(objective.data.valid) == held_out and len(objective.data.train) == 100 - held_out  # a tenth per class
    result = objective.evaluate(act, seed=0)
    assert 0 <= result.val_error <= 1 and result.params == 269_722
    darts = darts_tree(*DARTS_V2)
    search = get_objective("darts_cifar10_search", tmp_path, epochs=1, C=4, layers=3)
    assert 0 <= search.evaluate(darts, seed=0).val_error <= 1
    final = get_objective("darts_cifar10", tmp_path, epochs=1, C=4, layers=3, batch_size=32)
    assert final.recipe.cutout == 16 and final.recipe.drop_path_prob == 0.2 and final.recipe.auxiliary_weight == 0.4
    result = final.evaluate(darts, seed=0)
    assert result.val_error == result.test_error
    again = final.evaluate(darts, seed=0)  # drop path and cutout draw from seeded generators
    assert (again.val_error, again.params) == (result.val_error, result.params)
    assert get_objective("darts_cifar10", tmp_path, cutout=0).recipe.cutout == 0
    with pytest.raises(ObjectiveError, match=r"objective darts_cifar10 needs a data path \(--data_path\)"):
        get_objective("darts_cifar10")
