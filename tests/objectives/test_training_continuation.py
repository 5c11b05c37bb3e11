"""Training that stops at E epochs of a schedule over max_epochs, saves its state and continues is
the uninterrupted run: same learning curve, same weights (CPU, one thread)."""

import pytest
import torch
from torch import nn

from hnas.objectives import EMBEDDED, load_task, train_and_evaluate
from hnas.objectives.budget import TrainingBudget
from hnas.objectives.errors import ObjectiveError
from hnas.objectives.training import CheckpointError


def small_cnn(width: int = 8) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10),
    )


@pytest.fixture(scope="module")
def digits():
    return load_task("digits")[0].subsets(300, 100)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


PROTOCOL = EMBEDDED.replace(crop_padding=1, flip=True)  # augmentation draws from the order generator too


def test_continued_training_equals_the_uninterrupted_run(digits, tmp_path):
    straight_model = small_cnn()
    straight = train_and_evaluate(straight_model, digits, PROTOCOL, seed=3, device="cpu",
                                  budget=TrainingBudget(3, 3))
    first_model, later_model = small_cnn(), small_cnn()
    first = train_and_evaluate(first_model, digits, PROTOCOL, seed=3, device="cpu",
                               budget=TrainingBudget(1, 3, checkpoint=str(tmp_path / "e1.pt")))
    later = train_and_evaluate(later_model, digits, PROTOCOL, seed=3, device="cpu",
                               budget=TrainingBudget(3, 3, resume=str(tmp_path / "e1.pt")))
    assert first.learning_curve == straight.learning_curve[:1] and first.epochs == 1
    assert later.learning_curve == straight.learning_curve and later.epochs == 3
    assert (later.val_error, later.test_error) == (straight.val_error, straight.test_error)
    for a, b in zip(straight_model.state_dict().values(), later_model.state_dict().values()):
        assert torch.equal(a, b)
    # the schedule is over max_epochs: 3 epochs of a 3-epoch schedule differ from 3 of a 6-epoch one
    longer = train_and_evaluate(small_cnn(), digits, PROTOCOL, seed=3, device="cpu", budget=TrainingBudget(3, 6))
    assert longer.learning_curve != straight.learning_curve


def test_a_budget_to_max_epochs_is_the_plain_protocol(digits):
    plain = train_and_evaluate(small_cnn(), digits, PROTOCOL.replace(epochs=2), seed=1, device="cpu")
    budget = train_and_evaluate(small_cnn(), digits, PROTOCOL, seed=1, device="cpu", budget=TrainingBudget(2, 2))
    assert plain.learning_curve == budget.learning_curve


def test_missing_damaged_or_foreign_checkpoints_are_clear_errors(digits, tmp_path):
    train = lambda budget, seed=2: train_and_evaluate(small_cnn(), digits, PROTOCOL, seed=seed, device="cpu",  # noqa: E731
                                                      budget=budget)
    with pytest.raises(CheckpointError, match=r"checkpoint .*missing\.pt does not exist"):
        train(TrainingBudget(2, 3, resume=str(tmp_path / "missing.pt")))
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        train(TrainingBudget(2, 3, resume=str(tmp_path / "garbage.pt")))
    saved = str(tmp_path / "e2.pt")
    train(TrainingBudget(2, 3, checkpoint=saved))
    with pytest.raises(CheckpointError, match="saved with max_epochs=3, this run has 4"):
        train(TrainingBudget(3, 4, resume=saved))
    with pytest.raises(CheckpointError, match="saved with seed=2, this run has 5"):
        train(TrainingBudget(3, 3, resume=saved), seed=5)
    with pytest.raises(CheckpointError, match="holds 2 epochs"):
        train(TrainingBudget(1, 3, resume=saved))
    with pytest.raises(ObjectiveError, match="must not exceed max_epochs"):
        TrainingBudget(4, 3)
