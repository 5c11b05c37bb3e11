"""The new spaces from the command lines, in subprocesses: hnas info, optimize.py end to end."""

import json
import subprocess
import sys
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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("space", "objective", "extra"),
    [
        ("activation", "activation_digits", ["--epochs", "1"]),
        ("darts", "darts_digits", ["--epochs", "1", "--train_subset", "64"]),
    ],
)
def test_optimize_runs_end_to_end_with_bo(tmp_path, space, objective, extra):
    result = _run(str(ROOT / "experiments" / "optimize.py"), "--working_directory", "run", "--search_space", space,
                  "--objective", objective, "--searcher", "bayesian_optimization", "--n_init", "2",
                  "--pool_size", "20", "--max_evaluations_total", "3", "--no_progress", *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = load_trials(tmp_path / "run", status="done")
    assert len(trials) == 3 and all(0 <= t.val_error <= 1 for t in trials)
    assert all(t.architecture.startswith("(L2" if space == "activation" else "(DARTS") for t in trials)
