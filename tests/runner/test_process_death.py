"""A trial whose evaluation kills its own process (os._exit in user code, the out-of-memory killer)
is recorded as failed after MAX_ATTEMPTS deaths and the run goes on, in the default configuration
(one worker), through the real command line with a plugin of deadly primitives."""

import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from deadly_primitives import EXIT_CODE

from hnas.runner import load_trials
from hnas.runner.driver import MAX_ATTEMPTS

HERE = Path(__file__).resolve().parent


CASES = [
    ("exit_space.cfg", "exit_now", f"the evaluation process exited with code {EXIT_CODE}"),
    ("hog_space.cfg", "hog", f"the evaluation process died: signal {int(signal.SIGKILL)} (SIGKILL)"),
]


def _search(space, folder):
    args = ["--search_space", str(HERE / "data" / space), "--objective", "digits", "--epochs", "1",
            "--train_subset", "64", "--searcher", "random_search", "--max_evaluations_total", "3",
            "--working_directory", str(folder / "run"), "--no_progress"]  # fmt: skip
    return subprocess.run([sys.executable, str(HERE / "optimize_with_plugin.py"), *args], cwd=folder,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def searches(tmp_path_factory, side_by_side):
    """The command line's search of each CASES space, in a folder of its own, side by side:
    space -> (result, run directory)."""
    folders = [tmp_path_factory.mktemp("death") for _ in CASES]
    results = side_by_side(*(partial(_search, space, folder) for (space, *_), folder in zip(CASES, folders)))
    return {space: (result, folder / "run") for (space, *_), result, folder in zip(CASES, results, folders)}


@pytest.mark.slow
@pytest.mark.parametrize(("space", "primitive", "reason"), CASES)
def test_a_trial_that_kills_its_process_fails_and_the_run_goes_on(searches, space, primitive, reason):
    result, directory = searches[space]
    assert result.returncode == 0, result.stderr
    assert "run finished: 3/3 evaluations (1 failed)" in result.stdout
    assert "Traceback" not in result.stderr
    trials = load_trials(directory)
    # the space has 3 architectures: random search evaluates each once
    assert sorted(t.architecture for t in trials) == sorted(
        f"(NETWORK Linear1 (OPS {op}))" for op in ("conv1x1", "id", primitive)
    )
    (failed,) = [t for t in trials if t.status == "failed"]
    assert failed.architecture == f"(NETWORK Linear1 (OPS {primitive}))"
    assert failed.error == f"{reason}, in each of {MAX_ATTEMPTS} evaluations"
    assert failed.attempts == MAX_ATTEMPTS
    assert [t.attempts for t in trials if t.status == "done"] == [1, 1]
