"""experiments/generate_surrogate_data.py and experiments/surrogate_regression.py end to end, as
real subprocesses on real files; the trial loader on CSV, JSON and a real run store."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hnas.grammar import load_space
from hnas.runner import load_trials
from hnas.surrogates import get_surrogate
from hnas.surrogates.regression import METRICS, regression_metrics
from hnas.surrogates.trials import TrialsError, load_evaluations

ROOT = Path(__file__).resolve().parents[2]
SPACE = "nb201_fixed_1_none"


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments" / name), *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 random cells evaluated on the parameter-count proxy, written by the generator script."""
    directory = tmp_path_factory.mktemp("trials")
    result = run_script(
        "generate_surrogate_data.py", "--search_space", SPACE, "--objective", "params",
        "--n", "40", "--seed", "3", "--output", str(directory / "cells.csv"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return directory


def test_generated_csv_holds_distinct_evaluated_architectures(generated: Path) -> None:
    with open(generated / "cells.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40
    assert len({r["architecture"] for r in rows}) == 40
    space = load_space(SPACE)
    for row in rows:
        assert row["status"] == "done" and row["objective_name"] == "params" and row["search_space"] == SPACE
        space.parse(row["architecture"])
        assert float(row["value"]) == -int(row["params"])  # the proxy's value is -score


def test_generating_again_continues_the_run_and_rewrites_the_csv_whole(generated: Path, tmp_path: Path) -> None:
    shutil.copytree(generated, tmp_path / "data")
    before = (tmp_path / "data" / "cells.csv").read_text().splitlines()
    result = run_script(
        "generate_surrogate_data.py", "--search_space", SPACE, "--objective", "params",
        "--n", "45", "--seed", "3", "--output", str(tmp_path / "data" / "cells.csv"), "--no_progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"(45 done, 0 failed; run store {tmp_path / 'data' / 'cells.run'})" in result.stderr
    after = (tmp_path / "data" / "cells.csv").read_text().splitlines()
    assert after[:41] == before and len(after) == 46  # the 40 rows kept as they were, 5 new ones
    assert len(load_trials(tmp_path / "data" / "cells.run")) == 45


@pytest.mark.parametrize(
    ("output", "message"),
    [("{tmp}", "cannot write --output {tmp}: it is a folder"),
     ("{tmp}/afile/x.csv", "cannot use {tmp}/afile as --output: {tmp}/afile is not a folder")],
)
def test_a_bad_output_fails_before_any_evaluation(tmp_path: Path, output: str, message: str) -> None:
    (tmp_path / "afile").write_text("")
    result = run_script("generate_surrogate_data.py", "--search_space", SPACE, "--n", "3",
                        "--output", output.format(tmp=tmp_path), "--working_directory", str(tmp_path / "run"))
    assert result.returncode == 1 and result.stderr.strip() == f"generate_surrogate_data.py: error: {message.format(tmp=tmp_path)}"
    assert not (tmp_path / "run").exists()


def test_a_plugin_that_does_not_load_is_one_line(tmp_path: Path) -> None:
    result = run_script("generate_surrogate_data.py", "--plugin", str(tmp_path / "missing.py"), "--n", "3",
                        "--output", str(tmp_path / "data" / "x.csv"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"generate_surrogate_data.py: error: plugin {tmp_path / 'missing.py'}: no such file"
    assert not (tmp_path / "data").exists()


def test_regression_end_to_end(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_script(
        "surrogate_regression.py", "--working_directory", str(generated), "--search_space", SPACE,
        "--surrogate_model", "gp", "gpwl_hierarchical", "--n_train", "10", "25", "--n_seeds", "2",
        "--n_test", "10", "--seed", "1", "--output", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "40 distinct architectures" in result.stderr
    table = result.stdout.splitlines()
    assert table[0].split()[:3] == ["model", "n_train", "seeds"]
    assert [line.split()[:3] for line in table[1:]] == [
        ["gp", "10", "2"], ["gp", "25", "2"], ["gp_hierarchical", "10", "2"], ["gp_hierarchical", "25", "2"],
    ]  # fmt: skip
    with open(out / "records.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 2 * 2 * 2
    assert all(np.isfinite(float(r["nll"])) for r in records)
    # one record recomputed here: split 0 of --seed 1 (10 held out), a GP on the first 10 of the
    # rest, and Pearson's r of its predictions by numpy's own formula
    space = load_space(SPACE)
    data = load_evaluations(generated, space)
    order = np.random.default_rng([1, 0]).permutation(len(data.trees))
    test, train = order[:10], order[10:20]
    gp = get_surrogate("gp", space).fit([data.trees[i] for i in train], data.values[train])
    mean, _ = gp.predict([data.trees[i] for i in test], include_noise=True)
    (row,) = [r for r in records if (r["model"], r["n_train"], r["seed"]) == ("gp", "10", "0")]
    assert float(row["pearson"]) == pytest.approx(np.corrcoef(data.values[test], mean)[0, 1], abs=1e-9)
    # The parameter count is a smooth function of the cell: the surrogates rank held-out cells well.
    assert np.mean([float(r["spearman"]) for r in records if r["n_train"] == "25"]) > 0.5
    with open(out / "summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert {f"{m}_mean" for m in METRICS} <= set(summary[0])
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--working_directory", "{tmp}/missing"], "does not exist"),
        (["--working_directory", "{tmp}"], "no evaluated trials for search space 'nb201_fixed_1_none'"),
        (["--working_directory", "{data}", "--n_train", "50"], "too few trials: n_train=50"),
        (["--working_directory", "{data}", "--output", "{data}/cells.csv"], "cells.csv is not a folder"),
    ],
)
def test_user_errors_are_one_line(args: list[str], message: str, generated: Path, tmp_path: Path) -> None:
    filled = [a.format(tmp=tmp_path, data=generated) for a in args]
    result = run_script("surrogate_regression.py", *filled, "--search_space", SPACE, "--n_seeds", "1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after the progress lines, before any fit or file
    assert last.startswith("surrogate_regression.py: error: ") and message in last
    assert "done" not in result.stderr and not (generated / "surrogate_regression").exists()  # no seed fitted


@pytest.mark.parametrize("script", ["surrogate_regression.py", "generate_surrogate_data.py",
                                    "zero_cost_rank_correlation.py"])
def test_a_negative_seed_is_a_usage_error_naming_the_flag(script: str, tmp_path: Path) -> None:
    result = run_script(script, "--working_directory", str(tmp_path), "--output", str(tmp_path / "o.csv"),
                        "--seed", "-1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"{script}: error: argument --seed: must be >= 0, got -1"


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_loader_reads_csv_json_filters_rows_and_merges_duplicates(tmp_path: Path) -> None:
    space = load_space(SPACE)
    rng = np.random.default_rng(0)
    a, b, c = (space.to_string(space.sample(rng)) for _ in range(3))
    write_csv(tmp_path / "runs.csv", [
        {"architecture": a, "value": 0.5, "status": "done"},
        {"architecture": b, "value": 0.2, "status": "done"},
        {"architecture": c, "value": "", "status": "failed"},
        {"architecture": c, "value": 9.0, "status": "done", },
    ])  # fmt: skip
    (tmp_path / "more.json").write_text(json.dumps([
        {"architecture": a, "val_error": 0.7},
        {"architecture": b, "val_error": 0.4, "search_space": "other_space"},
    ]))  # fmt: skip
    write_csv(tmp_path / "summary.csv", [{"model": "gp", "pearson": 0.3}])  # not trials: skipped
    data = load_evaluations(tmp_path, space)
    values = dict(zip(map(space.to_string, data.trees), data.values))
    assert values == {a: pytest.approx(0.6), b: 0.2, c: 9.0}
    assert len(data.sources) == 2

    write_csv(tmp_path / "bad.csv", [{"architecture": a, "value": "high"}])
    with pytest.raises(TrialsError, match="bad.csv: row 1: value 'high' is not a number"):
        load_evaluations(tmp_path, space)
    write_csv(tmp_path / "bad.csv", [{"architecture": "(CELL Cell (OPS foo))", "value": 1}])
    with pytest.raises(TrialsError, match="bad.csv: architecture"):
        load_evaluations(tmp_path, space)
    (tmp_path / "bad.csv").write_bytes(b"architecture,value\n\x89PNG\r\n")  # an image saved as .csv
    with pytest.raises(TrialsError, match=r"bad.csv: not UTF-8 text \(byte 19\); move it out of the folder"):
        load_evaluations(tmp_path, space)
    (tmp_path / "bad.csv").write_text('architecture,value\n"' + "x" * (1 << 18) + '",1\n')
    with pytest.raises(TrialsError, match=r"bad.csv: not a valid CSV file \(field larger than field limit"):
        load_evaluations(tmp_path, space)


def test_the_search_space_column_matches_however_the_grammar_path_is_typed(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "tiny.cfg").write_text('S -> "Linear2" O O\nO -> "conv3x3" | "id"\n')
    (tmp_path / "other.cfg").write_text('S -> "Linear2" O O\nO -> "conv3x3" | "id"\n')
    monkeypatch.chdir(tmp_path)
    space = load_space("./g/tiny.cfg")
    rows = [{"architecture": "(S Linear2 (O id) (O id))", "value": 0.5, "search_space": "g/tiny.cfg"},
            {"architecture": "(S Linear2 (O id) (O conv3x3))", "value": 0.3, "search_space": str(tmp_path / "g/tiny.cfg")},
            {"architecture": "(S Linear2 (O conv3x3) (O id))", "value": 0.1, "search_space": "other.cfg"},
            {"architecture": "(S Linear2 (O conv3x3) (O conv3x3))", "value": 0.2, "search_space": "g/missing.cfg"}]
    write_csv(tmp_path / "g" / "rows.csv", rows)
    data = load_evaluations(tmp_path / "g", space)
    assert sorted(data.values) == [0.3, 0.5]  # the same file twice; another file, a missing one: not this space


def test_a_real_run_store_is_read_and_one_without_a_config_is_skipped(generated: Path, tmp_path: Path) -> None:
    from hnas.runner import RunConfig, run_search
    from hnas.runner.store import RunStore

    run_search(
        RunConfig(search_space=SPACE, objective="params", searcher="random_search", max_evaluations_total=6, seed=2),
        tmp_path / "run",
    )
    RunStore(tmp_path / "killed").close()  # a run killed before its configuration was stored
    (tmp_path / "cells.csv").write_text((generated / "cells.csv").read_text())
    args = ["--working_directory", str(tmp_path), "--search_space", SPACE, "--surrogate_model", "gp",
            "--n_train", "10", "--n_seeds", "1", "--n_test", "5", "--output", str(tmp_path / "out")]  # fmt: skip
    result = run_script("surrogate_regression.py", *args, "--objective", "params")
    assert result.returncode == 0, result.stderr
    assert f"surrogate_regression.py: warning: skipping {tmp_path / 'killed'}: " in result.stderr
    assert "has no configuration yet" in result.stderr and "Traceback" not in result.stderr
    # the run's 6 trials (its results.csv is not read again) and the 40 generated cells, merged
    assert "(46 rows) from 2 source(s)" in result.stderr

    other = run_script("surrogate_regression.py", *args, "--objective", "digits")
    assert other.returncode == 1 and "no evaluated trials" in other.stderr and "Traceback" not in other.stderr


def test_metrics_on_known_values() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    perfect = regression_metrics(y, y, np.full(4, 1.0))
    assert perfect["pearson"] == pytest.approx(1.0) and perfect["kendall_tau"] == pytest.approx(1.0)
    assert perfect["nll"] == pytest.approx(0.5 * np.log(2 * np.pi))
    reversed_ = regression_metrics(y, y[::-1], np.full(4, 1.0))
    assert reversed_["spearman"] == pytest.approx(-1.0)
    assert np.isnan(regression_metrics(y, np.zeros(4), np.ones(4))["pearson"])


def test_ctrl_c_during_the_fits_is_one_line_and_status_130(generated: Path, tmp_path: Path) -> None:
    import signal

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "experiments" / "surrogate_regression.py"), "--working_directory", str(generated),
         "--search_space", SPACE, "--n_train", "10", "25", "--n_seeds", "1000", "--output", str(tmp_path / "out")],
        stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    lines = []
    for line in process.stderr:  # the fits start after this line
        lines.append(line)
        if line.startswith("n_train"):
            break
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 130
    assert rest.strip().splitlines()[-1] == "surrogate_regression.py: interrupted" and "Traceback" not in rest
