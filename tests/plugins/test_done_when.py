"""The worked example of docs/extending.md, run as a user would: ``optimize.py --plugin my_space.py
--search_space my.cfg --objective my_space:objective --searcher my_searcher`` in a subprocess (to
completion, resumed after SIGKILL, with two worker processes) and ``hnas info/validate/sample/
parse --plugin my_space.py``; no wrapper script."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from hnas.runner import RunError, load_config, load_trials

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "gnn"
OPTIMIZE = ROOT / "experiments" / "optimize.py"
COMMAND = ["--plugin", "my_space.py", "--search_space", "my.cfg", "--objective", "my_space:objective",
           "--searcher", "my_searcher"]
LAYERS = ("gcn", "gat", "sage", "gin", "cheb", "arma", "graph", "fc", "skip")
LINKS = ("chain4", "residual4", "diamond4", "fork4")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _example(folder: Path, delay: float = 0.0) -> Path:
    """A copy of the example in ``folder``; with ``delay``, its objective sleeps that long first
    (so that a kill lands mid-run)."""
    folder.mkdir()
    for name in ("my_space.py", "my.cfg", "accuracy.csv"):
        shutil.copy(EXAMPLE / name, folder / name)
    if delay:
        with open(folder / "my_space.py", "a") as handle:
            handle.write(f"\n\nimport time\n_instant = objective\n\n\ndef objective(tree):\n"
                         f"    time.sleep({delay})\n    return _instant(tree)\n")
    return folder


def _n_done(directory: Path) -> int:
    try:
        return len(load_trials(directory, status="done"))
    except RunError:  # not created yet, or being created
        return 0


def _optimize(folder: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(OPTIMIZE), *COMMAND, "--no_progress", *extra], cwd=folder,
                          env=_env(), capture_output=True, text=True, timeout=timeout)


def _table() -> dict[tuple[str, str], float]:
    with open(EXAMPLE / "accuracy.csv", newline="") as handle:
        return {(row["link"], row["layer"]): float(row["accuracy"]) for row in csv.DictReader(handle)}


def _expected_error(architecture: str, table: dict[tuple[str, str], float]) -> float:
    """1 - mean accuracy, recomputed from the bracket string: (CELL link (LAYER a) (LAYER b) ...)."""
    words = architecture.replace("(", " ").replace(")", " ").split()
    assert words[0] == "CELL" and words[1] in LINKS and words[2::2] == ["LAYER"] * 4
    return 1.0 - sum(table[words[1], layer] for layer in words[3::2]) / 4


@pytest.mark.slow
def test_the_example_runs_to_completion_with_a_user_objective_and_searcher(tmp_path):
    folder = _example(tmp_path / "example")
    run = _optimize(folder, "--max_evaluations_total", "12", "--working_directory", "run")
    assert run.returncode == 0, run.stderr
    assert "run finished: 12/12 evaluations (0 failed)" in run.stdout
    trials = load_trials(folder / "run")
    table = _table()
    assert [t.status for t in trials] == ["done"] * 12
    assert len({t.architecture for t in trials}) == 12
    for trial in trials:
        assert trial.val_error == pytest.approx(_expected_error(trial.architecture, table), abs=1e-12)
    best = min(t.val_error for t in trials)
    assert f"validation error: {best:.4f}" in run.stdout
    record = load_config(folder / "run")
    assert record["plugins"] == [str(folder / "my_space.py")]
    assert record["search_space"] == str(folder / "my.cfg")
    assert record["objective"] == "my_space:objective" and record["searcher"] == "my_searcher"


@pytest.mark.slow
def test_the_example_resumes_after_kill_9(tmp_path):
    budget, delay = 8, 0.2
    folder = _example(tmp_path / "example", delay)
    command = [sys.executable, str(OPTIMIZE), *COMMAND, "--no_progress", "--max_evaluations_total", str(budget),
               "--working_directory", "killed"]
    process = subprocess.Popen(command, cwd=folder, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while _n_done(folder / "killed") < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "fewer than 3 evaluations after 90 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = {t.id: t.architecture for t in load_trials(folder / "killed", status="done")}
    assert 3 <= len(done_before) < budget

    resumed = _optimize(folder, "--max_evaluations_total", str(budget), "--working_directory", "killed")
    assert resumed.returncode == 0, resumed.stderr
    assert f"run finished: {budget}/{budget} evaluations (0 failed)" in resumed.stdout
    killed = load_trials(folder / "killed")
    assert [t.status for t in killed] == ["done"] * budget
    assert all(killed[i - 1].architecture == a for i, a in done_before.items())


@pytest.mark.slow
def test_the_example_runs_on_two_workers(tmp_path):
    budget = 8
    folder = _example(tmp_path / "example", 0.1)
    parallel = _optimize(folder, "--max_evaluations_total", str(budget), "--working_directory", "straight",
                         "--n_workers", "2")
    assert parallel.returncode == 0, parallel.stderr
    trials = load_trials(folder / "straight")
    assert [t.status for t in trials] == ["done"] * budget
    workers = {t.worker for t in trials}
    assert len(workers) == 2  # two worker processes, each loaded the plugin to evaluate
    table = _table()
    for trial in trials:
        assert trial.val_error == pytest.approx(_expected_error(trial.architecture, table), abs=1e-12)


def _hnas(folder: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hnas", *args, "--plugin", "my_space.py"], cwd=folder, env=_env(),
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_hnas_commands_take_the_plugin(tmp_path, side_by_side):
    folder = _example(tmp_path / "example")
    without_plugin = partial(subprocess.run, [sys.executable, "-m", "hnas", "info", "--search_space", "my.cfg"],
                             cwd=folder, env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    info, validate, sample, without = side_by_side(
        partial(_hnas, folder, "info", "--search_space", "my.cfg", "--json"),
        partial(_hnas, folder, "validate", "my.cfg"),
        partial(_hnas, folder, "sample", "-n", "5", "--search_space", "my.cfg"),
        without_plugin,
    )
    assert info.returncode == 0, info.stderr
    assert '"size": "26244"' in info.stdout  # 4 link patterns x 9^4 layer choices
    assert validate.returncode == 0 and "ok (13 productions, 2 nonterminals, 26244 architectures)" in validate.stdout
    assert sample.returncode == 0, sample.stderr
    lines = sample.stdout.splitlines()
    assert len(lines) == 5 and all(_expected_error(line, _table()) < 1 for line in lines)
    parse = _hnas(folder, "parse", "--search_space", "my.cfg", stdin=" ".join(lines[0].split()) + "\n")
    assert parse.returncode == 0 and parse.stdout.splitlines() == lines[:1]
    assert without.returncode == 1 and "unknown terminal 'chain4'" in without.stderr
