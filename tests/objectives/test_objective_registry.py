import math
import warnings

import pytest

from fabricate_data import write_cifar10, write_cifar100, write_imagenet16, write_npy_task
from hnas.grammar import load_space
from hnas.objectives import (
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    DataFileError,
    EvaluationResult,
    ObjectiveError,
    TrainingObjective,
    get_objective,
    task_shape,
)

CELL = "(CELL Cell (OPS conv1x1) (OPS id) (OPS avg_pool) (OPS zero) (OPS conv1x1) (OPS id))"


@pytest.fixture(scope="module")
def tree():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_space("nb201_fixed_1_none").parse(CELL)


def _check_result(result: EvaluationResult, epochs: int) -> None:
    assert 0 <= result.val_error <= 1 and 0 <= result.test_error <= 1
    assert result.epochs == epochs and len(result.learning_curve) == epochs
    assert result.val_error == result.learning_curve[-1]
    assert result.params > 0 and result.flops > 0 and result.train_time > 0


@pytest.mark.parametrize(
    "name, write, classes, shape",
    [
        ("nb201_cifar10", write_cifar10, 10, (3, 32, 32)),
        ("nb201_cifar100", write_cifar100, 100, (3, 32, 32)),
        ("nb201_ImageNet16-120", write_imagenet16, 120, (3, 16, 16)),
        ("nb201_cifarTile", lambda root: write_npy_task(root / "cifarTile", 4, 16), 4, (3, 16, 16)),
        ("nb201_addNIST", lambda root: write_npy_task(root, 20, 12), 20, (3, 12, 12)),
    ],
)
def test_each_file_objective_runs_end_to_end_on_fabricated_files(tmp_path, tree, name, write, classes, shape):
    write(tmp_path)
    objective = get_objective(name, tmp_path, epochs=1, batch_size=8, train_subset=12)
    assert (objective.name, objective.num_classes, objective.input_shape) == (name, classes, shape)
    assert len(objective.data.train) == 12
    _check_result(objective.evaluate(tree, seed=0), epochs=1)


def test_file_objectives_keep_the_spec_protocols(tmp_path):
    write_cifar10(tmp_path)
    write_npy_task(tmp_path, 4, 8)
    nb201 = get_objective("nb201_cifar10", tmp_path).protocol
    assert (nb201.epochs, nb201.batch_size, nb201.learning_rate, nb201.weight_decay) == (200, 256, 0.1, 5e-4)
    assert nb201.nesterov and nb201.flip and nb201.crop_padding == 4
    tile = get_objective("nb201_cifarTile", tmp_path).protocol
    assert (tile.epochs, tile.batch_size, tile.learning_rate, tile.weight_decay) == (64, 64, 0.01, 3e-4)
    assert not (tile.nesterov or tile.flip or tile.crop_padding)


def test_imagenet16_crops_16px_from_padding_2(tmp_path):
    write_imagenet16(tmp_path)
    assert get_objective("nb201_ImageNet16-120", tmp_path).protocol.crop_padding == 2


def test_evaluation_is_deterministic_for_a_seed(tree):
    objective = get_objective("digits", epochs=1, train_subset=200, eval_subset=100)
    a, b, c = (objective.evaluate(tree, seed) for seed in (4, 4, 5))
    assert (a.val_error, a.test_error, a.learning_curve, a.params) == (b.val_error, b.test_error, b.learning_curve, b.params)
    assert a.learning_curve != c.learning_curve or a.test_error != c.test_error


def test_default_objective_is_offline_and_learns(tree):
    assert DEFAULT_OBJECTIVE in OBJECTIVES
    objective = get_objective(DEFAULT_OBJECTIVE, epochs=3, proxies="naswot")
    result = objective.evaluate(tree, seed=0)
    assert result.val_error < 0.5 and result.test_error < 0.5  # chance: 0.9
    assert result.learning_curve[0] > result.val_error
    assert math.isfinite(result.extras["naswot"])


def test_options_from_a_command_line_may_be_strings():
    objective = get_objective("digits", epochs="2", learning_rate="0.5", nesterov="false", train_subset="64")
    assert isinstance(objective, TrainingObjective)
    assert (objective.protocol.epochs, objective.protocol.learning_rate, objective.protocol.nesterov) == (2, 0.5, False)
    assert len(objective.data.train) == 64
    assert get_objective("DIGITS", epochs=None).protocol.epochs == 6  # None: keep the default
    assert get_objective("debug", input_shape="1x8x8", num_classes="4").input_shape == (1, 8, 8)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("cifar", {}, r"unknown objective 'cifar'; known: digits, addnist_mini, nb201_cifar10"),
        ("digits", {"epoch": 3}, r"objective digits has no option epoch; options: .*epochs"),
        ("digits", {"epochs": 0}, r"epochs must be an integer >= 1, got 0"),
        ("digits", {"epochs": "many"}, r"option epochs must be an int, got 'many'"),
        ("digits", {"train_subset": -5}, r"train_subset must be a positive integer, got -5"),
        ("naswot", {"batch_size": 1}, r"batch_size must be an integer >= 2"),
        ("digits", {"proxy_batch_size": "1"}, r"proxy_batch_size must be an integer >= 2, got 1"),
        ("naswot", {"dataset": "mnist"}, r"unknown objective 'mnist'"),
        ("debug", {"target_params": 0}, r"target_params must be a positive integer"),
        ("debug", {"input_shape": "1,8"}, r"input_shape must be three positive integers C,H,W, got '1,8'"),
        ("debug", {"num_classes": "0"}, r"num_classes must be a positive integer, got 0"),
        ("digits", {"momentum": 0}, r"nesterov momentum needs momentum > 0"),
    ],
)
def test_bad_names_and_options_are_clear_errors(name, options, message):
    with pytest.raises(ObjectiveError, match=message):
        get_objective(name, **options)


def test_a_missing_file_surfaces_through_get_objective(tmp_path):
    write_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "test").unlink()
    with pytest.raises(DataFileError, match=r"missing data file .*cifar-100-python.test; expected"):
        get_objective("nb201_cifar100", str(tmp_path))


def test_debug_objective_is_the_relative_distance_to_the_target_parameter_count(tree):
    params = get_objective("debug", target_params=1).evaluate(tree, 0).params
    result = get_objective("debug", target_params=2 * params).evaluate(tree, 0)
    assert result.val_error == pytest.approx(0.5) and result.params == params
    assert get_objective("debug", target_params=params).evaluate(tree, 0).val_error == 0


def test_task_shapes_need_no_data_and_agree_with_the_loaded_embedded_tasks():
    assert task_shape("nb201_ImageNet16-120") == (120, (3, 16, 16))
    assert task_shape("NB201_CIFAR100") == (100, (3, 32, 32))
    for name in ("digits", "addnist_mini"):
        objective = get_objective(name)
        assert task_shape(name) == (objective.num_classes, objective.input_shape)
    with pytest.raises(ObjectiveError, match="unknown objective 'naswot'"):
        task_shape("naswot")  # a proxy, not a training task
