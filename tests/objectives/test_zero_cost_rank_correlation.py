"""experiments/zero_cost_rank_correlation.py as a real subprocess on the run store of a real short
search on the embedded digits task; the correlations checked against scipy on values recomputed here."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from hnas.grammar import load_space
from hnas.objectives import get_objective
from hnas.runner import RunConfig, run_search
from hnas.runner.store import TrialStatus, load_trials

ROOT = Path(__file__).resolve().parents[2]
SPACE = "nb201_fixed_1_none"


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "zero_cost_rank_correlation.py"), *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short real random search on digits (1 epoch on 100 images per trial)."""
    directory = tmp_path_factory.mktemp("runs")
    config = RunConfig(
        search_space=SPACE, objective="digits", searcher="random_search", seed=5, max_evaluations_total=6,
        epochs=1, train_subset=100,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = run_search(config, directory / "search")
    assert summary.n_done == 6
    return directory


@pytest.mark.slow  # a real search and a subprocess: about 10 s of CPU
def test_correlations_of_a_real_run_store(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_script(
        "--working_directory", str(runs), "--search_space", SPACE, "--objective", "digits",
        "--proxies", "params,l2_norm,synflow", "--n_seeds", "2", "--seed", "3", "--batch_size", "8",
        "--output", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    trials = load_trials(runs / "search", status=TrialStatus.DONE)
    errors = {}
    for trial in trials:
        errors.setdefault(trial.architecture, []).append(trial.val_error)
    assert f"{len(errors)} distinct architectures from 1 run(s)" in result.stderr
    table = result.stdout.splitlines()
    assert table[0].split() == ["proxy", "seeds", "kendall_tau", "spearman", "failed", "s/net"]
    assert [line.split()[:2] for line in table[1:]] == [["params", "2"], ["l2_norm", "2"], ["synflow", "2"]]

    # params by hand: the parameter count of each network against its mean validation accuracy
    space = load_space(SPACE)
    objective = get_objective("digits")
    counts = [sum(p.numel() for p in objective.build(space.parse(a)).parameters()) for a in errors]
    accuracy = [-np.mean(v) for v in errors.values()]
    tau, rho = stats.kendalltau(counts, accuracy)[0], stats.spearmanr(counts, accuracy)[0]
    records = read_csv(out / "records.csv")
    assert [(r["proxy"], r["seed"]) for r in records] == [
        (p, s) for p in ("params", "l2_norm", "synflow") for s in ("3", "4")
    ]  # fmt: skip
    for record in records[:2]:
        assert float(record["kendall_tau"]) == pytest.approx(tau, abs=1e-12)
        assert float(record["spearman"]) == pytest.approx(rho, abs=1e-12)
        assert record["failed"] == "0"

    # the scores file holds each proxy's score per architecture and seed; its correlations are the records'
    scores = read_csv(out / "scores.csv")
    assert len(scores) == 2 * len(errors)
    for record in records:
        rows = [r for r in scores if r["seed"] == record["seed"]]
        value = stats.kendalltau([float(r[record["proxy"]]) for r in rows], [-float(r["val_error"]) for r in rows])[0]
        assert float(record["kendall_tau"]) == pytest.approx(value, abs=1e-12)
    summary = read_csv(out / "summary.csv")
    assert float(summary[0]["kendall_tau_mean"]) == pytest.approx(tau) and float(summary[0]["kendall_tau_std"]) == 0
    assert (out / "correlation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_too_few_architectures_is_one_clear_line(tmp_path: Path) -> None:
    result = run_script("--working_directory", str(tmp_path), "--search_space", SPACE, "--proxies", "params")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"zero_cost_rank_correlation.py: error: found 0 distinct trained architectures of {SPACE} with "
        f"objective digits in 0 run(s) under {tmp_path}; at least 3 are needed"
    )


@pytest.mark.slow
def test_sample_mode_trains_its_own_architectures(tmp_path: Path) -> None:
    out = tmp_path / "zc"
    args = ("--sample", "4", "--search_space", SPACE, "--epochs", "1", "--train_subset", "100",
            "--proxies", "params", "--n_seeds", "1", "--batch_size", "8", "--output", str(out))  # fmt: skip
    result = run_script(*args)
    assert result.returncode == 0, result.stderr
    trials = load_trials(out / "sample")
    assert len(trials) == 4 and all(t.status == TrialStatus.DONE for t in trials)
    assert "from 1 run(s) under" in result.stderr
    first = read_csv(out / "records.csv")
    again = run_script(*args)  # the sample run is finished: it is read again, nothing retrained
    assert again.returncode == 0 and len(load_trials(out / "sample")) == 4
    assert read_csv(out / "records.csv") == first
    assert math.isfinite(float(first[0]["kendall_tau"])) or len({t.val_error for t in trials}) < 2


def test_a_plugin_space_is_scored_with_its_plugin(tmp_path: Path) -> None:
    from hnas.runner.store import RunStore

    (tmp_path / "tri_plugin.py").write_text(
        "from hnas.semantics import register_topology\nregister_topology('Tri', [(1, 2), (2, 3), (1, 3)])\n"
    )
    (tmp_path / "tri.cfg").write_text('S -> "Tri" O O O\nO -> "conv3x3" | "id" | "avg_pool"\n')
    config = RunConfig(search_space=str(tmp_path / "tri.cfg"), objective="digits", searcher="random_search",
                       plugins=(str(tmp_path / "tri_plugin.py"),), max_evaluations_total=4)  # fmt: skip
    store = RunStore(tmp_path / "runs" / "tri")
    try:
        store.set_config(config.to_record())
        for k, ops in enumerate(["conv3x3 id avg_pool", "id id conv3x3", "avg_pool conv3x3 conv3x3", "id id id"]):
            tree = "(S Tri " + " ".join(f"(O {op})" for op in ops.split()) + ")"
            trial_id, _ = store.add_trial(tree, lambda i: i, {})
            store.mark_running(trial_id, "w")
            store.finish_trial(trial_id, {"result": {"val_error": 0.1 * (k + 1)}, "eval_seconds": 1.0}, 0.1 * (k + 1), {}, 1.0)
    finally:
        store.close()
    args = ["--working_directory", str(tmp_path / "runs"), "--search_space", str(tmp_path / "tri.cfg"),
            "--proxies", "params", "--n_seeds", "1", "--batch_size", "4", "--output", str(tmp_path / "out")]
    without = run_script(*args)
    assert without.returncode == 1 and "Tri" in without.stderr and "Traceback" not in without.stderr
    result = run_script(*args, "--plugin", str(tmp_path / "tri_plugin.py"))
    assert result.returncode == 0, result.stderr
    assert "4 distinct architectures from 1 run(s)" in result.stderr
    (row,) = read_csv(tmp_path / "out" / "summary.csv")
    assert row["proxy"] == "params"
