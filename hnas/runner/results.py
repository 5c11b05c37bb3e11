"""Results of a run for people: ``results.csv`` (one row per trial, with the incumbent) and PNG plots
of the incumbent against evaluations and against the run's wall time."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from hnas.runner.store import Trial, TrialStatus

__all__ = ["RESULTS_CSV", "PLOT_EVALUATIONS", "PLOT_TIME", "CSV_COLUMNS", "incumbent_trace", "write_results"]

RESULTS_CSV = "results.csv"
PLOT_EVALUATIONS = "incumbent_vs_evaluations.png"
PLOT_TIME = "incumbent_vs_time.png"

CSV_COLUMNS = (
    "trial", "status", "objective", "incumbent", "val_error", "test_error", "params", "flops", "cost",
    "train_time", "epochs", "eval_seconds", "run_seconds", "seed", "attempts", "worker", "error", "architecture",
)  # fmt: skip


def _incumbents(trials: Sequence[Trial]) -> list[tuple[int, Trial, float | None]]:
    """``(evaluation number, trial, best objective so far or None)`` in the order trials finished."""
    finished = sorted(
        (t for t in trials if t.status in TrialStatus.FINISHED), key=lambda t: (t.run_seconds or 0.0, t.id)
    )
    rows: list[tuple[int, Trial, float | None]] = []
    best: float | None = None
    for number, trial in enumerate(finished, start=1):
        if trial.objective is not None and (best is None or trial.objective < best):
            best = trial.objective
        rows.append((number, trial, best))
    return rows


def incumbent_trace(trials: Sequence[Trial]) -> list[tuple[int, float, float]]:
    """``(evaluation number, run seconds, best objective so far)`` after each evaluated trial, in
    the order trials finished (evaluations before the first success are left out)."""
    return [(n, t.run_seconds or 0.0, best) for n, t, best in _incumbents(trials) if best is not None]


def _cell(value: object) -> object:
    return "" if value is None else value


def write_results(directory: str | Path, trials: Sequence[Trial]) -> tuple[Path, tuple[Path, ...]]:
    """Write ``results.csv`` and the two plots into ``directory``; returns their paths."""
    directory = Path(directory)
    incumbent_after = {trial.id: best for _, trial, best in _incumbents(trials)}
    csv_path = directory / RESULTS_CSV
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for t in trials:
            writer.writerow(
                [
                    t.id, t.status, _cell(t.objective), _cell(incumbent_after.get(t.id)), _cell(t.val_error),
                    _cell(t.test_error), _cell(t.params), _cell(t.flops), _cell(t.cost), _cell(t.train_time),
                    _cell(t.epochs), _cell(t.eval_seconds), _cell(t.run_seconds), t.seed, t.attempts,
                    _cell(t.worker), _cell(t.error), t.architecture,
                ]
            )  # fmt: skip
    return csv_path, _plot(directory, incumbent_trace(trials))


def _plot(directory: Path, trace: list[tuple[int, float, float]]) -> tuple[Path, ...]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    paths = []
    for filename, column, label in ((PLOT_EVALUATIONS, 0, "evaluations"), (PLOT_TIME, 1, "wall time [s]")):
        figure, axes = plt.subplots(figsize=(5, 3.5), dpi=100)
        if trace:
            axes.step([row[column] for row in trace], [row[2] for row in trace], where="post")
        axes.set_xlabel(label)
        axes.set_ylabel("incumbent objective")
        axes.grid(alpha=0.3)
        figure.tight_layout()
        path = directory / filename
        figure.savefig(path)
        plt.close(figure)
        paths.append(path)
    return tuple(paths)
