"""Results of a run with several objectives: ``pareto_front.csv`` (the non-dominated done trials),
``hypervolume.csv`` (the hypervolume after each evaluation), their plots, and summary lines.

The hypervolume's reference point is, per objective, the worst value among the done trials plus
a tenth of that objective's range (plus 1 where the range is 0): every done trial lies strictly
inside it, and it is written in the summary and the plot so that runs can be compared on the same
point (:func:`hnas.pareto.hypervolume_trace` takes any).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from hnas.pareto import hypervolume_trace, pareto_mask
from hnas.runner.store import Trial, TrialStatus

if TYPE_CHECKING:
    from hnas.runner.config import RunConfig

__all__ = [
    "PARETO_CSV", "HYPERVOLUME_CSV", "PLOT_PARETO", "PLOT_HYPERVOLUME", "ParetoFiles",
    "reference_point", "write_pareto_results",
]  # fmt: skip

PARETO_CSV = "pareto_front.csv"
HYPERVOLUME_CSV = "hypervolume.csv"
PLOT_PARETO = "pareto_front.png"
PLOT_HYPERVOLUME = "hypervolume_vs_evaluations.png"
SUMMARY_ROWS = 5
"""Front members listed in the summary (all are in pareto_front.csv)."""


class ParetoFiles(NamedTuple):
    """What :func:`write_pareto_results` wrote, and the summary lines."""

    csvs: tuple[Path, ...]
    plots: tuple[Path, ...]
    lines: tuple[str, ...]


def reference_point(points: np.ndarray) -> np.ndarray:
    """The worst value of each objective plus a tenth of its range (plus 1 for a zero range)."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    return high + np.where(span > 0, 0.1 * span, 1.0)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def write_pareto_results(directory: str | Path, trials: Sequence[Trial], config: RunConfig) -> ParetoFiles:
    """Write the Pareto front and the hypervolume trace of a run with ``config.objectives``."""
    directory = Path(directory)
    names = list(config.objectives)
    finished = sorted((t for t in trials if t.status in TrialStatus.FINISHED), key=lambda t: (t.told or 0, t.id))
    done = [t for t in finished if t.status == TrialStatus.DONE and t.objectives is not None]
    points = np.array([t.objectives for t in done], dtype=float).reshape(len(done), len(names))
    front = [done[i] for i in np.flatnonzero(pareto_mask(points))] if done else []
    front.sort(key=lambda t: (*t.objectives, t.id))
    pareto_csv, hv_csv = directory / PARETO_CSV, directory / HYPERVOLUME_CSV
    with open(pareto_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        others = [column for column in ("val_error", "test_error", "params", "flops") if column not in names]
        writer.writerow(["trial", *names, *others, "architecture"])
        for t in front:
            values = ("" if getattr(t, column) is None else getattr(t, column) for column in others)
            writer.writerow([t.id, *t.objectives, *values, t.architecture])
    reference = reference_point(points) if done else np.zeros(len(names))
    by_trial = dict(zip((t.id for t in done), hypervolume_trace(points, reference))) if done else {}
    rows, value = [], 0.0
    for number, t in enumerate(finished, start=1):
        value = by_trial.get(t.id, value)
        rows.append((number, t.id, value))
    with open(hv_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["evaluation", "trial", "hypervolume"])
        writer.writerows(rows)
    plots = (_plot_front(directory / PLOT_PARETO, points, front, done, names, config),
             _plot_hypervolume(directory / PLOT_HYPERVOLUME, rows, reference, names, config))  # fmt: skip
    ref_text = ", ".join(f"{name} {_fmt(r)}" for name, r in zip(names, reference))
    lines = [f"Pareto front over {', '.join(names)}: {len(front)} of {len(done)} done trials, in {pareto_csv}"]
    for t in front[:SUMMARY_ROWS]:
        lines.append(f"  trial {t.id}: " + ", ".join(f"{n} {_fmt(v)}" for n, v in zip(names, t.objectives)))
    if len(front) > SUMMARY_ROWS:
        lines.append(f"  ... {len(front) - SUMMARY_ROWS} more")
    if done:
        lines.append(f"hypervolume {value:.6g} (reference point: {ref_text}), after each evaluation in {hv_csv}")
    return ParetoFiles((pareto_csv, hv_csv), plots, tuple(lines))


def _title(config: RunConfig) -> str:
    return f"{config.searcher_name} on {config.space_label}, seed {config.seed}"


def _plot_front(path: Path, points: np.ndarray, front: list[Trial], done: list[Trial], names: list[str],
                config: RunConfig) -> Path:  # fmt: skip
    """The done trials and the front on the first two objectives (the only one for a single objective)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.6), dpi=150)
    axes = figure.subplots()
    if not done:
        axes.text(0.5, 0.5, "no done trial yet", transform=axes.transAxes, ha="center", va="center")
    elif len(names) == 1:
        axes.scatter(range(1, len(points) + 1), points[:, 0], s=14, color="tab:blue", label="done trials")
        axes.set_xlabel("evaluation")
        axes.set_ylabel(names[0])
    else:
        axes.scatter(points[:, 0], points[:, 1], s=14, color="0.6", label=f"done trials ({len(done)})")
        fx = np.array([t.objectives[0] for t in front])
        fy = np.array([t.objectives[1] for t in front])
        order = np.argsort(fx, kind="stable")
        extra = f" (non-dominated in all {len(names)} objectives)" if len(names) > 2 else ""
        axes.scatter(fx, fy, s=26, color="tab:red", label=f"Pareto front ({len(front)}){extra}", zorder=3)
        if len(names) == 2:
            axes.step(fx[order], fy[order], where="post", color="tab:red", linewidth=1, zorder=2)
        axes.set_xlabel(names[0])
        axes.set_ylabel(names[1])
        axes.legend(fontsize=8)
    axes.set_title(_title(config) + "\n(every objective minimised)", fontsize=10)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    return path


def _plot_hypervolume(path: Path, rows: list[tuple[int, int, float]], reference: np.ndarray, names: list[str],
                      config: RunConfig) -> Path:  # fmt: skip
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=150)
    axes = figure.subplots()
    if rows:
        axes.step([r[0] for r in rows], [r[2] for r in rows], where="post", color="tab:orange", linewidth=2)
    axes.set_xlabel("evaluation (in the order told)")
    axes.set_ylabel("hypervolume of the done trials")
    ref_text = ", ".join(f"{n} {_fmt(r)}" for n, r in zip(names, reference))
    axes.set_title(f"{_title(config)}\nreference point: {ref_text}", fontsize=9)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    return path
