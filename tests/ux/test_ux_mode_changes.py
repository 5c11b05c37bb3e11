"""Runs that would silently do something else than asked: BO without a model phase, --log on an
objective with negative values, a run where every evaluation failed."""

from __future__ import annotations

import importlib.util

import pytest

from hnas.runner import RunConfig, RunError, load_trials, run_search
from hnas.runner.driver import EXIT_ALL_FAILED
from ux_helpers import FAILING_GRAMMAR, ROOT, run_script

TINY = 'NET -> "Linear2" OP OP\nOP -> "avg_pool" | "conv3x3"\n'
NOTE = "every evaluation is one of bayesian_optimization's random initial points, so this run is a random search"


def _optimize_module():
    spec = importlib.util.spec_from_file_location("optimize_script", ROOT / "experiments" / "optimize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_bo_with_a_budget_of_at_most_n_init_says_it_is_random_search_before_evaluating(tmp_path):
    (tmp_path / "tiny.cfg").write_text(TINY)
    result = run_script("optimize.py", "--search_space", "tiny.cfg", "--objective", "debug", "--working_directory",
                        "run", "--max_evaluations_total", "1", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    note = f"optimize.py: note: --max_evaluations_total 1 <= --n_init 10: {NOTE}; raise --max_evaluations_total"
    assert note in result.stderr
    assert result.stderr.index(note) < result.stderr.index("eval")  # before the progress bar's first evaluation
    assert len(load_trials(tmp_path / "run")) == 1


@pytest.mark.parametrize(
    ("flags", "noted"),
    [
        (["--max_evaluations_total", "10"], True),
        (["--max_evaluations_total", "11"], False),
        (["--max_evaluations_total", "3", "--n_init", "2"], False),
        (["--max_evaluations_total", "3", "--n_init", "3"], True),
        (["--max_evaluations_total", "3", "--searcher", "random_search"], False),
    ],
)
def test_the_random_search_note_is_given_exactly_when_bo_has_no_model_phase(flags, noted, capsys):
    module = _optimize_module()
    parser = module.build_parser()
    config = module.config_from_args(parser.parse_args(flags), parser)
    assert (NOTE in capsys.readouterr().err) == noted
    n_init = config.searcher_options.get("n_init", 10)
    assert noted == (config.searcher == "bayesian_optimization" and config.max_evaluations_total <= n_init)


@pytest.mark.slow
def test_log_with_an_objective_that_can_be_negative_is_refused_before_any_evaluation(tmp_path):
    result = run_script("optimize.py", "--search_space", "nb201_fixed_1_none", "--objective", "params", "--log",
                        "--searcher", "random_search", "--working_directory", "run", "--no_progress",
                        cwd=tmp_path, timeout=120)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "optimize.py: error: log: objective params can report negative values, whose log is undefined; "
        "run without --log (log=False)"
    ]
    assert not (tmp_path / "run").exists()  # nothing was evaluated and the directory is not claimed


@pytest.mark.slow
def test_log_is_accepted_for_objectives_that_are_nonnegative_and_refused_for_the_proxies(tmp_path):
    from hnas.objectives import DebugObjective, ProxyObjective, TrainingObjective

    assert ProxyObjective.nonnegative is False  # -score
    assert TrainingObjective.nonnegative is True and DebugObjective.nonnegative is True
    config = RunConfig(search_space="nb201_fixed_1_none", objective="debug", searcher="random_search",
                       max_evaluations_total=1, log=True)  # fmt: skip
    summary = run_search(config, tmp_path / "debug")
    assert summary.n_done == 1 and summary.exit_code == 0
    with pytest.raises(RunError, match="objective synflow can report negative values"):
        run_search(config.replace(objective="synflow"), tmp_path / "synflow")
    assert not (tmp_path / "synflow").exists()


@pytest.mark.slow
def test_a_run_where_every_evaluation_failed_exits_with_3_and_says_so(tmp_path):
    (tmp_path / "fail.cfg").write_text(FAILING_GRAMMAR)
    result = run_script("optimize.py", "--search_space", "fail.cfg", "--objective", "digits", "--train_subset", "1",
                        "--epochs", "1", "--searcher", "random_search", "--max_evaluations_total", "2",
                        "--working_directory", "run", "--no_progress", cwd=tmp_path)  # fmt: skip
    assert result.returncode == EXIT_ALL_FAILED == 3, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run finished: 2/2 evaluations (2 failed) in ")
    assert lines[1] == "no architecture was evaluated successfully: all 2 evaluations failed"
    assert lines[2].startswith("first error: ValueError: Expected more than 1 value per channel when training")
    assert [t.status for t in load_trials(tmp_path / "run")] == ["failed", "failed"]
    assert not (tmp_path / "run" / "best_architecture.txt").exists()
