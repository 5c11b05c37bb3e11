"""Dask workers load a run's plugins before they evaluate: a plugin-defined space with a user
objective and searcher runs on a real LocalCluster whose worker processes never saw the plugin.

The run and its checks happen in a fresh interpreter: the plugin registers the example's names,
which other tests of this session may already have registered from the example itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "gnn"

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path

    from distributed import LocalCluster  # the optional extra 'dist', part of the dev install

    from hnas.grammar import load_space
    from hnas.runner import RunConfig, load_trials, run_search

    here = Path(sys.argv[1])
    if __name__ == "__main__":
        with LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            config = RunConfig(search_space=str(here / "my.cfg"), plugins=[str(here / "dask_space.py")],
                               objective=f"{here}/dask_space.py:objective", searcher="my_searcher",
                               max_evaluations_total=4, dask_scheduler=cluster.scheduler_address)
            summary = run_search(config, here / "run")
        assert summary.n_done == 4, summary
        trials = load_trials(here / "run")
        assert [t.status for t in trials] == ["done"] * 4
        assert not any(t.worker.endswith(f":{os.getpid()}") for t in trials)  # evaluated on the Dask worker
        from dask_space import objective  # loaded in this process by RunConfig(plugins=...)

        space = load_space(str(here / "my.cfg"))
        for trial in trials:
            expected = objective(space.parse(trial.architecture))["val_error"]
            assert abs(trial.val_error - expected) <= 1e-12, (trial.val_error, expected)
        print("checked", len(trials), "trials")
    """
)


@pytest.mark.slow
def test_dask_workers_load_the_runs_plugins(tmp_path):
    shutil.copy(EXAMPLE / "my_space.py", tmp_path / "dask_space.py")
    shutil.copy(EXAMPLE / "my.cfg", tmp_path / "my.cfg")
    shutil.copy(EXAMPLE / "accuracy.csv", tmp_path / "accuracy.csv")
    (tmp_path / "check_dask_run.py").write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(tmp_path / "check_dask_run.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "checked 4 trials" in result.stdout
