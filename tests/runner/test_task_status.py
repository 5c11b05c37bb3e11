"""Task files (hnas run), hnas status / hnas runs and TensorBoard logs, on real stores and processes."""

import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from hnas.errors import UsageError
from hnas.runner import RunConfig, RunError, load_trials
from hnas.runner.inspect import RunStatus, run_status, runs_table
from hnas.runner.store import RunStore, Trial
from hnas.runner.tensorboard import require_tensorboard, write_tensorboard

from hnas.cli.task import load_optimize_script, task_argv

ROOT = Path(__file__).resolve().parents[2]


def _hnas(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "hnas", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_task_keys_become_optimize_flags():
    script = load_optimize_script()
    parser = script.build_parser()
    task = {"search_space": ["macro.cfg", "SharedCell=cell.cfg"], "log": True, "no_progress": False, "seed": 3,
            "p_self_crossover": 0.25, "searcher": "random_search"}
    argv = task_argv(task, parser)
    assert argv == ["--search_space", "macro.cfg", "SharedCell=cell.cfg", "--log", "--seed", "3",
                    "--p_self_crossover", "0.25", "--searcher", "random_search"]
    args = parser.parse_args(argv)
    assert (args.search_space, args.log, args.seed, args.p_self_crossover) == (
        ["macro.cfg", "SharedCell=cell.cfg"], True, 3, 0.25)
    with pytest.raises(UsageError, match="unknown key 'pool'.*pool_size"):
        task_argv({"pool": 3}, parser, "t.toml")
    with pytest.raises(UsageError, match="t.toml: log: expected true or false"):
        task_argv({"log": "yes"}, parser, "t.toml")


def test_bad_task_files_are_one_line(tmp_path, side_by_side):
    (tmp_path / "bad.toml").write_text("seed = = 1\n")
    (tmp_path / "flag.toml").write_text("pool_size = 0\n")
    (tmp_path / "binary.toml").write_bytes(b"seed = 1\n\xff\xfe")
    bad, flag, binary = side_by_side(*(partial(_hnas, "run", name, cwd=tmp_path, timeout=60)
                                       for name in ("bad.toml", "flag.toml", "binary.toml")))  # fmt: skip
    assert binary.returncode == 1
    assert binary.stderr.strip() == "hnas run: error: binary.toml: not a TOML file (not UTF-8 text: byte 9)"
    assert bad.returncode == 1 and "bad.toml" in bad.stderr and "line 1" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert flag.returncode == 2 and "argument --pool_size: " in flag.stderr and "got 0" in flag.stderr


def _store_with_trials(directory: Path) -> None:
    store = RunStore(directory)
    try:
        store.set_config(RunConfig(search_space="nb201_fixed_1_none", objective="digits", searcher="random_search",
                                   seed=4, max_evaluations_total=5).to_record())
        for k in range(4):
            store.add_trial(f"(arch {k})", lambda i: i, {})
        store.mark_running(1, "worker-a")
        store.finish_trial(1, {"result": {"val_error": 0.3, "test_error": 0.35}, "eval_seconds": 10.0}, 0.3, {}, 12.0)
        store.mark_running(2, "worker-b")
        store.finish_trial(2, {"result": None, "error": "Traceback ...\nValueError: bad", "eval_seconds": 20.0},
                           None, {}, 30.0)
        store.mark_running(3, "worker-c")
    finally:
        store.close()


def test_status_reports_progress_incumbent_running_failed_and_eta(tmp_path, side_by_side):
    _store_with_trials(tmp_path / "a")
    status = run_status(tmp_path / "a")
    assert status.n_finished == 2 and status.incumbent.id == 1
    assert status.eta_seconds == 3 * 15.0  # 3 remaining x the median of 10 s and 20 s / 1 running
    result, missing = side_by_side(*(partial(_hnas, "status", name, cwd=tmp_path, timeout=60)
                                     for name in ("a", "nowhere")))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "random_search on nb201_fixed_1_none, objective digits, seed 4" in lines[1]
    assert "2/5 evaluations (1 done, 1 failed, 1 running, 1 pending), ETA 0m45s" in lines[2]
    assert "incumbent: trial 1, validation error 0.3000, test error 0.3500: (arch 0)" in lines[3]
    assert lines[4].startswith("  running: trial 3 on worker-c for ")
    assert lines[5] == "  failed: trial 2: ValueError: bad"
    assert missing.returncode == 1 and "no run store in nowhere" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_runs_table_lists_every_run_under_a_folder(tmp_path):
    _store_with_trials(tmp_path / "x" / "a")
    _store_with_trials(tmp_path / "x" / "b" / "c")
    table = runs_table(tmp_path / "x").splitlines()
    assert table[0].split() == ["run", "searcher", "space", "objective", "seed", "evaluations", "failed", "best",
                                "val", "error"]
    assert [row.split() for row in table[1:]] == [
        ["a", "random_search", "nb201_fixed_1_none", "digits", "4", "2/5", "1", "0.3000"],
        ["b/c", "random_search", "nb201_fixed_1_none", "digits", "4", "2/5", "1", "0.3000"]]
    with pytest.raises(RunError, match="no runs under"):
        runs_table(tmp_path / "empty")


def test_tensorboard_logs_hold_the_store_values(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _store_with_trials(tmp_path)
    log_dir = write_tensorboard(tmp_path)
    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    assert [(s.step, s.value) for s in events.Scalars("trial/val_error")] == [(1, pytest.approx(0.3))]
    assert [(s.step, s.value) for s in events.Scalars("incumbent/val_error")] == [(1, pytest.approx(0.3)),
                                                                                 (2, pytest.approx(0.3))]
    texts = {tag: [t.tensor_proto.string_val[0].decode() for t in events.Tensors(tag)]
             for tag in ("architecture/text_summary", "failed/text_summary")}
    assert texts["architecture/text_summary"] == ["trial 1: `(arch 0)`"]
    assert texts["failed/text_summary"] == ["trial 2: Traceback ...\nValueError: bad"]
    write_tensorboard(tmp_path)  # rewritten, not appended
    assert len(list(log_dir.iterdir())) == 1


def test_missing_tensorboard_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what a missing package looks like
    with pytest.raises(RunError, match=r"pip install 'hnas\[tensorboard\]'"):
        require_tensorboard()


@pytest.mark.slow
def test_a_task_file_runs_resumes_and_logs_to_tensorboard(tmp_path):
    task = tmp_path / "tasks" / "quick.toml"
    task.parent.mkdir()
    text = ('working_directory = "runs/rs"\nsearch_space = "nb201_fixed_1_none"\nobjective = "digits"\nepochs = 1\n'
            'train_subset = 32\nsearcher = "random_search"\nno_progress = true\ntensorboard = true\n')
    task.write_text(text + "max_evaluations_total = 2\n")
    first = _hnas("run", str(task), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    run = tmp_path / "tasks" / "runs" / "rs"  # relative to the task file
    before = load_trials(run)
    assert [t.status for t in before] == ["done", "done"]
    task.write_text(text + "max_evaluations_total = 3\n")
    second = _hnas("run", str(task), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    after = load_trials(run)
    assert after[:2] == before and len(after) == 3
    assert "TensorBoard logs:" in second.stdout and any((run / "tensorboard").iterdir())
    status = _hnas("status", str(run), cwd=tmp_path, timeout=60)
    assert "3/3 evaluations (3 done, 0 failed, 0 running, 0 pending), ETA 0m00s" in status.stdout


def test_status_incumbent_of_a_multi_fidelity_run_is_the_best_full_training(tmp_path):
    short = Trial(1, "a", "done", 0, objective=0.1, budget_epochs=1, rung=0)  # lower error, but 1 epoch
    full = [Trial(i, "b", "done", 0, objective=error, budget_epochs=9, rung=2) for i, error in ((2, 0.4), (3, 0.3))]
    assert RunStatus(tmp_path, {}, [short, *full]).incumbent.id == 3
    assert RunStatus(tmp_path, {}, [short]).incumbent.id == 1  # nothing at a higher budget yet
