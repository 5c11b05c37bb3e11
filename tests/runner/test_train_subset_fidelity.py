"""The train-subset fidelity: a multi-fidelity searcher's levels are numbers of training images;
each evaluation trains the objective's epochs on that many first images, a promotion from zero."""

import csv
import sys
from pathlib import Path

import pytest
import torch
from fidelity_objectives import SubsetObjective, subset_error
from runner_objectives import SPACE, SyntheticObjective
from torch import nn

from hnas.grammar import load_space
from hnas.objectives import EMBEDDED, load_task, train_and_evaluate
from hnas.objectives.budget import TrainingBudget
from hnas.objectives.errors import EvaluationError, ObjectiveError
from hnas.runner import RunConfig, RunConfigError, load_trials, run_search
from hnas.runner.fidelity import CHECKPOINT_FOLDER
from hnas.runner.results import CSV_COLUMNS


def _subset_config(log: Path, **changes) -> RunConfig:
    values = dict(search_space=SPACE, objective=SubsetObjective(log), searcher="hyperband", seed=4,
                  max_evaluations_total=21, fidelity="train_subset", min_train_subset=10, max_train_subset=90, eta=3)
    return RunConfig(**{**values, **changes})  # fmt: skip


def test_hyperband_over_train_subsets_trains_each_level_from_zero(tmp_path):
    summary = run_search(_subset_config(tmp_path / "log"), tmp_path / "run")
    assert summary.n_done == 21
    trials = {t.id: t for t in load_trials(tmp_path / "run")}
    shape = [(t.budget_epochs, t.rung, t.bracket, None if t.continues is None else trials[t.continues].budget_epochs)
             for t in trials.values()]  # fmt: skip
    assert shape == ([(10, 0, 0, None)] * 9 + [(30, 1, 0, 10)] * 3 + [(90, 2, 0, 30)] + [(30, 1, 1, None)] * 3
                     + [(90, 2, 1, 30)] + [(90, 2, 2, None)] * 3 + [(10, 0, 3, None)])  # fmt: skip
    space = load_space(SPACE)
    for trial in trials.values():
        assert trial.budget_kind == "train_subset"
        assert trial.extras["images"] == trial.budget_epochs  # trained on its level's images
        assert trial.objective == subset_error(space.parse(trial.architecture), trial.budget_epochs)
        parent = trials.get(trial.continues)
        if parent is not None:  # promoted: the same tree and seed, its own evaluation from zero
            assert (parent.architecture, parent.seed) == (trial.architecture, trial.seed)
    rung0 = [t for t in trials.values() if t.bracket == 0 and t.rung == 0]
    best3 = sorted(rung0, key=lambda t: (t.objective, t.id))[:3]
    assert [t.continues for t in trials.values() if t.bracket == 0 and t.rung == 1] == [t.id for t in best3]
    assert not (tmp_path / "run" / CHECKPOINT_FOLDER).exists()
    full = [t for t in trials.values() if t.budget_epochs == 90]
    assert summary.best.id == min(full, key=lambda t: (t.objective, t.id)).id
    rows = list(csv.reader(open(tmp_path / "run" / "results.csv")))
    assert rows[0] == [*CSV_COLUMNS[:-1], "budget_train_subset", "rung", "bracket", "continues", "architecture"]
    assert rows[13][17:21] == ["90", "2", "0", str(trials[13].continues)]


def test_train_subset_settings_are_checked_before_any_evaluation(tmp_path):
    with pytest.raises(RunConfigError, match="random_search has no fidelity") as error:
        RunConfig(searcher="random_search", fidelity="train_subset", min_train_subset=10, max_train_subset=90)
    assert error.value.field == "fidelity"
    with pytest.raises(RunConfigError, match="fidelity must be one of epochs, train_subset") as error:
        RunConfig(searcher="hyperband", fidelity="images")
    assert error.value.field == "fidelity"
    with pytest.raises(RunConfigError, match="needs min_train_subset and max_train_subset") as error:
        RunConfig(searcher="hyperband", fidelity="train_subset", min_train_subset=10)
    assert error.value.field == "max_train_subset"
    with pytest.raises(RunConfigError, match="levels are numbers of training images") as error:
        RunConfig(searcher="hyperband", fidelity="train_subset", min_train_subset=10, max_train_subset=90,
                  max_epochs=9)  # fmt: skip
    assert error.value.field == "max_epochs"
    with pytest.raises(RunConfigError, match=r"min_train_subset \(90\) must not exceed max_train_subset \(10\)"):
        RunConfig(searcher="asha", fidelity="train_subset", min_train_subset=90, max_train_subset=10)
    with pytest.raises(RunConfigError, match="sets the levels of fidelity train_subset") as error:
        RunConfig(searcher="asha", max_train_subset=90)
    assert error.value.field == "max_train_subset"
    with pytest.raises(RunConfigError, match="given twice"):
        RunConfig(searcher="asha", fidelity="train_subset", min_train_subset=10, max_train_subset=90,
                  searcher_options={"max_epochs": 5})  # fmt: skip
    # the objective's epochs stay its own: --epochs is allowed with this fidelity
    assert RunConfig(searcher="asha", fidelity="train_subset", min_train_subset=10, max_train_subset=90,
                     epochs=2).to_record()["searcher_options"]["max_epochs"] == 90  # fmt: skip
    log = tmp_path / "log"
    with pytest.raises(RunConfigError, match="trains on a number of training images .*supports_fidelity"):
        run_search(_subset_config(log, objective=SyntheticObjective(log)), tmp_path / "run")
    assert not log.exists() and not (tmp_path / "run").exists()


def test_optimize_flags_for_the_train_subset_fidelity(capsys):
    sys.path.insert(0, str(Path(__file__).parents[2] / "experiments"))
    try:
        import optimize
    finally:
        sys.path.pop(0)
    parser = optimize.build_parser()
    args = parser.parse_args(["--searcher", "hyperband", "--fidelity", "train_subset", "--min_train_subset", "100",
                              "--max_train_subset", "900", "--eta", "3"])  # fmt: skip
    config = optimize.config_from_args(args, parser)
    assert (config.fidelity, config.min_train_subset, config.max_train_subset) == ("train_subset", 100, 900)
    assert config.to_record()["searcher_options"] == {"min_epochs": 100, "max_epochs": 900, "eta": 3}
    for argv, message in [
        (["--searcher", "random_search", "--fidelity", "train_subset", "--min_train_subset", "1",
          "--max_train_subset", "9"], "argument --fidelity: fidelity: searcher random_search has no fidelity"),
        (["--searcher", "asha", "--fidelity", "train_subset", "--max_train_subset", "9"],
         "argument --min_train_subset: min_train_subset: fidelity train_subset needs"),
        (["--searcher", "asha", "--min_train_subset", "9"], "argument --min_train_subset: min_train_subset sets"),
        (["--searcher", "asha", "--fidelity", "images"], "argument --fidelity: invalid choice: 'images'"),
    ]:  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            optimize.config_from_args(parser.parse_args(argv), parser)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_a_train_subset_budget_trains_the_first_images_for_the_protocols_epochs():
    def small_cnn() -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))  # fmt: skip

    digits = load_task("digits")[0].subsets(200, 60)
    small, large = digits.subsets(50).train, digits.subsets(150).train
    assert all(any(torch.equal(x, y) for y in large.x) for x in small.x)  # a larger subset holds a smaller one
    protocol = EMBEDDED.replace(epochs=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        budgeted = train_and_evaluate(small_cnn(), digits, protocol, seed=5, device="cpu",
                                      budget=TrainingBudget(None, None, train_images=50))  # fmt: skip
        plain = train_and_evaluate(small_cnn(), digits.subsets(50), protocol, seed=5, device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert budgeted.epochs == 2 and budgeted.learning_curve == plain.learning_curve
    assert (budgeted.val_error, budgeted.test_error) == (plain.val_error, plain.test_error)
    with pytest.raises(ObjectiveError, match="train_images must be an integer >= 1"):
        TrainingBudget(None, None, train_images=0)
    with pytest.raises(ObjectiveError, match="epochs must be an integer >= 1"):
        TrainingBudget(None, 3, train_images=10)
    with pytest.raises(EvaluationError, match="cannot train on 201 images: the training split of digits has 200"):
        train_and_evaluate(small_cnn(), digits, protocol, seed=5, device="cpu",
                           budget=TrainingBudget(None, None, train_images=201))  # fmt: skip


@pytest.mark.slow
def test_real_training_promotion_over_train_subsets_is_a_training_from_zero(tmp_path):
    """digits, successive halving 3 x 50 images -> 1 x 150 images, 1 epoch each: the promoted
    trial is exactly one fresh training on the first 150 images with its seed."""
    from hnas.objectives import get_objective

    options = {"eval_subset": 100}
    run = RunConfig(search_space=SPACE, objective="digits", searcher="successive_halving", seed=0, train_subset=150,
                    objective_options=options, epochs=1, fidelity="train_subset", min_train_subset=50,
                    max_train_subset=150, max_evaluations_total=4)  # fmt: skip
    assert run_search(run, tmp_path / "run").n_done == 4
    trials = load_trials(tmp_path / "run")
    assert [(t.budget_epochs, t.budget_kind, t.epochs) for t in trials] == [(50, "train_subset", 1)] * 3 + [
        (150, "train_subset", 1)]  # fmt: skip
    promoted = trials[-1]
    assert promoted.continues in (1, 2, 3) and trials[promoted.continues - 1].seed == promoted.seed
    objective = get_objective("digits", train_subset=150, epochs=1, **options)
    tree = load_space(SPACE).parse(promoted.architecture)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the run's worker process
    try:
        fresh = objective.evaluate(tree, promoted.seed, budget=TrainingBudget(None, None, train_images=150))
        parent = objective.evaluate(tree, promoted.seed, budget=TrainingBudget(None, None, train_images=50))
    finally:
        torch.set_num_threads(threads)
    assert list(fresh.learning_curve) == promoted.learning_curve
    assert (fresh.val_error, fresh.test_error) == (promoted.val_error, promoted.test_error)
    assert list(parent.learning_curve) == trials[promoted.continues - 1].learning_curve
