"""experiments/optimize.py as users run it: real subprocesses, the embedded objective, real signals."""

import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from hnas.runner import RunError, load_trials

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "optimize.py"
QUICK = ["--search_space", "nb201_fixed_1_none", "--objective", "digits", "--epochs", "1", "--train_subset", "64",
         "--searcher", "random_search", "--no_progress"]  # fmt: skip


def _optimize(*args, cwd, timeout=240):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


BAD_FLAGS = [
    (["--pool_size", "0"], "argument --pool_size: option pool_size must be an integer >= 1, got 0"),
    (["--p_self_crossover", "1.5"], "argument --p_self_crossover: option p_self_crossover must be a probability"),
    (["--n_init", "ten"], "argument --n_init: option n_init must be an integer >= 1, got 'ten'"),
    (["--searcher", "hill_climbing"], "argument --searcher: unknown searcher 'hill_climbing'; registered:"),
    (["--searcher", "regularized_evolution", "--population_size", "4", "--sample_size", "5"],
     "argument --sample_size: option sample_size (5) must not exceed population_size (4)"),
    (["--searcher_option", "beta=2"], "argument --searcher_option: searcher bayesian_optimization takes no option 'beta'"),
    (["--acquisition", "ucb", "--searcher_option", "beta=-1"], "argument --searcher_option: option beta must be"),
    (["--searcher_option", "xi"], "argument --searcher_option: expected KEY=VALUE, got 'xi'"),
    (["--dask_scheduler", "localhost"], "argument --dask_scheduler: dask_scheduler must be an address"),
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
]


@pytest.fixture(scope="module")
def bad_flag_runs(tmp_path_factory, side_by_side):
    """Each BAD_FLAGS command line run in an empty folder of its own, side by side: flags -> (result, folder)."""
    folders = [tmp_path_factory.mktemp("flags") for _ in BAD_FLAGS]
    results = side_by_side(*(partial(_optimize, *flags, cwd=folder, timeout=60)
                             for (flags, _), folder in zip(BAD_FLAGS, folders)))  # fmt: skip
    return {tuple(flags): (result, folder) for (flags, _), result, folder in zip(BAD_FLAGS, results, folders)}


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS)
def test_bad_flag_values_are_argparse_errors_naming_the_flag(bad_flag_runs, flags, message):
    result, folder = bad_flag_runs[tuple(flags)]
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "runs").exists()


def test_a_bad_objective_is_one_line_without_traceback(tmp_path):
    result = _optimize("--objective", "imagenet_full", "--search_space", "nb201_fixed_1_none", cwd=tmp_path, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("optimize.py: error: unknown objective 'imagenet_full'")


def test_a_quick_run_prints_the_best_and_writes_results_then_resumes_and_checks_its_config(tmp_path):
    result = _optimize(*QUICK, "--max_evaluations_total", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    directory = tmp_path / "runs" / "random_search-nb201_fixed_1_none-digits-seed0"
    trials = load_trials(directory)
    assert [t.status for t in trials] == ["done", "done"] and all(t.epochs == 1 for t in trials)
    best = min(trials, key=lambda t: t.objective)
    assert f"best architecture (trial {best.id}): " in result.stdout and best.architecture in result.stdout
    assert (directory / "best_architecture.txt").read_text() == best.architecture + "\n"
    assert f"validation error: {best.val_error:.4f}  test error: {best.test_error:.4f}" in result.stdout
    assert str(directory / "results.csv") in result.stdout
    assert {p.name for p in directory.iterdir()} >= {"results.csv", "incumbent_vs_evaluations.png", "incumbent_vs_time.png"}

    again = _optimize(*QUICK, "--max_evaluations_total", "2", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == result.stdout
    assert len(load_trials(directory)) == 2

    changed = _optimize(*QUICK, "--max_evaluations_total", "2", "--epochs", "2", "--log",
                        "--working_directory", str(directory), cwd=tmp_path)  # fmt: skip
    assert changed.returncode == 1 and "Traceback" not in changed.stderr
    assert "epochs: stored 1, given 2; log: stored False, given True" in changed.stderr


def test_a_misspelt_objective_does_not_claim_the_working_directory(tmp_path):
    args = ["--search_space", "nb201_fixed_1_none", "--searcher", "random_search", "--max_evaluations_total", "1",
            "--working_directory", str(tmp_path / "run"), "--no_progress"]  # fmt: skip
    bad = _optimize(*args, "--objective", "paramz", cwd=tmp_path, timeout=60)
    assert bad.returncode == 1 and "unknown objective 'paramz'" in bad.stderr
    good = _optimize(*args, "--objective", "params", cwd=tmp_path, timeout=120)
    assert good.returncode == 0, good.stderr
    assert "run finished: 1/1 evaluations" in good.stdout


def _done_trials(directory):
    try:
        return [t for t in load_trials(directory) if t.status == "done"]
    except RunError:  # the store does not exist yet
        return []


STOPS = [(signal.SIGINT, "2"), (signal.SIGTERM, "1")]
"""Ctrl-C on a run with 2 workers, SIGTERM on one with 1."""


def _stop_then_resume(stop, n_workers, folder):
    """A run stopped with ``stop`` once a trial is done, then the same command resumed for 3 more
    evaluations: (the stopped process and its output, its trials, the resumed result, the trials after)."""
    directory = folder / "run"
    args = ["--search_space", "nb201_fixed_1_none", "--objective", "debug", "--searcher", "random_search",
            "--n_workers", n_workers, "--working_directory", str(directory), "--no_progress"]  # fmt: skip
    process = subprocess.Popen([sys.executable, str(SCRIPT), *args, "--max_evaluations_total", "100000"],
                               cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while not _done_trials(directory):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(stop)
    output = process.communicate(timeout=60)
    trials = load_trials(directory)
    done = len(_done_trials(directory))
    resumed = _optimize(*args, "--max_evaluations_total", str(done + 3), cwd=folder)
    return (process, *output), trials, resumed, load_trials(directory)


@pytest.fixture(scope="module")
def stopped_runs(tmp_path_factory, side_by_side):
    """_stop_then_resume for each STOPS case, in a folder of its own, side by side: stop -> its outcome."""
    folders = [tmp_path_factory.mktemp("stop") for _ in STOPS]
    outcomes = side_by_side(*(partial(_stop_then_resume, *case, folder) for case, folder in zip(STOPS, folders)))
    return {stop: outcome for (stop, _), outcome in zip(STOPS, outcomes)}


@pytest.mark.parametrize(("stop", "n_workers"), STOPS)
def test_ctrl_c_or_sigterm_stops_cleanly_and_the_run_resumes(stopped_runs, stop, n_workers):
    (process, stdout, stderr), trials, resumed, after = stopped_runs[stop]
    assert process.returncode == 130, stderr
    assert "run interrupted" in stdout and "rerun the same command to continue" in stdout
    assert "Traceback" not in stderr
    assert not [t for t in trials if t.status == "running"]  # in-flight trials went back to pending
    done = sum(t.status == "done" for t in trials)
    assert 1 <= done < 100000

    assert resumed.returncode == 0, resumed.stderr
    assert f"run finished: {done + 3}/{done + 3} evaluations" in resumed.stdout
    assert sum(t.status == "done" for t in after) == done + 3
    assert [t.architecture for t in after[: len(trials)]] == [t.architecture for t in trials]
