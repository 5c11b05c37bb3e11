"""End-of-run reports: the time of an interrupted first evaluation, the best architecture as a
bounded outline with the full string in the files, and plots with every trial."""

from __future__ import annotations

import csv
import re
import signal
import subprocess
import sys
import time
import warnings
import zlib

import numpy as np
import pytest

from hnas.grammar import load_space
from hnas.grammar.tree import Tree
from hnas.objectives import EvaluationResult
from hnas.runner import RunConfig, RunError, load_trials, run_search
from hnas.runner.results import BEST_ARCHITECTURE, RESULTS_CSV, architecture_outline, incumbent_trace, trials_figure
from hnas.searchers.synthetic import op_quality_loss
from ux_helpers import ROOT

HIERARCHICAL = "nb201_variable_multi_multi"


class Synthetic:
    """A known function of the tree; fails (raises) for the trees whose crc32 is divisible by ``fail_every``."""

    name = "synthetic"

    def __init__(self, fail_every: int = 0) -> None:
        self.fail_every = fail_every

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        if self.fail_every and zlib.crc32(str(tree).encode()) % self.fail_every == 0:
            raise ValueError("this architecture fails")
        loss = op_quality_loss(tree)
        return EvaluationResult(val_error=loss, test_error=loss, params=tree.size() * 1000)


def _hierarchical_trees(n: int) -> list[Tree]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the grammar's intended duplicate production
        space = load_space(HIERARCHICAL)
    rng = np.random.default_rng(0)
    return [space.sample(rng) for _ in range(n)]


def _tokens(text: str) -> list[str]:
    return re.findall(r"[^\s()\u2026]+", text)


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    items = iter(long)
    return all(token in items for token in short)


def test_the_outline_of_a_long_architecture_is_bounded_and_faithful():
    for tree in _hierarchical_trees(10):
        text = str(tree)
        assert len(text) > 1000
        outline = architecture_outline(text, width=100, max_lines=12)
        assert 1 < len(outline) <= 12 and all(len(line) <= 100 for line in outline)
        assert outline[0] == " ".join(text.split()[:2])  # the root's head on its own line: "(D2 Linear3"
        joined = " ".join(outline)
        assert joined.count("(") == joined.count(")")  # abbreviated subtrees keep their brackets
        assert _is_subsequence(_tokens(joined), _tokens(text))  # only leaves out, never invents
        assert "\u2026" in joined
        children = [line for line in outline if line.startswith("  (") and not line.startswith("   ")]
        assert len(children) == len(tree.children)  # the root's children, one per line
    short = "(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id) (OPS conv3x3))"
    assert architecture_outline(short) == [short]
    assert architecture_outline(short, width=40) == ["(CELL Cell", "  (OPS id)", "  (OPS zero)", "  (OPS conv1x1)",
                                                     "  (OPS id)", "  (OPS id)", "  (OPS conv3x3))"]  # fmt: skip


def test_the_summary_prints_an_outline_and_the_files_hold_the_full_architecture(tmp_path):
    config = RunConfig(search_space=HIERARCHICAL, objective=Synthetic(), searcher="random_search",
                       max_evaluations_total=3)  # fmt: skip
    summary = run_search(config, tmp_path / "run")
    best = summary.best
    text = str(summary)
    assert len(best.architecture) > 1000 and best.architecture not in text
    lines = text.splitlines()
    assert lines[1] == (f"best architecture (trial {best.id}): {best.architecture.count('(')} tree nodes, "
                        f"{best.params:,} parameters, full string in {tmp_path / 'run' / BEST_ARCHITECTURE}")  # fmt: skip
    outline = [line[2:] for line in lines if line.startswith("  ")]
    assert outline == architecture_outline(best.architecture) and len(outline) <= 12
    assert (tmp_path / "run" / BEST_ARCHITECTURE).read_text() == best.architecture + "\n"
    with open(tmp_path / "run" / RESULTS_CSV, newline="") as handle:
        rows = {int(row["trial"]): row["architecture"] for row in csv.DictReader(handle)}
    assert rows[best.id] == best.architecture


@pytest.mark.slow
def test_ctrl_c_during_the_first_evaluation_reports_the_time_it_ran(tmp_path):
    directory = tmp_path / "run"
    command = [sys.executable, str(ROOT / "experiments" / "optimize.py"), "--search_space", "nb201_fixed_1_none",
               "--objective", "digits", "--epochs", "200", "--searcher", "random_search", "--max_evaluations_total",
               "2", "--working_directory", str(directory), "--no_progress"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        try:
            if [t.status for t in load_trials(directory)] == ["running"]:
                break
        except RunError:  # the store does not exist yet
            pass
        time.sleep(0.05)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    lines = stdout.splitlines()
    match = re.fullmatch(r"run interrupted: 0/2 evaluations \(0 failed\) in ([0-9.]+) s", lines[0])
    assert match and float(match.group(1)) >= 2.0, lines[0]  # it ran at least as long as the test waited
    assert lines[1] == "1 evaluation(s) in progress were stopped; they run again on resume"
    assert lines[2] == "no architecture was evaluated successfully yet"
    assert [t.status for t in load_trials(directory)] == ["pending"]


def _axes_artists(figure):
    (axes,) = figure.axes
    points, crosses = [c for c in axes.collections if c.get_label().startswith("trial")], [
        c for c in axes.collections if c.get_label().startswith("failed")
    ]
    return axes, points, crosses


@pytest.mark.slow
def test_the_plots_show_every_trial_the_incumbent_the_failures_and_the_model_phase(tmp_path):
    config = RunConfig(search_space="nb201_fixed_1_none", objective=Synthetic(fail_every=3),
                       searcher="bayesian_optimization", n_init=3, pool_size=20, max_evaluations_total=8)  # fmt: skip
    run_search(config, tmp_path / "run")
    trials = load_trials(tmp_path / "run")
    done = [t for t in trials if t.status == "done"]
    failed = [t for t in trials if t.status == "failed"]
    assert done and failed  # the seed gives both kinds (asserted so the test means something)
    figure = trials_figure(trials, config)
    axes, (points,), (crosses,) = _axes_artists(figure)
    assert len(points.get_offsets()) == len(done) and len(crosses.get_offsets()) == len(failed)
    (step,) = [line for line in axes.lines if line.get_label().startswith("incumbent")]
    trace = incumbent_trace(trials)
    assert list(step.get_xdata()) == [n for n, _, _ in trace]
    assert list(step.get_ydata()) == [best for _, _, best in trace]
    (phase,) = [line for line in axes.lines if line.get_label().startswith("model-based phase")]
    assert list(phase.get_xdata()) == [3.5, 3.5]
    assert all(float(tick).is_integer() for tick in axes.get_xticks())
    assert axes.get_title() == "bayesian_optimization on nb201_fixed_1_none\nobjective: synthetic, seed 0"
    by_time = trials_figure(trials, config, against="time")
    assert by_time.axes[0].get_xlabel() == "run time [s]"
    for name in ("incumbent_vs_evaluations.png", "incumbent_vs_time.png"):
        assert (tmp_path / "run" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_a_successful_trial_gets_a_figure_that_says_so(tmp_path):
    config = RunConfig(search_space="nb201_fixed_1_none", objective=Synthetic(fail_every=1), searcher="random_search",
                       max_evaluations_total=3)  # fmt: skip
    summary = run_search(config, tmp_path / "run")
    assert summary.n_failed == 3 and summary.exit_code == 3
    axes, points, (crosses,) = _axes_artists(trials_figure(load_trials(tmp_path / "run"), config))
    assert points == [] and len(crosses.get_offsets()) == 3
    assert [text.get_text() for text in axes.texts] == ["no successful trial: all 3 evaluations failed"]
    empty_axes = trials_figure([], config).axes[0]
    assert [text.get_text() for text in empty_axes.texts] == ["no evaluated trial yet"]
