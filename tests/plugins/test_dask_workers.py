"""Dask workers load a run's plugins before they evaluate: a plugin-defined space with a user
objective and searcher runs on a real LocalCluster whose worker processes never saw the plugin."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hnas.grammar import load_space
from hnas.runner import RunConfig, load_trials, run_search

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "gnn"


@pytest.mark.slow
def test_dask_workers_load_the_runs_plugins(tmp_path):
    from distributed import LocalCluster  # the optional extra 'dist', part of the dev install

    shutil.copy(EXAMPLE / "my_space.py", tmp_path / "dask_space.py")  # its own module name in this process
    shutil.copy(EXAMPLE / "my.cfg", tmp_path / "my.cfg")
    shutil.copy(EXAMPLE / "accuracy.csv", tmp_path / "accuracy.csv")
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        config = RunConfig(search_space=str(tmp_path / "my.cfg"), plugins=[str(tmp_path / "dask_space.py")],
                           objective=f"{tmp_path}/dask_space.py:objective", searcher="my_searcher",
                           max_evaluations_total=4, dask_scheduler=cluster.scheduler_address)
        summary = run_search(config, tmp_path / "run")
    assert summary.n_done == 4
    trials = load_trials(tmp_path / "run")
    assert [t.status for t in trials] == ["done"] * 4
    assert not any(t.worker.endswith(f":{os.getpid()}") for t in trials)  # evaluated on the Dask worker
    from dask_space import objective  # loaded in this process by RunConfig(plugins=...)

    space = load_space(str(tmp_path / "my.cfg"))
    for trial in trials:
        assert trial.val_error == pytest.approx(objective(space.parse(trial.architecture))["val_error"], abs=1e-12)
