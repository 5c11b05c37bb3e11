"""Starts that fail and starts that are interrupted, through the real command lines: an unusable
working directory or store path is one line naming it; a failed start leaves the folder as it was;
Ctrl-C at any moment (imports included) is one line and exit status 130."""

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from hnas.runner import load_trials

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "optimize.py"
ARGS = ["--search_space", "nb201_fixed_1_none", "--searcher", "random_search", "--max_evaluations_total", "2",
        "--no_progress"]  # fmt: skip


def _optimize(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _one_line(result, text):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert text in result.stderr, result.stderr


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.slow
def test_unusable_working_directories_are_one_line_naming_the_path(tmp_path, side_by_side):
    plain = tmp_path / "notes.txt"
    plain.write_text("a file, not a folder")
    blocked = tmp_path / "blocked"
    (blocked / "trials.sqlite").mkdir(parents=True)
    before = _tree(tmp_path)
    cases = [
        ("/proc/run", "optimize.py: error: cannot create the working directory /proc/run: "),
        (str(plain / "run"), f"optimize.py: error: cannot use {plain}/run as the working directory: {plain} is not a folder"),
        (str(plain), f"optimize.py: error: cannot use {plain} as the working directory: {plain} is not a folder"),
        (str(blocked), f"optimize.py: error: {blocked}/trials.sqlite is a folder, not a run store"),
    ]
    results = side_by_side(*(partial(_optimize, *ARGS, "--objective", "debug", "--working_directory", directory,
                                     cwd=tmp_path) for directory, _ in cases))  # fmt: skip
    for result, (_, message) in zip(results, cases):
        _one_line(result, message)
    assert not os.path.exists("/proc/run")
    assert _tree(tmp_path) == before and plain.read_text() == "a file, not a folder"


@pytest.mark.slow
def test_a_failed_start_leaves_the_folder_as_it_found_it(tmp_path, side_by_side):
    grammar = tmp_path / "bad.cfg"
    grammar.write_text('NETWORK -> "Linear1" OPS\nOPS -> "conv1x1" |\n')
    empty = tmp_path / "empty"
    empty.mkdir()
    before = _tree(tmp_path)
    bad_grammar = [a for a in ARGS if a != "nb201_fixed_1_none"]
    bad_grammar[bad_grammar.index("--search_space") + 1 : bad_grammar.index("--search_space") + 1] = [str(grammar)]
    unknown, in_empty, broken = side_by_side(
        partial(_optimize, *ARGS, "--objective", "paramz", "--working_directory", str(tmp_path / "new" / "run"),
                cwd=tmp_path),
        partial(_optimize, *ARGS, "--objective", "paramz", "--working_directory", str(empty), cwd=tmp_path),
        partial(_optimize, *bad_grammar, "--objective", "debug", "--working_directory", str(tmp_path / "g"),
                cwd=tmp_path),
    )  # fmt: skip
    _one_line(unknown, "unknown objective 'paramz'")
    _one_line(in_empty, "unknown objective 'paramz'")
    assert broken.returncode == 1 and f"{grammar}:2" in broken.stderr and "Traceback" not in broken.stderr
    assert _tree(tmp_path) == before  # no folder, no trials.sqlite, no .lock left behind


def _interrupt(command, delay, cwd):
    """Start ``command`` in its own process group, send SIGINT to the group (as Ctrl-C in a
    terminal does, workers included) after ``delay`` seconds; returns the finished process."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    time.sleep(delay)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 1.0, 2.5, 6.0])
def test_ctrl_c_at_any_moment_of_optimize_is_one_line_and_status_130(tmp_path, delay):
    directory = tmp_path / "run"
    command = [sys.executable, str(SCRIPT), *ARGS[:-3], "--max_evaluations_total", "100000", "--objective", "debug",
               "--working_directory", str(directory), "--no_progress"]  # fmt: skip
    code, stdout, stderr = _interrupt(command, delay, tmp_path)
    assert code in (130, -signal.SIGINT), stderr  # -SIGINT: before Python's handler exists (a shell says 130)
    assert "Traceback" not in stderr + stdout
    if "run interrupted" in stdout:  # inside the search loop: the summary, on stdout
        assert stderr == ""
    else:
        assert stderr.splitlines() in ([], ["optimize.py: interrupted"])
    if directory.exists() and (directory / "trials.sqlite").exists():
        assert not [t for t in load_trials(directory) if t.status == "running"]


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_ctrl_c_while_the_hnas_command_starts_is_one_line_and_status_130(tmp_path, delay):
    command = [sys.executable, "-m", "hnas", "sample", "--search_space", "nb201_fixed_1_none", "-n", "100000"]
    code, stdout, stderr = _interrupt(command, delay, tmp_path)
    assert code in (130, -signal.SIGINT), stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines() in ([], ["hnas: interrupted"])
