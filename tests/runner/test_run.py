"""The search loop in the driver process: counts, results files, failures, Ctrl-C, resume, seeds."""

import math
from collections import Counter

import pytest
from runner_objectives import (
    SPACE,
    FailingObjective,
    InterruptingObjective,
    SyntheticObjective,
    failure_kind,
    read_log,
)

from hnas.grammar import Tree, load_space
from hnas.runner import ConfigMismatchError, RunConfig, load_trials, run_search
from hnas.runner.driver import LOG_FLOOR
from hnas.runner.results import PLOT_EVALUATIONS, PLOT_TIME, RESULTS_CSV
from hnas.searchers import Searcher, SearcherError, register_searcher
from hnas.searchers.synthetic import op_quality_loss


def _config(objective, **changes):
    values = dict(search_space=SPACE, objective=objective, searcher="random_search", seed=3, max_evaluations_total=8)
    values.update(changes)
    return RunConfig(**values)


def test_a_run_evaluates_exactly_the_budget_and_writes_results(tmp_path):
    log = tmp_path / "log.txt"
    summary = run_search(_config(SyntheticObjective(log)), tmp_path / "run")
    trials = load_trials(tmp_path / "run")
    assert [t.status for t in trials] == ["done"] * 8 and summary.n_evaluations == 8 and summary.finished
    space = load_space(SPACE)
    for trial in trials:  # the stored values are the objective's, for the stored architecture
        assert trial.val_error == pytest.approx(op_quality_loss(space.parse(trial.architecture)))
        assert trial.objective == trial.val_error and trial.test_error == pytest.approx(trial.val_error + 0.01)
    assert summary.best.objective == min(t.objective for t in trials)
    assert len({t.seed for t in trials}) == 8 and len({t.architecture for t in trials}) == 8
    assert Counter(kind for kind, *_ in read_log(log)) == {"start": 8, "end": 8}

    lines = (tmp_path / "run" / RESULTS_CSV).read_text().splitlines()
    assert lines[0].startswith("trial,status,objective,incumbent") and len(lines) == 9
    incumbents = [float(line.split(",")[3]) for line in lines[1:]]
    assert incumbents == sorted(incumbents, reverse=True) and incumbents[-1] == summary.best.objective
    for plot in (PLOT_EVALUATIONS, PLOT_TIME):
        assert (tmp_path / "run" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = str(summary)
    assert summary.best.architecture in text and "8/8 evaluations" in text and RESULTS_CSV in text


def test_rerunning_a_finished_run_prints_its_summary_without_evaluating(tmp_path):
    log = tmp_path / "log.txt"
    first = run_search(_config(SyntheticObjective(log)), tmp_path / "run")
    again = run_search(_config(SyntheticObjective(log)), tmp_path / "run")
    assert len(read_log(log)) == 16  # no new start/end lines
    assert str(again) == str(first) and "run finished: 8/8 evaluations" in str(again)
    assert again.best == first.best


def test_raising_the_budget_continues_a_finished_run(tmp_path):
    log = tmp_path / "log.txt"
    run_search(_config(SyntheticObjective(log)), tmp_path / "run")
    summary = run_search(_config(SyntheticObjective(log), max_evaluations_total=12), tmp_path / "run")
    assert summary.n_evaluations == 12 and len(load_trials(tmp_path / "run")) == 12
    assert Counter(kind for kind, *_ in read_log(log))["end"] == 12
    straight = run_search(_config(SyntheticObjective(), max_evaluations_total=12), tmp_path / "straight")
    assert [t.architecture for t in load_trials(tmp_path / "run")] == [
        t.architecture for t in load_trials(straight.working_directory)
    ]


def test_a_changed_configuration_is_an_error_naming_the_keys(tmp_path):
    run_search(_config(SyntheticObjective(), max_evaluations_total=2), tmp_path / "run")
    with pytest.raises(ConfigMismatchError, match=r"searcher: stored 'random_search', given 'regularized_evolution'; seed: stored 3, given 4") as info:
        run_search(_config(SyntheticObjective(), seed=4, searcher="regularized_evolution"), tmp_path / "run")
    assert set(info.value.differences) == {"seed", "searcher"}
    assert len(load_trials(tmp_path / "run")) == 2


def test_failing_architectures_are_failed_trials_and_the_search_goes_on(tmp_path):
    summary = run_search(_config(FailingObjective(), max_evaluations_total=25), tmp_path / "run")
    space = load_space(SPACE)
    trials = load_trials(tmp_path / "run")
    assert len(trials) == 25 and summary.n_evaluations == 25
    expected_messages = {
        "raise": "ValueError: channel mismatch in this architecture",
        "oom": "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "nan": "the validation error is nan (NaN or infinite loss)",
    }
    kinds = Counter()
    for trial in trials:
        kind = failure_kind(space.parse(trial.architecture))
        kinds[kind] += 1
        if kind == "ok":
            assert trial.status == "done" and trial.error is None and trial.objective is not None
        else:
            assert trial.status == "failed" and trial.error == expected_messages[kind] and trial.objective is None
    assert all(kinds[k] > 0 for k in ("raise", "oom", "nan", "ok")), kinds
    assert summary.n_failed == 25 - kinds["ok"]
    assert summary.best.status == "done"


def test_the_searcher_is_told_none_for_failed_trials(tmp_path):
    from hnas.runner.driver import build_searcher, restore_searcher
    from hnas.runner.store import RunStore

    config = _config(FailingObjective(), max_evaluations_total=10)
    run_search(config, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    space = load_space(SPACE)
    searcher = build_searcher(config, space)
    restore_searcher(searcher, store)  # the searcher as the run left it, rebuilt from the store
    store.close()
    history = dict(searcher.history)
    trials = load_trials(tmp_path / "run")
    assert [t.told for t in trials] == list(range(1, 11))  # one worker: told in trial order
    assert len(history) == 10 and any(t.objective is None for t in trials)
    for trial in trials:
        assert history[space.parse(trial.architecture)] == trial.objective  # None when failed


def test_log_objective_is_the_log_of_the_validation_error(tmp_path):
    run_search(_config(SyntheticObjective(), log=True), tmp_path / "run")
    for trial in load_trials(tmp_path / "run"):
        assert trial.objective == pytest.approx(math.log(max(trial.val_error, LOG_FLOOR)))


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path):
    log = tmp_path / "log.txt"
    summary = run_search(_config(InterruptingObjective(log, interrupt_at=4)), tmp_path / "run")
    assert summary.interrupted and summary.n_evaluations == 3 and "rerun the same command" in str(summary)
    assert [t.status for t in load_trials(tmp_path / "run")] == ["done"] * 3 + ["pending"]
    interrupted_seed = read_log(log)[-1][2]

    resumed = run_search(_config(SyntheticObjective(log)), tmp_path / "run")
    trials = load_trials(tmp_path / "run")
    assert resumed.finished and not resumed.interrupted and [t.status for t in trials] == ["done"] * 8
    assert trials[3].seed == interrupted_seed and trials[3].attempts == 2  # re-queued with the same tree
    straight = run_search(_config(SyntheticObjective()), tmp_path / "straight")
    assert [t.architecture for t in trials] == [t.architecture for t in load_trials(straight.working_directory)]


@pytest.mark.parametrize("searcher", ["random_search", "regularized_evolution", "bayesian_optimization"])
def test_the_same_seed_gives_the_same_trials(tmp_path, searcher):
    options = {"n_init": 3, "pool_size": 20} if searcher == "bayesian_optimization" else {}
    config = _config(SyntheticObjective(), searcher=searcher, searcher_options=options, max_evaluations_total=6)
    run_search(config, tmp_path / "a")
    run_search(config, tmp_path / "b")
    run_search(config.replace(seed=4), tmp_path / "c")
    a, b, c = ([(t.architecture, t.seed) for t in load_trials(tmp_path / d)] for d in "abc")
    assert a == b and a != c


def quality(tree, seed):
    return op_quality_loss(tree)


def test_a_callable_objective_returning_a_number_works(tmp_path):
    summary = run_search(_config(quality, max_evaluations_total=4), tmp_path / "run")
    assert summary.n_done == 4
    assert all(t.test_error is None and t.val_error is not None for t in load_trials(tmp_path / "run"))


def test_a_second_process_on_the_same_directory_is_refused(tmp_path):
    import fcntl

    from hnas.runner import RunLockedError

    (tmp_path / "run").mkdir()
    with open(tmp_path / "run" / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a running driver holds it
        with pytest.raises(RunLockedError, match="another process is running the search in"):
            run_search(_config(SyntheticObjective()), tmp_path / "run")
    assert run_search(_config(SyntheticObjective()), tmp_path / "run").n_done == 8


@pytest.mark.parametrize(
    ("bad", "error"),
    [({"objective": "paramz"}, "unknown objective 'paramz'"), ({"searcher": "hill_climbing"}, "unknown searcher")],
)
def test_a_configuration_that_fails_to_start_leaves_the_directory_reusable(tmp_path, bad, error):
    from hnas.errors import UsageError

    good = RunConfig(search_space=SPACE, objective="params", searcher="random_search", max_evaluations_total=2)
    with pytest.raises(UsageError, match=error):  # ObjectiveError, RunError
        run_search(good.replace(**bad), tmp_path / "run")
    summary = run_search(good, tmp_path / "run")  # not a ConfigMismatchError
    assert summary.n_done == 2 and len(load_trials(tmp_path / "run")) == 2


def test_a_started_run_still_refuses_another_configuration_after_a_failed_start(tmp_path):
    good = RunConfig(search_space=SPACE, objective="params", searcher="random_search", max_evaluations_total=2)
    run_search(good, tmp_path / "run")
    with pytest.raises(ConfigMismatchError, match="objective: stored 'params', given 'paramz'"):
        run_search(good.replace(objective="paramz"), tmp_path / "run")
    assert run_search(good, tmp_path / "run").n_done == 2


def test_only_lost_workers_count_towards_failing_a_trial_not_interrupted_sessions(tmp_path):
    from runner_objectives import DieOnceObjective

    from hnas.runner.executors import LocalPoolExecutor

    log, marker = tmp_path / "log.txt", tmp_path / "died"
    for _ in range(2):  # two sessions stopped by Ctrl-C while trial 1 was being evaluated
        assert run_search(_config(InterruptingObjective(log, interrupt_at=1)), tmp_path / "run").interrupted
    (first,) = load_trials(tmp_path / "run")
    assert (first.status, first.attempts) == ("pending", 2)

    objective = DieOnceObjective(log, marker, delay=0.2)  # its worker dies once, on trial 1
    run_search(_config(objective), tmp_path / "run", executor=LocalPoolExecutor(objective, n_workers=1))
    trials = load_trials(tmp_path / "run")
    assert int(marker.read_text()) == trials[0].seed
    assert (trials[0].status, trials[0].attempts, trials[0].error) == ("done", 4, None)
    assert [t.status for t in trials] == ["done"] * 8


SIX = 'S -> "Linear2" OPS OPS | "Residual2" OPS OPS OPS\nOPS -> "conv3x3" | "zero"\n'
"""Six architectures: Linear2 of two convs, and the five Residual2 cells whose zeros keep it connected."""


@pytest.mark.parametrize(
    ("searcher", "n_workers"),
    [("random_search", 1), ("random_search", 2), ("regularized_evolution", 1), ("bayesian_optimization", 1)],
)
def test_a_run_on_a_space_smaller_than_its_budget_evaluates_it_all_and_finishes(tmp_path, searcher, n_workers):
    grammar = tmp_path / "six.cfg"
    grammar.write_text(SIX)
    options = {"n_init": 2, "pool_size": 10} if searcher == "bayesian_optimization" else {}
    config = _config(SyntheticObjective(), search_space=(str(grammar),), searcher=searcher,
                     searcher_options=options, max_evaluations_total=10, n_workers=n_workers)
    summary = run_search(config, tmp_path / "run")
    trials = load_trials(tmp_path / "run")
    assert len({t.architecture for t in trials}) == len(trials) == load_space(str(grammar)).count() == 6
    assert summary.finished and summary.exit_code == 0 and summary.n_done == 6
    assert summary.exhausted.endswith("the search space looks exhausted after 6 architectures")
    text = str(summary)
    assert "run finished: 6/10 evaluations" in text and "the run ended early:" in text and "rerun" not in text
    assert len((tmp_path / "run" / RESULTS_CSV).read_text().splitlines()) == 7
    again = run_search(config, tmp_path / "run")  # nothing new to find: it says so again
    assert again.n_evaluations == 6 and again.finished and len(load_trials(tmp_path / "run")) == 6


class OutsideTheSpace(Searcher):
    """A user's searcher with a bug: its trees are not derivations of the run's space."""

    def propose(self) -> Tree:
        return Tree("S", "Linear1", (Tree("OPS", "id"),))


def test_a_searcher_proposing_outside_the_space_stops_the_run_before_anything_is_stored(tmp_path):
    register_searcher("outside_the_space_test", OutsideTheSpace, replace=True)
    log = tmp_path / "log.txt"
    with pytest.raises(SearcherError, match=r"OutsideTheSpace.propose\(\) returned a tree outside the search space "
                                            r"\(position 2: unknown nonterminal 'S'\)"):
        run_search(_config(SyntheticObjective(log), searcher="outside_the_space_test"), tmp_path / "run")
    assert not log.exists() and not (tmp_path / "run").exists()  # nothing evaluated, the folder removed
    assert run_search(_config(SyntheticObjective(log)), tmp_path / "run").n_done == 8
