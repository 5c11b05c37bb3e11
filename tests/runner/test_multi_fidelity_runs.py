"""Multi-fidelity runs: jobs as trials (budget, rung, bracket, the trial continued), checkpoints
handed from trial to trial, results and plots with rungs, bad configurations, workers, and resume
after SIGKILL in the middle of a bracket."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fidelity_objectives import FidelityObjective, epoch_error
from run_fidelity_search import config
from runner_objectives import SPACE, SyntheticObjective, read_log
from test_resume_after_kill import _wait_for_evaluations

from hnas.grammar import load_space
from hnas.runner import RunConfig, RunConfigError, load_trials, run_search
from hnas.runner.fidelity import checkpoint_path
from hnas.runner.results import CSV_COLUMNS, FIDELITY_CSV_COLUMNS

SCRIPT = Path(__file__).with_name("run_fidelity_search.py")


def test_hyperband_run_continues_promoted_trials_from_their_checkpoints(tmp_path):
    summary = run_search(config(str(tmp_path / "log"), 21, 0.0, "hyperband"), tmp_path / "run")
    assert summary.n_done == 21
    trials = {t.id: t for t in load_trials(tmp_path / "run")}
    shape = [(t.budget_epochs, t.rung, t.bracket, None if t.continues is None else trials[t.continues].budget_epochs)
             for t in trials.values()]  # fmt: skip
    assert shape == ([(1, 0, 0, None)] * 9 + [(3, 1, 0, 1)] * 3 + [(9, 2, 0, 3)] + [(3, 1, 1, None)] * 3
                     + [(9, 2, 1, 3)] + [(9, 2, 2, None)] * 3 + [(1, 0, 3, None)])  # fmt: skip
    space = load_space(SPACE)
    for trial in trials.values():
        tree = space.parse(trial.architecture)
        assert trial.learning_curve == [epoch_error(tree, e, 9) for e in range(1, trial.budget_epochs + 1)]
        parent = trials.get(trial.continues)
        if parent is not None:  # same tree and seed, trained on from the parent's state
            assert (parent.architecture, parent.seed) == (trial.architecture, trial.seed)
            assert trial.extras["trained"] == trial.budget_epochs - parent.budget_epochs
            assert not checkpoint_path(tmp_path / "run", parent.id).exists()  # freed once continued
        else:
            assert trial.extras["trained"] == trial.budget_epochs
    rung0 = [t for t in trials.values() if t.bracket == 0 and t.rung == 0]
    best3 = sorted(rung0, key=lambda t: (t.objective, t.id))[:3]
    assert [t.continues for t in trials.values() if t.bracket == 0 and t.rung == 1] == [t.id for t in best3]
    kept = json.loads(checkpoint_path(tmp_path / "run", 13).read_text())
    assert kept["curve"] == trials[13].learning_curve and kept["max_epochs"] == 9
    # the best trial is the best full training, not a lower fidelity's
    full = [t for t in trials.values() if t.budget_epochs == 9]
    assert summary.best.id == min(full, key=lambda t: (t.objective, t.id)).id
    rows = list(csv.reader(open(tmp_path / "run" / "results.csv")))
    assert rows[0] == [*CSV_COLUMNS[:-1], *FIDELITY_CSV_COLUMNS, "architecture"]
    assert rows[13][17:21] == ["9", "2", "0", str(trials[13].continues)]


def test_fidelity_settings_and_objectives_are_checked_before_any_evaluation(tmp_path):
    with pytest.raises(RunConfigError, match="random_search has no fidelity") as error:
        RunConfig(searcher="random_search", max_epochs=9)
    assert error.value.field == "max_epochs"
    with pytest.raises(RunConfigError, match="set max_epochs") as error:
        RunConfig(searcher="hyperband", epochs=3)
    assert error.value.field == "epochs"
    with pytest.raises(RunConfigError, match="min_epochs .* must not exceed max_epochs"):
        RunConfig(searcher="asha", min_epochs=5, max_epochs=3)
    with pytest.raises(RunConfigError, match="given twice"):
        RunConfig(searcher="asha", eta=2, searcher_options={"eta": 3})
    log = tmp_path / "log"
    plain = RunConfig(search_space=SPACE, objective=SyntheticObjective(log), searcher="asha", max_evaluations_total=3)
    with pytest.raises(RunConfigError, match="does not .*supports_fidelity"):
        run_search(plain, tmp_path / "run")
    assert not log.exists() and not (tmp_path / "run").exists()


def test_optimize_flags_for_fidelity(capsys):
    sys.path.insert(0, str(Path(__file__).parents[2] / "experiments"))
    try:
        import optimize
    finally:
        sys.path.pop(0)
    parser = optimize.build_parser()
    args = parser.parse_args(["--searcher", "asha", "--min_epochs", "2", "--max_epochs", "8", "--eta", "2"])
    config = optimize.config_from_args(args, parser)
    assert (config.min_epochs, config.max_epochs, config.eta) == (2, 8, 2)
    assert config.to_record()["searcher_options"] == {"min_epochs": 2, "max_epochs": 8, "eta": 2}
    with pytest.raises(SystemExit) as exit_info:
        optimize.config_from_args(parser.parse_args(["--searcher", "random_search", "--eta", "2"]), parser)
    assert exit_info.value.code == 2
    assert "argument --eta: eta: searcher random_search has no fidelity" in capsys.readouterr().err


def _check_asha_run(directory: Path, log: Path) -> None:
    trials = load_trials(directory)
    assert [t.status for t in trials] == ["done"] * 14
    assert len({pid for kind, pid, *_ in read_log(log) if kind == "end"}) == 2  # both workers evaluated
    promoted = [t for t in trials if t.continues is not None]
    assert promoted  # each continued from its parent's checkpoint, which the worker read
    assert all(t.extras["trained"] == t.budget_epochs - trials[t.continues - 1].budget_epochs for t in promoted)


def _asha(tmp_path: Path, **execution) -> RunConfig:
    objective = FidelityObjective(tmp_path / "log", delay=0.05)
    return RunConfig(search_space=SPACE, objective=objective, searcher="asha", seed=2, max_evaluations_total=14,
                     max_epochs=4, eta=2, **execution)  # fmt: skip


@pytest.mark.slow
def test_asha_on_two_local_workers(tmp_path):
    run_search(_asha(tmp_path, n_workers=2), tmp_path / "run")
    _check_asha_run(tmp_path / "run", tmp_path / "log")


@pytest.mark.slow
def test_asha_on_dask_workers_sharing_the_run_directory(tmp_path):
    from distributed import LocalCluster  # the optional extra 'dist', part of the dev install

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        run_search(_asha(tmp_path, dask_scheduler=cluster.scheduler_address), tmp_path / "run")
    _check_asha_run(tmp_path / "run", tmp_path / "log")


@pytest.mark.slow
@pytest.mark.parametrize("searcher", ["hyperband", "asha"])
def test_sigkill_in_the_middle_of_a_bracket_then_resume_asks_what_an_uninterrupted_run_asks(tmp_path, searcher):
    budget, delay = 20, 0.03
    directory, log = tmp_path / "run", tmp_path / "log.txt"
    command = [sys.executable, str(SCRIPT), str(directory), str(log), str(budget), str(delay), searcher]
    for evaluations_before_kill in (4, 11):  # rung 0 of bracket 0, then among its promotions
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_evaluations(log, evaluations_before_kill, process)
        time.sleep(delay / 2)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert f"run finished: {budget}/{budget} evaluations" in finished.stdout

    straight = run_search(config(str(tmp_path / "straight.log"), budget, 0.0, searcher), tmp_path / "straight")
    def columns(t):
        return t.architecture, t.seed, t.budget_epochs, t.rung, t.bracket, t.continues, t.objective

    resumed = load_trials(directory)
    assert [columns(t) for t in resumed] == [columns(t) for t in load_trials(straight.working_directory)]
    assert any(t.continues is not None for t in resumed)


@pytest.mark.slow
def test_real_training_promotion_equals_an_uninterrupted_training(tmp_path):
    """digits, successive halving 3 x 1 epoch -> 1 x 3 epochs: the promoted trial's learning curve
    and errors are those of one uninterrupted 3-epoch training with its seed."""
    from hnas.objectives import get_objective
    from hnas.objectives.budget import TrainingBudget

    options = {"eval_subset": 100}
    run = RunConfig(search_space=SPACE, objective="digits", searcher="successive_halving", seed=0, train_subset=150,
                    objective_options=options, max_epochs=3, max_evaluations_total=4)  # fmt: skip
    assert run_search(run, tmp_path / "run").n_done == 4
    trials = load_trials(tmp_path / "run")
    promoted = trials[-1]
    assert promoted.budget_epochs == 3 and promoted.continues in (1, 2, 3)
    parent = trials[promoted.continues - 1]
    assert promoted.learning_curve[:1] == parent.learning_curve and len(promoted.learning_curve) == 3
    objective = get_objective("digits", train_subset=150, **options)
    tree = load_space(SPACE).parse(promoted.architecture)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the run's worker process
    try:
        straight = objective.evaluate(tree, promoted.seed, budget=TrainingBudget(3, 3))
    finally:
        torch.set_num_threads(threads)
    assert list(straight.learning_curve) == promoted.learning_curve
    assert (straight.val_error, straight.test_error) == (promoted.val_error, promoted.test_error)


def test_a_store_from_before_the_fidelity_columns_is_upgraded_and_salvaged(tmp_path):
    import sqlite3

    from hnas.runner.salvage import salvage_store
    from hnas.runner.store import STORE_FILENAME, RunStore, _create_store

    _create_store(tmp_path / STORE_FILENAME)  # the base schema: no budget_epochs, rung, bracket, continues
    connection = sqlite3.connect(tmp_path / STORE_FILENAME)
    connection.execute("INSERT INTO trials (id, architecture, status, seed, created_at, objective)"
                       " VALUES (1, '(CELL Cell)', 'done', 7, 0.0, 0.5)")  # fmt: skip
    connection.commit()
    connection.close()
    assert salvage_store(tmp_path, tmp_path / "copy").kept == 1  # read without the new columns
    store = RunStore(tmp_path)  # opened for writing: the columns are added
    (trial,) = store.trials()
    store.close()
    assert (trial.seed, trial.objective, trial.budget_epochs, trial.continues) == (7, 0.5, None, None)
