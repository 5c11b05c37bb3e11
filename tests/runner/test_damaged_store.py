"""Damaged run stores, made with real bytes: garbage in the middle of trials.sqlite or of its
write-ahead log, a truncated or empty file. Each is one line naming the file (never a traceback,
never a silent restart), and `hnas salvage` copies the readable trials so the run resumes."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from runner_objectives import SPACE, SyntheticObjective

from hnas.runner import RunConfig, RunError, load_trials, run_search
from hnas.runner.errors import StoreDamagedError
from hnas.runner.store import STORE_FILENAME, RunStore, wal_valid_length

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "optimize.py"
ARGS = ["--search_space", "nb201_fixed_1_none", "--objective", "debug", "--searcher", "random_search", "--no_progress"]


def _optimize(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _hnas(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "hnas", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _finished_run(directory, n=12):
    config = RunConfig(search_space=SPACE, objective=SyntheticObjective(), searcher="random_search", seed=3,
                       max_evaluations_total=n)  # fmt: skip
    run_search(config, directory)
    return config


def _store_with_wal(directory, n_trials=8):
    """A store whose last trials live only in its write-ahead log (the process died before a
    checkpoint), as a driver killed with SIGKILL leaves it."""
    code = (
        "import os, sys\n"
        "from hnas.runner.store import RunStore\n"
        "store = RunStore(sys.argv[1])\n"
        "store.set_config({'seed': 0})\n"
        f"for i in range({n_trials}):\n"
        "    trial_id, _ = store.add_trial(f'arch{i}', lambda t: t, {'step': i})\n"
        "    store.mark_running(trial_id, 'w')\n"
        "    store.finish_trial(trial_id, {'result': {'val_error': 0.5}, 'eval_seconds': 1.0}, 0.5, {'step': i}, 1.0)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(directory)], check=True, timeout=120)
    wal = directory / (STORE_FILENAME + "-wal")
    assert wal.stat().st_size > 0
    return wal


def _overwrite(path, offset, garbage=b"\xa5" * 512):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(garbage)


def test_garbage_in_the_middle_of_the_store_is_one_error_naming_it(tmp_path):
    directory = tmp_path / "run"
    config = _finished_run(directory)
    path = directory / STORE_FILENAME
    page = 4096
    assert path.stat().st_size >= 3 * page
    _overwrite(path, page, os.urandom(page))  # page 2 of the file, whatever it holds
    before = path.read_bytes()
    with pytest.raises(StoreDamagedError) as info:
        run_search(config, directory)
    assert str(info.value).startswith(f"{path} is damaged: ")
    assert f"`hnas salvage {directory}`" in str(info.value)
    with pytest.raises(StoreDamagedError):
        load_trials(directory)
    assert path.read_bytes() == before  # nothing was rewritten


def test_garbage_in_the_write_ahead_log_is_one_error_naming_it(tmp_path):
    wal = _store_with_wal(tmp_path)
    size = wal.stat().st_size
    _overwrite(wal, size // 2)
    valid, damaged = wal_valid_length(wal)
    assert damaged and 32 <= valid <= size // 2
    with pytest.raises(StoreDamagedError, match=rf"^{wal} is damaged: corrupt data at byte {valid} of its {size} bytes"):
        RunStore(tmp_path)
    with pytest.raises(StoreDamagedError):
        load_trials(tmp_path)


def test_a_write_cut_short_at_the_end_of_the_log_is_not_damage(tmp_path):
    wal = _store_with_wal(tmp_path, n_trials=3)
    with open(wal, "ab") as handle:  # half a frame: sqlite ignores it, and so does the check
        handle.write(os.urandom(1000))
    assert wal_valid_length(wal) == (wal.stat().st_size - 1000, False)
    assert [t.architecture for t in load_trials(tmp_path)] == ["arch0", "arch1", "arch2"]


@pytest.mark.parametrize(
    ("size", "problem"),
    [(0, r"the file is empty \(0 bytes\)"), (4096 + 100, r"it is truncated \(4196 of \d+ bytes\)")],
)
def test_a_truncated_store_is_an_error_not_a_new_run(tmp_path, size, problem):
    directory = tmp_path / "run"
    config = _finished_run(directory)
    path = directory / STORE_FILENAME
    os.truncate(path, size)
    with pytest.raises(StoreDamagedError, match=rf"^{path} is damaged: {problem}"):
        run_search(config, directory)
    assert path.stat().st_size == size  # not started over


@pytest.mark.slow
def test_the_command_line_prints_one_line_for_each_damage(tmp_path, side_by_side):
    runs = {}
    for kind in ("middle", "wal", "empty"):
        directory = runs[kind] = tmp_path / kind
        if kind == "wal":
            wal = _store_with_wal(directory)
            _overwrite(wal, wal.stat().st_size // 2)
        else:
            _finished_run(directory)
            path = directory / STORE_FILENAME
            if kind == "middle":
                _overwrite(path, 4096, os.urandom(4096))
            else:
                os.truncate(path, 0)
    results = side_by_side(*(partial(_optimize, *ARGS, "--working_directory", str(directory), cwd=tmp_path)
                             for directory in runs.values()))  # fmt: skip
    for (kind, directory), result in zip(runs.items(), results):
        named = directory / (STORE_FILENAME + ("-wal" if kind == "wal" else ""))
        assert result.returncode == 1, (kind, result.stderr)
        assert result.stderr.startswith(f"optimize.py: error: {named} is damaged: "), (kind, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def _kill_when(directory, process, done):
    """SIGKILL ``process`` once the store in ``directory`` holds ``done`` finished trials."""
    deadline = time.monotonic() + 240
    while True:
        try:
            finished = [t for t in load_trials(directory) if t.status in ("done", "failed")]
        except RunError:
            finished = []
        if len(finished) >= done:
            break
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


@pytest.mark.slow
def test_salvage_copies_the_readable_trials_and_the_same_command_resumes(tmp_path):
    directory = tmp_path / "run"
    args = [*ARGS, "--working_directory", str(directory)]
    assert _optimize(*args, "--max_evaluations_total", "3", cwd=tmp_path).returncode == 0
    process = subprocess.Popen([sys.executable, str(SCRIPT), *args, "--max_evaluations_total", "400"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    _kill_when(directory, process, 8)
    wal = directory / (STORE_FILENAME + "-wal")
    intact = load_trials(directory)
    size = wal.stat().st_size
    _overwrite(wal, size - size // 4)  # late in the log: most trials stay readable
    valid, damaged = wal_valid_length(wal)
    assert damaged

    failed = _optimize(*args, "--max_evaluations_total", "12", cwd=tmp_path)
    assert failed.returncode == 1 and f"{wal} is damaged" in failed.stderr

    salvaged = _hnas("salvage", str(directory), cwd=tmp_path)
    assert salvaged.returncode == 0, salvaged.stderr
    kept = load_trials(directory)
    assert (directory / (STORE_FILENAME + ".damaged")).exists() and (directory / (STORE_FILENAME + "-wal.damaged")).exists()
    assert salvaged.stdout.startswith(f"salvaged {len(kept)} of ")
    # the kept trials are the intact store's as of the last commit before the damage: finished ones
    # unchanged, others (their result was in the lost part of the log) back to pending
    by_id = {t.id: t for t in intact}
    assert 3 <= len(kept) <= len(intact)
    for trial in kept:
        original = by_id[trial.id]
        assert (trial.architecture, trial.seed) == (original.architecture, original.seed)
        if trial.status == "pending":
            assert trial.objective is None
        else:
            assert (trial.status, trial.objective) == (original.status, original.objective)

    resumed = _optimize(*args, "--max_evaluations_total", "12", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "run finished: 12/12 evaluations" in resumed.stdout
    final = load_trials(directory)
    assert sum(t.status in ("done", "failed") for t in final) == 12
    assert len({t.architecture for t in final}) == len(final)  # no architecture proposed twice


def test_salvage_to_another_directory_leaves_the_damaged_one_untouched(tmp_path):
    wal = _store_with_wal(tmp_path / "run")
    _overwrite(wal, wal.stat().st_size // 2)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    from hnas.runner.salvage import salvage_store

    report = salvage_store(tmp_path / "run", tmp_path / "copy")
    kept = load_trials(tmp_path / "copy")
    assert report.kept == len(kept) and report.state_kept
    assert [t.architecture for t in kept] == [f"arch{i}" for i in range(len(kept))]
    assert 1 <= len(kept) < 8
    assert {name: (tmp_path / "run" / name).read_bytes() for name in before} == before
    with pytest.raises(RunError, match="already holds a run store"):
        salvage_store(tmp_path / "run", tmp_path / "copy")


@pytest.mark.parametrize("in_the_log", [False, True])
def test_salvage_rebuilds_an_overwritten_header_and_refuses_a_store_with_nothing_readable(tmp_path, in_the_log):
    from hnas.runner.salvage import salvage_store

    if in_the_log:  # the trials live in the write-ahead log, read through the rebuilt header
        _store_with_wal(tmp_path / "run")
        expected = [f"arch{i}" for i in range(8)]
    else:
        _finished_run(tmp_path / "run")
        expected = [t.architecture for t in load_trials(tmp_path / "run")]
    store = tmp_path / "run" / STORE_FILENAME
    _overwrite(store, 0, bytes(range(100)))  # the magic string, page size, schema format: all gone
    with pytest.raises(StoreDamagedError, match="its header is wrong"):
        load_trials(tmp_path / "run")
    report = salvage_store(tmp_path / "run", tmp_path / "copy")
    assert report.kept == len(expected) and [t.architecture for t in load_trials(tmp_path / "copy")] == expected

    _overwrite(store, 0, b"\xa5" * 8192)  # the schema's page too, and no log to read it from: nothing can be read
    (tmp_path / "run" / (STORE_FILENAME + "-wal")).unlink(missing_ok=True)
    before = store.read_bytes()
    with pytest.raises(RunError, match=f"nothing of {store} could be read .*; nothing was changed"):
        salvage_store(tmp_path / "run")
    assert store.read_bytes() == before and not (tmp_path / "run" / (STORE_FILENAME + ".damaged")).exists()


def test_salvage_checks_the_architectures_of_a_plugin_space_with_the_runs_own_plugins(tmp_path):
    (tmp_path / "tri_plugin.py").write_text(
        "from hnas.semantics import register_topology\n"
        "register_topology('Tri', [(1, 2), (2, 3), (1, 3)])\n"
    )
    (tmp_path / "tri.cfg").write_text('S -> "Tri" O O O\nO -> "conv3x3" | "id" | "zero"\n')
    run = _optimize("--search_space", "tri.cfg", "--plugin", "tri_plugin.py", "--objective", "params",
                    "--searcher", "random_search", "--max_evaluations_total", "4", "--no_progress",
                    "--working_directory", "run", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    _overwrite(tmp_path / "run" / STORE_FILENAME, 0, bytes(100))
    salvage = _hnas("salvage", "run", cwd=tmp_path)  # no --plugin: the run's recorded one is loaded
    assert salvage.returncode == 0, salvage.stderr
    assert salvage.stdout.startswith("salvaged 4 of 4 trials") and "unchecked" not in salvage.stdout
    (tmp_path / "tri_plugin.py").rename(tmp_path / "elsewhere.py")
    _overwrite(tmp_path / "run" / STORE_FILENAME, 0, bytes(100))
    (tmp_path / "run" / (STORE_FILENAME + ".damaged")).unlink()
    salvage = _hnas("salvage", "run", cwd=tmp_path)
    assert "architectures kept unchecked: the search space could not be loaded (plugin" in salvage.stdout


def test_a_value_of_the_wrong_type_in_a_row_is_damage_naming_the_trial_and_column(tmp_path):
    import sqlite3

    from hnas.runner.salvage import salvage_store

    config = _finished_run(tmp_path / "run", n=5)
    connection = sqlite3.connect(tmp_path / "run" / STORE_FILENAME)
    with connection:
        connection.execute("UPDATE trials SET objective = 'abc' WHERE id = 2")  # SQLite keeps text in a REAL column
    connection.close()
    message = "trial 2: column objective holds 'abc', not int or float"
    with pytest.raises(StoreDamagedError, match=message):
        load_trials(tmp_path / "run")
    with pytest.raises(StoreDamagedError, match=message):  # a resume too: never a traceback from the searcher
        run_search(config.replace(max_evaluations_total=6), tmp_path / "run")
    report = salvage_store(tmp_path / "run")
    assert report.kept == 4 and report.skipped == (f"trial 2: ValueError: {message}",)
    assert [t.id for t in load_trials(tmp_path / "run")] == [1, 3, 4, 5]


@contextlib.contextmanager
def _read_only(folder: Path):
    """``folder`` made read-only for this process: by permissions, or for root (whom permissions do
    not stop) by a read-only bind mount of it; skipped where neither is possible."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    mount = folder.with_name(folder.name + "_ro")
    mount.mkdir()
    made = subprocess.run(["mount", "--bind", str(folder), str(mount)], capture_output=True).returncode == 0
    if not made or subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], capture_output=True).returncode:
        if made:
            subprocess.run(["umount", str(mount)], check=True)
        pytest.skip("cannot make a read-only folder here (root without mount)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_finished_run_in_a_read_only_folder_can_be_read_and_salvaged(tmp_path):
    from hnas.runner.salvage import salvage_store

    _finished_run(tmp_path / "run", n=4)
    assert not (tmp_path / "run" / (STORE_FILENAME + "-wal")).exists()  # closed cleanly: no log, no -shm
    with _read_only(tmp_path / "run") as folder:
        assert not os.access(folder, os.W_OK)
        assert len(load_trials(folder)) == 4
        status = _hnas("status", str(folder), cwd=tmp_path)
        assert status.returncode == 0 and "4/4 evaluations" in status.stdout, status.stderr
        report = salvage_store(folder, tmp_path / "copy")
        assert report.kept == 4 and len(load_trials(tmp_path / "copy")) == 4
