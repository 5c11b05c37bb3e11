"""What --help and README tell a new user, checked against the code and run as written."""

from __future__ import annotations

import re
import shlex

import pytest

from hnas.grammar import space_names
from hnas.objectives import DEFAULT_OBJECTIVE, OBJECTIVES
from ux_helpers import ROOT, run_script


def _help(script: str, tmp_path) -> str:
    result = run_script(script, "--help", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())  # argparse wraps lines


def _options(text: str) -> dict[str, str]:
    """Each option's help text (from the unwrapped --help output)."""
    parts = re.split(r" (--[a-z_]+)(?: [A-Z_]+(?: \[[A-Z_]+ \.\.\.\])?)? (?=[^-])", text.split(" options: ", 1)[1])
    return dict(zip(parts[1::2], parts[2::2]))


def test_optimize_help_lists_the_objectives_and_the_shipped_spaces(tmp_path):
    text = _help("optimize.py", tmp_path)
    options = _options(text)
    assert f"what to minimise: {', '.join(OBJECTIVES)} (default {DEFAULT_OBJECTIVE}" in options["--objective"]
    assert f"a shipped space ({', '.join(space_names())})" in options["--search_space"]
    assert "3 every evaluation failed" in text and "130 stopped by Ctrl-C" in text  # the exit statuses


@pytest.mark.parametrize("script", ["surrogate_regression.py", "generate_surrogate_data.py"])
def test_experiment_help_has_no_none_defaults_no_doubled_defaults_and_every_flag_explained(script, tmp_path):
    text = _help(script, tmp_path)
    assert "(default: None)" not in text
    options = _options(text)
    assert len(options) >= 6
    for flag, help_text in options.items():
        assert len(help_text) > 20, flag
        assert help_text.count("(default") <= 1, flag
    if script == "surrogate_regression.py":
        assert "gp_hierarchical the hierarchical WL kernel" in options["--surrogate_model"]
        assert "held out per seed" in options["--n_test"]


def _readme_commands(marker: str) -> list[list[str]]:
    """README's shell lines that mention ``marker``, with ``$ex`` expanded as README sets it."""
    text = (ROOT / "README.md").read_text()
    (example,) = re.findall(r"^ex=(\S+)$", text, flags=re.MULTILINE)
    lines = [line.split("#")[0] for line in text.splitlines() if marker in line and line.startswith(".venv/bin/hnas")]
    return [shlex.split(line.replace("$ex", example))[1:] for line in lines]


def test_readme_shared_cell_commands_run_on_the_shipped_example():
    commands = _readme_commands("$ex/")
    assert [c[0] for c in commands] == ["info", "validate"]
    results = [run_script("hnas", *args, cwd=ROOT, timeout=120) for args in commands]
    for result in results:
        assert result.returncode == 0, result.stderr
    assert "shared blocks     SharedCell -> CELL" in results[0].stdout  # info's


def test_a_mistyped_shared_terminal_reports_each_problem_once(tmp_path):
    args = [a.replace("SharedCell=", "SharedCel=") for a in _readme_commands("$ex/")[1]]
    result = run_script("hnas", *args, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == len(set(lines)) == 3  # macro.cfg uses SharedCell five times on one line: one line
    assert lines[0].endswith("macro.cfg:6: unknown terminal 'SharedCell': neither a primitive nor a shared terminal")
    assert "the start of the sub-grammar for SharedCel, which the grammar never uses" in lines[1]


def test_readme_writes_generated_data_under_the_ignored_runs_folder():
    text = (ROOT / "README.md").read_text()
    outputs = re.findall(r"--output (\S+)", text)
    assert outputs and all(path.startswith("runs/") for path in outputs)
    assert "/runs/" in (ROOT / ".gitignore").read_text().split()
    assert "hnas[dist]" not in text and "pip install -e '.[dist]'" in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "\nviz = " not in pyproject and '"matplotlib>=3.8",' in pyproject  # matplotlib is a core dependency
