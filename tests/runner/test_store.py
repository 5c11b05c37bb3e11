"""The sqlite run store: transactions, re-queueing, read-only loading, configuration checks."""

import math
import pickle

import pytest

from hnas.runner import RunConfig, RunConfigError, RunError, Trial, TrialStatus, load_config, load_trials
from hnas.runner.config import config_differences
from hnas.runner.store import STORE_FILENAME, RunStore


def _outcome(val_error):
    return {
        "result": {"val_error": val_error, "test_error": 0.5, "params": 123, "flops": None, "train_time": 2.5,
                   "epochs": 3, "learning_curve": [0.9, val_error], "extras": {"synflow": 1.5}},
        "error": None,
        "eval_seconds": 3.0,
    }  # fmt: skip


def test_trial_lifecycle_and_searcher_state_are_committed_together(tmp_path):
    store = RunStore(tmp_path)
    trial_id, seed = store.add_trial("(CELL Cell a)", lambda i: 1000 + i, {"step": 1})
    assert (trial_id, seed) == (1, 1001)
    assert store.searcher_state() == {"step": 1}
    store.mark_running(trial_id, "local:42")
    assert [t.status for t in store.trials()] == ["running"]
    store.finish_trial(trial_id, _outcome(0.25), 0.25, {"step": 2}, run_seconds=7.0)
    store.close()

    (trial,) = load_trials(tmp_path)
    assert isinstance(trial, Trial)
    assert (trial.status, trial.objective, trial.val_error, trial.test_error) == ("done", 0.25, 0.25, 0.5)
    assert (trial.params, trial.epochs, trial.cost, trial.eval_seconds, trial.run_seconds) == (123, 3, 2.5, 3.0, 7.0)
    assert trial.flops is None and trial.attempts == 1 and trial.worker == "local:42"
    assert trial.learning_curve == [0.9, 0.25] and trial.extras == {"synflow": 1.5}
    reopened = RunStore(tmp_path)
    assert reopened.searcher_state() == {"step": 2} and reopened.run_seconds() == 7.0


def test_failed_trial_keeps_its_message_and_cost_falls_back_to_wall_time(tmp_path):
    store = RunStore(tmp_path)
    trial_id, _ = store.add_trial("x", lambda i: i, {})
    store.mark_running(trial_id, "driver")
    store.finish_trial(trial_id, {"result": None, "error": "ValueError: boom", "eval_seconds": 1.5}, None, {}, 2.0)
    (trial,) = store.trials()
    assert (trial.status, trial.error, trial.objective, trial.cost) == ("failed", "ValueError: boom", None, 1.5)
    assert store.count(TrialStatus.FINISHED) == 1 and store.count(TrialStatus.DONE) == 0


def test_requeue_returns_running_trials_to_pending(tmp_path):
    store = RunStore(tmp_path)
    ids = [store.add_trial(f"t{i}", lambda i: i, {})[0] for i in range(3)]
    for trial_id in ids:
        store.mark_running(trial_id, "w")
    assert store.requeue([ids[1]]) == 1
    assert [t.status for t in store.trials()] == ["running", "pending", "running"]
    assert store.requeue() == 2
    assert store.count(TrialStatus.PENDING) == 3
    assert all(t.attempts == 1 for t in store.trials())


def test_load_trials_is_read_only_and_filters_by_status(tmp_path):
    store = RunStore(tmp_path)
    first, _ = store.add_trial("a", lambda i: i, {})
    store.add_trial("b", lambda i: i, {})
    store.mark_running(first, "w")
    store.finish_trial(first, _outcome(0.1), 0.1, {}, 1.0)
    store.close()
    assert [t.architecture for t in load_trials(tmp_path, status="done")] == ["a"]
    assert [t.architecture for t in load_trials(tmp_path, status=("pending", "running"))] == ["b"]
    # nothing was written by the reads: the file is unchanged
    before = (tmp_path / STORE_FILENAME).read_bytes()
    load_trials(tmp_path)
    assert (tmp_path / STORE_FILENAME).read_bytes() == before


def test_loading_a_directory_without_a_store_names_the_file(tmp_path):
    with pytest.raises(RunError, match=r"no run store in .*trials\.sqlite"):
        load_trials(tmp_path)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path):
    (tmp_path / STORE_FILENAME).write_text("not a database")
    with pytest.raises(RunError, match="trials.sqlite is damaged: it is not an SQLite database"):
        RunStore(tmp_path)


def test_a_transaction_interrupted_midway_leaves_nothing_behind(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises((pickle.PicklingError, AttributeError)):  # the state is pickled after the INSERT
        store.add_trial("a", lambda i: i, {"unpicklable": lambda: 0})
    assert store.count() == 0 and store.searcher_state() is None


def test_config_values_are_checked_and_errors_name_the_field():
    with pytest.raises(RunConfigError, match="pool_size must be an integer >= 1, got 0") as info:
        RunConfig(searcher_options={"pool_size": 0})
    assert info.value.field == "pool_size"
    with pytest.raises(RunConfigError, match="p_self_crossover"):
        RunConfig(searcher_options={"p_self_crossover": 1.5})
    registered = "elite_evolution, evolution, mutation, (.*, )?random"  # tests may register more
    with pytest.raises(RunConfigError, match=f"unknown pool strategy 'greedy'; registered: {registered}"):
        RunConfig(searcher_options={"pool_strategy": "greedy"})
    with pytest.raises(RunConfigError, match="searcher random_search takes no option 'pool_size'") as info:
        RunConfig(searcher="random_search", searcher_options={"pool_size": 3})
    assert info.value.field == "pool_size"
    with pytest.raises(RunConfigError, match="dask_scheduler"):
        RunConfig(dask_scheduler="localhost")
    with pytest.raises(RunConfigError, match="objective"):
        RunConfig(objective=3)
    with pytest.raises(RunConfigError, match="epochs"):
        RunConfig(epochs=0)


def test_config_record_and_differences_ignore_budget_and_execution_keys():
    base = RunConfig(objective="digits", seed=1, epochs=2)
    record = base.to_record()
    assert record["objective"] == "digits" and "n_workers" not in record
    assert base.objective_kwargs() == {"epochs": 2}
    assert config_differences(record, base.replace(max_evaluations_total=500, n_workers=4).to_record()) == {}
    changed = config_differences(record, base.replace(seed=2, searcher_options={"pool_size": 50}).to_record())
    assert set(changed) == {"searcher_options", "seed"} and changed["seed"] == (1, 2)
    assert changed["searcher_options"][1]["pool_strategy"]["pool_size"] == 50


def test_load_config_returns_the_stored_record(tmp_path):
    store = RunStore(tmp_path)
    store.set_config(RunConfig(objective="digits", seed=5).to_record())
    store.close()
    record = load_config(tmp_path)
    assert record["seed"] == 5 and record["objective"] == "digits"
    assert math.isclose(record["searcher_options"]["pool_strategy"]["p_self_crossover"], 0.5)


def test_a_negative_seed_is_a_config_error():
    with pytest.raises(RunConfigError, match="seed must be an integer >= 0, got -1") as info:
        RunConfig(seed=-1)
    assert info.value.field == "seed"


def test_the_record_holds_the_searchers_resolved_options_and_reads_older_records():
    from hnas.searchers import RandomPool, UpperConfidenceBound
    from hnas.searchers.bayesian_optimization import BayesianOptimization

    record = RunConfig(searcher="random_search").to_record()
    assert record["searcher_options"] == {} and record["canonical_key"] == "auto"
    gpwl = RunConfig(searcher_options={"surrogate_model": "gpwl"}).to_record()
    assert gpwl["searcher_options"]["surrogate_model"] == "gp"  # the canonical surrogate name
    assert config_differences(gpwl, RunConfig(searcher_options={"surrogate_model": "gp"}).to_record()) == {}
    assert config_differences(RunConfig().to_record(), RunConfig(searcher_options={"n_init": 10}).to_record()) == {}
    # instances: the searcher's class and options, components as name and options
    instance = RunConfig(
        searcher=BayesianOptimization,
        searcher_options={"acquisition": UpperConfidenceBound(beta=1.0), "pool_strategy": RandomPool(pool_size=9)},
    ).to_record()
    assert instance["searcher"] == "bayesian_optimization"
    assert instance["searcher_options"]["acquisition"] == {"name": "ucb", "beta": 1.0}
    assert instance["searcher_options"]["pool_strategy"] == {"name": "random", "pool_size": 9}
    # A record of an older version (options as top-level keys, every searcher's) still matches.
    old = {**record, "pool_size": 200, "n_init": 10, "surrogate_model": "gp_hierarchical"}
    del old["searcher_options"], old["canonical_key"]
    assert config_differences(old, record) == {}
    old_bo = {**RunConfig().to_record(), "pool_size": 50, "n_init": 10, "surrogate_model": "gpwl",
              "pool_strategy": "evolution", "p_self_crossover": 0.5}  # fmt: skip
    del old_bo["searcher_options"]
    assert config_differences(old_bo, RunConfig(searcher_options={"pool_size": 50, "surrogate_model": "gp"}).to_record()) == {}
    # options added since a record was stored (BO's stall rule) take their defaults; set, they differ
    before_stall = RunConfig().to_record()
    for key in ("stall_patience", "stall_pool_strategy"):
        del before_stall["searcher_options"][key]
    del before_stall["searcher_options"]["pool_strategy"]["pool_size"]  # and inside a component
    assert config_differences(before_stall, RunConfig().to_record()) == {}
    changed = config_differences(before_stall, RunConfig(searcher_options={"stall_patience": 20}).to_record())
    assert list(changed) == ["searcher_options"]


def test_an_older_store_gains_the_new_columns_and_stays_readable(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "trials.sqlite")
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
        "CREATE TABLE trials (id INTEGER PRIMARY KEY, architecture TEXT NOT NULL, status TEXT NOT NULL,"
        " seed INTEGER NOT NULL, objective REAL, val_error REAL, test_error REAL, params INTEGER, flops REAL,"
        " cost REAL, train_time REAL, epochs INTEGER, eval_seconds REAL, created_at REAL NOT NULL,"
        " started_at REAL, finished_at REAL, run_seconds REAL, attempts INTEGER NOT NULL DEFAULT 0, worker TEXT,"
        " error TEXT, learning_curve TEXT, extras TEXT);"
        "INSERT INTO trials (id, architecture, status, seed, objective, created_at) VALUES (1, 'a', 'done', 7, 0.5, 0);"
    )
    old.commit()
    old.close()
    (trial,) = load_trials(tmp_path)  # read-only: the old columns only
    assert (trial.architecture, trial.objective, trial.canonical_key, trial.told) == ("a", 0.5, None, None)
    store = RunStore(tmp_path)  # opened for writing: the columns are added
    store.set_told_order([1])
    assert [t.told for t in store.told_trials()] == [1]
    store.close()


class _InterruptedAfterBegin:
    """The store's real connection, with Ctrl-C arriving right after a BEGIN."""

    def __init__(self, connection):
        self._connection = connection

    def execute(self, sql, *args):
        cursor = self._connection.execute(sql, *args)
        if sql.startswith("BEGIN"):
            raise KeyboardInterrupt
        return cursor

    def __getattr__(self, name):
        return getattr(self._connection, name)


def test_ctrl_c_right_after_begin_leaves_no_transaction_open(tmp_path):
    store = RunStore(tmp_path)
    trial_id, _ = store.add_trial("a", lambda i: i, {})
    store.mark_running(trial_id, "w")
    connection = store._db
    store._db = _InterruptedAfterBegin(connection)
    with pytest.raises(KeyboardInterrupt):
        store.mark_running(trial_id, "w")
    store._db = connection
    assert not connection.in_transaction
    assert store.requeue() == 1  # what the driver does in its finally after Ctrl-C


def test_done_rows_reads_the_done_trials_of_runs_of_the_space_and_objective(tmp_path):
    from hnas.runner.store import done_rows, find_runs

    store = RunStore(tmp_path / "a" / "run")
    store.set_config(RunConfig(search_space="nb201_fixed_1_none", objective="debug").to_record())
    first, _ = store.add_trial("x", lambda i: i, {})
    store.add_trial("y", lambda i: i, {})
    store.mark_running(first, "w")
    store.finish_trial(first, _outcome(0.3), 0.3, {}, 1.0)
    store.close()
    RunStore(tmp_path / "b").close()  # killed before its configuration was stored

    assert find_runs(tmp_path) == [tmp_path / "a" / "run", tmp_path / "b"]
    assert done_rows(tmp_path / "a" / "run", space_name="nb201_fixed_1_none") == [("x", 0.3)]
    assert done_rows(tmp_path / "a" / "run", space_name="nb201_fixed_1_none", objective="digits") == []
    assert done_rows(tmp_path / "a" / "run", space_name="nb201_variable_multi_multi") == []
    with pytest.raises(RunError, match="has no configuration yet"):
        done_rows(tmp_path / "b", space_name="nb201_fixed_1_none")
