"""surrogate_regression.py with its defaults on what a user has: the folder of one default search."""

from __future__ import annotations

import csv
from functools import partial

import pytest

from ux_helpers import run_script


@pytest.fixture(scope="module")
def default_sized_run(tmp_path_factory) -> str:
    """A finished 20-trial search of README's default space and budget (a cheap objective)."""
    directory = tmp_path_factory.mktemp("search")
    result = run_script("optimize.py", "--objective", "debug", "--searcher", "random_search", "--no_progress",
                        "--working_directory", str(directory / "run"), cwd=directory)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "run finished: 20/20 evaluations (0 failed)" in result.stdout
    return str(directory / "run")


@pytest.mark.slow
def test_the_default_training_size_fits_a_default_search(default_sized_run, tmp_path):
    result = run_script("surrogate_regression.py", "--working_directory", default_sized_run, "--n_seeds", "2",
                        "--output", str(tmp_path / "out"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "20 distinct architectures (20 rows) from 1 source(s)" in result.stderr
    assert "n_train 10, n_test 10 (held out per seed)" in result.stderr
    with open(tmp_path / "out" / "records.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert {(r["model"], r["n_train"]) for r in records} == {("gp", "10"), ("gp_hierarchical", "10")}
    assert len(records) == 2 * 2


TOO_LARGE = [
    (["--n_train", "100"], "too few trials: n_train=100 with n_test=2 held out needs 102 distinct evaluated "
     "architectures, found 20; pass --n_train at most 18 (or leave --n_train out to choose from the data)"),
    (["--n_train", "10", "--n_test", "15"], "needs 25 distinct evaluated architectures, found 20; pass --n_train "
     "at most 5 or lower --n_test"),
    (["--n_train", "1"], "argument --n_train: must be >= 2, got 1"),
]


@pytest.fixture(scope="module")
def too_large_runs(default_sized_run, tmp_path_factory, side_by_side):
    """surrogate_regression.py with each TOO_LARGE flag set, in a folder of its own, side by side:
    flags -> (result, folder)."""
    folders = [tmp_path_factory.mktemp("sizes") for _ in TOO_LARGE]
    results = side_by_side(*(partial(run_script, "surrogate_regression.py", "--working_directory", default_sized_run,
                                     *flags, cwd=folder)
                             for (flags, _), folder in zip(TOO_LARGE, folders)))  # fmt: skip
    return {tuple(flags): (result, folder) for (flags, _), result, folder in zip(TOO_LARGE, results, folders)}


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "message"), TOO_LARGE)
def test_too_large_sizes_name_the_flag_to_change(too_large_runs, flags, message):
    result, folder = too_large_runs[tuple(flags)]
    assert result.returncode in (1, 2) and message in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "surrogate_regression").exists()
