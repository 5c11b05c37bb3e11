"""SIGKILL a real search process at several moments, rerun the same command: the run finishes with
exactly the budget, no finished trial is evaluated again, and the trials are those of an
uninterrupted run."""

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from run_synthetic_search import config
from runner_objectives import read_log

from hnas.runner import load_trials, run_search

SCRIPT = Path(__file__).with_name("run_synthetic_search.py")
BUDGET, DELAY, SEARCHER = 14, 0.05, "bayesian_optimization"


def _wait_for_evaluations(log: Path, n: int, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(kind == "end" for kind, *_ in read_log(log)) < n:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"fewer than {n} evaluations after {timeout} s"
        time.sleep(0.01)


def test_sigkilled_run_resumes_to_exactly_the_budget(tmp_path):
    directory, log = tmp_path / "run", tmp_path / "log.txt"
    command = [sys.executable, str(SCRIPT), str(directory), str(log), str(BUDGET), str(DELAY), SEARCHER]
    kills = []
    for evaluations_before_kill in (2, 7):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_evaluations(log, evaluations_before_kill, process)
        time.sleep(DELAY / 2)  # most likely inside an evaluation
        process.send_signal(signal.SIGKILL)
        process.wait()
        done = {t.seed for t in load_trials(directory, status="done")}
        assert done, "the killed run committed no trial"
        kills.append((done, len(read_log(log))))

    finished = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    assert f"run finished: {BUDGET}/{BUDGET} evaluations" in finished.stdout

    trials = load_trials(directory)
    assert [t.status for t in trials] == ["done"] * BUDGET
    rows = read_log(log)
    for done_seeds, offset in kills:  # nothing finished before a kill started again after it
        assert not [seed for kind, _, seed, _ in rows[offset:] if kind == "start" and seed in done_seeds]
    ends = Counter(seed for kind, _, seed, _ in rows if kind == "end")
    assert set(ends) == {t.seed for t in trials} and sum(ends.values()) <= BUDGET + len(kills)

    straight = run_search(config(str(tmp_path / "straight.log"), BUDGET, 0.0, SEARCHER), tmp_path / "straight")
    assert [t.architecture for t in trials] == [t.architecture for t in load_trials(straight.working_directory)]
