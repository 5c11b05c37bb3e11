"""Runs with several objectives and cost constraints: the stored loss vectors, the Pareto front
and hypervolume files, resume, the costs counted from the compiled network, and that no
architecture over a constraint is ever trained (a real objective in worker processes records
every network it trains)."""

from __future__ import annotations

import csv
import itertools
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from hnas.grammar import load_space
from hnas.objectives.costs import network_costs
from hnas.runner import RunConfig, RunConfigError, load_trials, run_search
from hnas.runner.store import _SCHEMA, RunStore, STORE_FILENAME
from hnas.semantics import compile_tree

from mo_objectives import TRAINING_LOG, pair, quality_and_cost

SPACE = "nb201_fixed_1_none"
SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "optimize.py"
HELPERS = Path(__file__).resolve().parent / "mo_objectives.py"


def _config(**changes) -> RunConfig:
    values = dict(search_space=SPACE, objective=pair, searcher="mo_regularized_evolution",
                  searcher_options={"population_size": 6}, objectives=("val_error", "extras.cost"),
                  seed=3, max_evaluations_total=16)  # fmt: skip
    values.update(changes)
    return RunConfig(**values)


def _dominated(a, b) -> bool:
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def test_vectors_front_and_hypervolume_files(tmp_path):
    summary = run_search(_config(), tmp_path / "run")
    space = load_space(SPACE)
    trials = load_trials(tmp_path / "run")
    assert len(trials) == 16 and all(t.status == "done" for t in trials)
    for t in trials:
        assert t.objectives == pytest.approx(quality_and_cost(space.parse(t.architecture)))
        assert t.objective == t.objectives[0]
    vectors = {t.id: t.objectives for t in trials}
    expected_front = {i for i, v in vectors.items() if not any(_dominated(v, w) for w in vectors.values())}
    with open(tmp_path / "run" / "pareto_front.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {int(r["trial"]) for r in rows} == expected_front
    assert list(rows[0])[:3] == ["trial", "val_error", "extras.cost"]
    with open(tmp_path / "run" / "hypervolume.csv") as handle:
        trace = [float(r["hypervolume"]) for r in csv.DictReader(handle)]
    points = np.array([t.objectives for t in sorted(trials, key=lambda t: t.told)])
    reference = points.max(axis=0) + 0.1 * (points.max(axis=0) - points.min(axis=0))
    # the area under the front's staircase, by a grid of the distinct coordinates
    xs, ys = sorted({*points[:, 0], reference[0]}), sorted({*points[:, 1], reference[1]})
    area = sum((x1 - x0) * (y1 - y0) for (x0, x1), (y0, y1) in itertools.product(zip(xs, xs[1:]), zip(ys, ys[1:]))
               if any(p[0] <= x0 and p[1] <= y0 for p in points))  # fmt: skip
    assert trace[-1] == pytest.approx(area) and trace == sorted(trace) and len(trace) == 16
    text = str(summary)
    assert f"Pareto front over val_error, extras.cost: {len(expected_front)} of 16 done trials" in text
    assert "hypervolume" in text and "reference point: val_error" in text
    for name in ("pareto_front.png", "hypervolume_vs_evaluations.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0


def test_resume_continues_like_an_uninterrupted_run(tmp_path):
    run_search(_config(max_evaluations_total=16), tmp_path / "straight")
    run_search(_config(max_evaluations_total=9), tmp_path / "resumed")
    run_search(_config(max_evaluations_total=16), tmp_path / "resumed")  # a new session: rebuilt from the store
    straight, resumed = (load_trials(tmp_path / name) for name in ("straight", "resumed"))
    assert [t.architecture for t in straight] == [t.architecture for t in resumed]
    assert [t.objectives for t in straight] == [t.objectives for t in resumed]


def test_costs_are_counted_from_the_compiled_network(tmp_path):
    run_search(_config(objectives=("val_error", "params", "flops"), max_evaluations_total=4,
                       searcher="mo_random_search", searcher_options={}), tmp_path / "run")  # fmt: skip
    space = load_space(SPACE)
    for t in load_trials(tmp_path / "run"):
        model = compile_tree(space.parse(t.architecture), num_classes=10, in_channels=3)
        params = sum(p.numel() for p in model.parameters())
        assert t.params == params and t.objectives[1] == params  # the function objective reports none
        assert t.objectives[2] == t.flops > 0


def test_flops_and_params_by_hand_on_a_tiny_network():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    costs = network_costs(net, (1, 4, 4))
    assert costs["params"] == (2 * 1 * 9 + 2) + (3 * 2 + 3)
    # conv: 2x4x4 outputs x (9 weights + 1 bias); pooling: one per input element (32); linear: 3 x (2 + 1)
    assert costs["flops"] == 32 * 10 + 32 + 9


def test_latency_is_measured_and_a_missing_extra_fails_the_trial(tmp_path):
    run_search(_config(objectives=("latency", "extras.cost"), max_evaluations_total=3), tmp_path / "latency")
    trials = load_trials(tmp_path / "latency")
    assert all(t.status == "done" and t.extras["latency"] > 0 and t.objectives[0] == t.extras["latency"]
               for t in trials)  # fmt: skip
    summary = run_search(_config(objectives=("val_error", "extras.size"), max_evaluations_total=2), tmp_path / "missing")
    trials = load_trials(tmp_path / "missing")
    assert all(t.status == "failed" for t in trials) and summary.n_failed == 2
    assert trials[0].error == "objective extras.size: the evaluation reported no size in extras (extras: cost)"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"objectives": ("val_error", "size")}, "objectives",
         "objectives: unknown objective 'size'; available: val_error, params, flops, latency, a zero-cost proxy ("),
        ({"objectives": ()}, "objectives", "searcher mo_regularized_evolution is multi-objective: name the objectives"),
        ({"searcher": "regularized_evolution", "searcher_options": {}}, "objectives",
         "searcher regularized_evolution minimises one objective, got 2; use a multi-objective searcher"),
        ({"objectives": "val_error,val_error"}, "objectives", "objective val_error is given more than once"),
        ({"max_params": 0}, "max_params", "max_params must be an integer >= 1, got 0"),
        ({"max_flops": -1.0}, "max_flops", "max_flops must be a number > 0, got -1.0"),
    ],
)
def test_bad_objectives_and_limits_are_one_clear_error(changes, field, message):
    with pytest.raises(RunConfigError) as info:
        _config(**changes)
    assert info.value.field == field and message in str(info.value)


def test_an_older_store_gets_the_objectives_column(tmp_path):
    connection = sqlite3.connect(tmp_path / STORE_FILENAME)
    connection.executescript(f"{_SCHEMA}; INSERT INTO meta (key, value) VALUES ('schema_version', 2);")
    connection.close()
    RunStore(tmp_path).close()
    columns = [row[1] for row in sqlite3.connect(tmp_path / STORE_FILENAME).execute("PRAGMA table_info(trials)")]
    assert "objectives" in columns


def _optimize(*args, cwd, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip


def test_constraints_prevent_any_training_of_infeasible_trees(tmp_path):
    log = tmp_path / "trained.txt"
    env = {**os.environ, TRAINING_LOG: str(log)}
    limit = 100_000
    result = _optimize("--working_directory", str(tmp_path / "run"), "--search_space", SPACE, "--objective",
                       f"{HELPERS}:recording", "--searcher", "regularized_evolution", "--max_params", str(limit),
                       "--max_evaluations_total", "12", "--n_workers", "2", "--no_progress", "--seed", "1",
                       cwd=tmp_path, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    trials = load_trials(tmp_path / "run")
    trained = [line.split("\t") for line in log.read_text().splitlines()]
    space = load_space(SPACE)
    infeasible = [t for t in trials if t.status == "failed"]
    assert infeasible and len(trained) == 12 - len(infeasible) > 0
    trained_trees = {space.to_string(space.parse(tree)) for _, tree in trained}
    for t in infeasible:
        params = sum(p.numel() for p in compile_tree(space.parse(t.architecture), num_classes=10, in_channels=3).parameters())
        assert params > limit and t.params == params and t.architecture not in trained_trees
        assert t.error == f"infeasible: {params:,} parameters > --max_params {limit:,} (not trained)"
    assert all(int(params) <= limit for params, _ in trained)


def test_an_unknown_objective_name_is_one_line(tmp_path):
    result = _optimize("--searcher", "mo_random_search", "--objectives", "val_error,size", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --objectives: objectives: unknown objective 'size'; available: val_error, params" in result.stderr
