"""The new spaces from the command lines, in subprocesses: hnas info, optimize.py end to end."""

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from hnas.runner import load_trials

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("space", "size"), [("activation", 393_762_525), ("darts", 1_076_746_950_455_072_400)])
def test_hnas_info_counts_the_spaces_exactly(tmp_path, space, size):
    result = _run("-m", "hnas", "info", "--search_space", space, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert int(json.loads(result.stdout)["size"]) == size


SEARCHES = [
    ("activation", "activation_digits", ["--epochs", "1"]),
    ("darts", "darts_digits", ["--epochs", "1", "--train_subset", "64"]),
]


def _search(space, objective, extra, folder):
    return _run(str(ROOT / "experiments" / "optimize.py"), "--working_directory", "run", "--search_space", space,
                "--objective", objective, "--searcher", "bayesian_optimization", "--n_init", "2",
                "--pool_size", "20", "--max_evaluations_total", "3", "--no_progress", *extra, cwd=folder, timeout=300)


@pytest.fixture(scope="module")
def searches(tmp_path_factory, side_by_side):
    """optimize.py's BO search of each SEARCHES space in a folder of its own, side by side:
    space -> (result, run directory)."""
    folders = [tmp_path_factory.mktemp("search") for _ in SEARCHES]
    results = side_by_side(*(partial(_search, *search, folder) for search, folder in zip(SEARCHES, folders)))
    return {space: (result, folder / "run") for (space, *_), result, folder in zip(SEARCHES, results, folders)}


@pytest.mark.slow
@pytest.mark.parametrize(("space", "objective", "extra"), SEARCHES)
def test_optimize_runs_end_to_end_with_bo(searches, space, objective, extra):
    result, directory = searches[space]
    assert result.returncode == 0, result.stderr
    trials = load_trials(directory, status="done")
    assert len(trials) == 3 and all(0 <= t.val_error <= 1 for t in trials)
    assert all(t.architecture.startswith("(L2" if space == "activation" else "(DARTS") for t in trials)
