"""Worker processes end with their driver: after SIGKILL of the driver of an --n_workers 2 run, no
worker survives and none prints a traceback."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hnas.runner import RunError, load_trials

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "optimize.py"


def _children(pid):
    """The ids of the live (not zombie) processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z" and b"resource_tracker" not in cmdline:
                found.append(int(entry.name))
    return found


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_pool_workers_end_with_a_killed_driver_without_tracebacks(tmp_path):
    directory = tmp_path / "run"
    args = ["--search_space", "nb201_fixed_1_none", "--objective", "digits", "--epochs", "2", "--train_subset", "256",
            "--searcher", "random_search", "--n_workers", "2", "--max_evaluations_total", "1000",
            "--working_directory", str(directory), "--no_progress"]  # fmt: skip
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as err:
        driver = subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                  stderr=err)  # fmt: skip
    deadline = time.monotonic() + 300
    while True:  # both workers started and evaluating
        try:
            running = [t for t in load_trials(directory) if t.status == "running"]
        except RunError:
            running = []
        workers = _children(driver.pid)
        if len(running) == 2 and len(workers) == 2:
            break
        assert driver.poll() is None and time.monotonic() < deadline, stderr.read_text()
        time.sleep(0.05)
    recorded = {int(t.worker.split(":")[-1]) for t in running}
    assert recorded == set(workers)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]
    time.sleep(1.0)
    assert "Traceback" not in stderr.read_text() and "BrokenPipeError" not in stderr.read_text()


def _executing(client):
    """Tasks executing on each worker of the cluster (a released task still counts until its
    thread returns)."""
    return sorted(client.run(lambda dask_worker: len(dask_worker.state.executing)).values())


@pytest.mark.slow
def test_dask_evaluations_stop_when_their_driver_is_killed(tmp_path):
    from distributed import Client, LocalCluster  # the optional extra 'dist', part of the dev install

    directory = tmp_path / "run"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        # torch imported before the evaluations start: a stop lands between Python steps, and the
        # minutes-long C call of a first `import torch` on a busy machine has none
        client.run(lambda: __import__("torch") and None)
        args = ["--search_space", "nb201_fixed_1_none", "--objective", "digits", "--epochs", "50",
                "--searcher", "random_search", "--dask_scheduler", cluster.scheduler_address,
                "--max_evaluations_total", "1000", "--working_directory", str(directory), "--no_progress"]  # fmt: skip
        driver = subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while _executing(client) != [1, 1]:  # both workers evaluating (50 epochs: minutes each)
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
            time.sleep(0.2)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        deadline = time.monotonic() + 60
        while _executing(client) != [0, 0]:
            states = client.run(lambda dask_worker: [t.state for t in dask_worker.state.tasks.values()])
            assert time.monotonic() < deadline, f"evaluations kept running after their driver died: {states}"
            time.sleep(0.2)
        assert "Traceback" not in driver.stderr.read()
