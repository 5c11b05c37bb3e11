"""The EvoNAS preset at a tiny budget: a zero-cost NSGA-II search whose Pareto front is trained."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hnas.pareto import pareto_mask
from hnas.runner import load_trials
from hnas.runner.evonas import EVONAS_OBJECTIVES, run_evonas

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "evonas.py"


@pytest.mark.slow  # about 25 s on a loaded 2-core machine: a worker process, the proxies, two trainings
def test_evonas_search_is_training_free_and_its_front_is_trained(tmp_path):
    result = run_evonas(tmp_path / "evonas", max_evaluations_total=6, population_size=3, proxy_batch_size=8,
                        max_trained=2, training_options={"epochs": 1, "train_subset": 64})  # fmt: skip
    trials = load_trials(tmp_path / "evonas" / "search")
    done = [t for t in trials if t.status == "done"]
    assert len(trials) == 6 and done
    for t in done:  # zero-cost scores, no training: minus each proxy's score, as the objective reported it
        assert t.epochs == 0 and not t.learning_curve
        assert t.objectives == [-t.extras[name] for name in EVONAS_OBJECTIVES]
        assert t.objectives[0] > 1  # the NTK condition number itself
    front = {t.id for t, keep in zip(done, pareto_mask(np.array([t.objectives for t in done]))) if keep}
    assert {m.trial for m in result.trained} <= front and len(result.trained) == min(2, len(front))
    for m in result.trained:
        assert 0 <= m.val_error <= 1 and m.params > 0
    with open(result.trained_csv) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["trial"]) for r in rows] == [m.trial for m in result.trained]
    assert "trained" in str(result) and "Pareto front over ntk, linear_regions, jacov" in str(result)


def test_evonas_command_line_bad_task_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--working_directory", str(tmp_path / "e"), "--task", "nope",
                             "--max_evaluations_total", "2", "--no_progress"], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("evonas.py: error:") and "nope" in result.stderr
