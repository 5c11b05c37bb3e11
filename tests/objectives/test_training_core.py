import math

import pytest
import torch
from torch import nn

from hnas.objectives import EMBEDDED, EvaluationError, initialize_parameters, load_task, train_and_evaluate


def small_cnn(in_channels: int = 1, width: int = 16, classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes),
    )


@pytest.fixture(scope="module")
def digits():
    return load_task("digits")[0]


def test_same_seed_same_result_other_seed_other_result(digits):
    protocol = EMBEDDED.replace(epochs=2)
    a = train_and_evaluate(small_cnn(), digits, protocol, seed=5, device="cpu")
    b = train_and_evaluate(small_cnn(width=16), digits, protocol, seed=5, device="cpu")
    c = train_and_evaluate(small_cnn(), digits, protocol, seed=6, device="cpu")
    assert (a.val_error, a.test_error, a.learning_curve) == (b.val_error, b.test_error, b.learning_curve)
    assert a.learning_curve != c.learning_curve
    assert a.epochs == 2 and len(a.learning_curve) == 2 and a.val_error == a.learning_curve[-1]


def test_augmented_training_is_deterministic_too(digits):
    protocol = EMBEDDED.replace(epochs=1, crop_padding=2, flip=True)
    a = train_and_evaluate(small_cnn(), digits, protocol, seed=1, device="cpu")
    b = train_and_evaluate(small_cnn(), digits, protocol, seed=1, device="cpu")
    plain = train_and_evaluate(small_cnn(), digits, protocol.replace(crop_padding=0, flip=False), seed=1, device="cpu")
    assert (a.val_error, a.test_error, a.learning_curve) == (b.val_error, b.test_error, b.learning_curve)
    assert a.val_error != plain.val_error


def test_training_learns_the_digits(digits):
    outcome = train_and_evaluate(small_cnn(width=24), digits, EMBEDDED.replace(epochs=4), seed=0, device="cpu")
    assert outcome.val_error < 0.6 and outcome.test_error < 0.6  # chance: 0.9
    assert outcome.learning_curve[0] > outcome.learning_curve[-1]
    assert 0 < outcome.train_time < 60


def test_diverging_loss_raises_evaluation_error(digits):
    with pytest.raises(EvaluationError, match=r"training loss became (nan|inf) in epoch 1"):
        train_and_evaluate(small_cnn(), digits, EMBEDDED.replace(epochs=3, learning_rate=1e12), seed=0, device="cpu")


def test_initialization_depends_only_on_the_generator_seed():
    a, b, c = small_cnn(), small_cnn(), small_cnn()
    initialize_parameters(a, torch.Generator().manual_seed(7))
    initialize_parameters(b, torch.Generator().manual_seed(7))
    initialize_parameters(c, torch.Generator().manual_seed(8))
    with torch.no_grad():
        check_same_seed_same_weights(a, b, c)
    assert torch.equal(a[1].weight.detach(), torch.ones(16))  # BatchNorm affine keeps its constructor values


def check_same_seed_same_weights(a: nn.Module, b: nn.Module, c: nn.Module) -> None:
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        if pa.dim() > 1:
            assert not torch.equal(pa, pc), name
            bound = 1 / math.sqrt(pa[0].numel())
            assert 0.8 * bound < float(pa.abs().max()) <= bound


def test_train_subset_and_eval_subset_are_fixed_subsets(digits):
    small = digits.subsets(train=100, evaluation=50)
    again = digits.subsets(train=100, evaluation=50)
    assert (len(small.train), len(small.valid), len(small.test)) == (100, 50, 50)
    assert torch.equal(small.train.x, again.train.x)
    assert digits.subsets(train=10_000).train is digits.train
