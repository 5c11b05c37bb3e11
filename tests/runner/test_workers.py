"""Parallel evaluation: the local pool of worker processes and a real Dask LocalCluster on loopback,
including workers that die mid-evaluation."""

import os
from collections import Counter

import numpy as np
import pytest
from runner_objectives import SPACE, DieOnceObjective, SyntheticObjective, read_log

from hnas.runner import RunConfig, load_trials, run_search
from hnas.runner.executors import LocalPoolExecutor
from hnas.searchers.synthetic import op_quality_loss


def _config(objective, **changes):
    values = dict(search_space=SPACE, objective=objective, searcher="regularized_evolution", seed=5,
                  max_evaluations_total=6)  # fmt: skip
    values.update(changes)
    return RunConfig(**values)


def _check_exact_run(directory, n):
    trials = load_trials(directory)
    assert [t.status for t in trials] == ["done"] * n
    assert len({t.architecture for t in trials}) == n  # pending trees were never proposed twice
    return trials


def test_local_pool_evaluates_asynchronously_on_all_workers(tmp_path):
    log = tmp_path / "log.txt"
    summary = run_search(_config(SyntheticObjective(log, delay=1.0), n_workers=2), tmp_path / "run")
    trials = _check_exact_run(tmp_path / "run", 6)
    assert summary.n_done == 6
    assert len({t.worker for t in trials}) == 2
    in_flight, most = 0, 0  # evaluations running at once, from the order of start/end lines
    for kind, *_ in read_log(log):
        in_flight += 1 if kind == "start" else -1
        most = max(most, in_flight)
    assert most == 2


def test_local_pool_worker_killed_mid_evaluation_is_requeued(tmp_path):
    log, marker = tmp_path / "log.txt", tmp_path / "died"
    summary = run_search(_config(DieOnceObjective(log, marker, delay=0.3), n_workers=2), tmp_path / "run")
    trials = _check_exact_run(tmp_path / "run", 6)
    assert summary.n_evaluations == 6
    killed_seed = int(marker.read_text())
    (killed,) = [t for t in trials if t.seed == killed_seed]
    assert killed.attempts == 2 and killed.objective is not None
    starts = Counter(seed for kind, _, seed, _ in read_log(log) if kind == "start")
    assert starts[killed_seed] == 2 and sum(starts.values()) == 7


def test_one_pooled_worker_gives_the_sequential_results(tmp_path):
    config = _config(SyntheticObjective(), searcher="bayesian_optimization",
                     searcher_options={"n_init": 3, "pool_size": 20})
    run_search(config, tmp_path / "sequential")
    run_search(config, tmp_path / "pooled", executor=LocalPoolExecutor(config.objective, n_workers=1))
    sequential, pooled = (
        [(t.architecture, t.seed, t.objective) for t in load_trials(tmp_path / d)] for d in ("sequential", "pooled")
    )
    assert sequential == pooled
    assert all(t.worker.endswith(f":{os.getpid()}") for t in load_trials(tmp_path / "sequential"))
    assert not any(t.worker.endswith(f":{os.getpid()}") for t in load_trials(tmp_path / "pooled"))


def test_dask_cluster_worker_killed_mid_evaluation_is_rerun(tmp_path):
    from distributed import LocalCluster  # the optional extra 'dist', part of the dev install

    log, marker = tmp_path / "log.txt", tmp_path / "died"
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        config = _config(DieOnceObjective(log, marker, delay=0.3), dask_scheduler=cluster.scheduler_address)
        summary = run_search(config, tmp_path / "run")
    trials = _check_exact_run(tmp_path / "run", 6)
    assert summary.n_done == 6
    killed_seed = int(marker.read_text())
    rows = read_log(log)
    killed_pid = next(pid for kind, pid, seed, _ in rows if kind == "start" and seed == killed_seed)
    assert [kind for kind, pid, seed, _ in rows if seed == killed_seed] == ["start", "start", "end"]
    assert not any(pid == killed_pid for kind, pid, _, _ in rows if kind == "end")
    assert any(t.seed == killed_seed for t in trials)


def test_the_pool_starts_with_every_worker_ready(tmp_path):
    executor = LocalPoolExecutor(SyntheticObjective(), n_workers=2)
    try:
        assert all(worker.ready and worker.process.is_alive() for worker in executor._workers)
    finally:
        executor.close()


def test_a_worker_that_died_while_idle_is_replaced_when_a_task_is_submitted(tmp_path):
    from hnas.grammar import load_space
    from hnas.runner.executors import Task

    space = load_space(SPACE)
    tree = space.sample(np.random.default_rng(0))
    executor = LocalPoolExecutor(SyntheticObjective(), n_workers=1)
    try:
        (dead,) = executor._workers
        dead.process.kill()
        dead.process.join()
        worker = executor.submit(Task(7, tree, seed=11))
        assert worker != f"local:{dead.process.pid}"
        trial_id, outcome = executor.next_event()
        assert trial_id == 7 and outcome["error"] is None
        assert outcome["result"]["val_error"] == pytest.approx(op_quality_loss(tree))
    finally:
        executor.close()
