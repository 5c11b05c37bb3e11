"""Results of a run for people: ``results.csv`` (one row per trial, with the incumbent), the best
architecture's full bracket string, PNG plots of every trial and the incumbent against evaluations
and against the run's wall time, and a short outline of a long architecture string for reports."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from hnas.runner.fidelity import best_at_full_budget
from hnas.runner.store import Trial, TrialStatus

if TYPE_CHECKING:
    from hnas.runner.config import RunConfig

__all__ = [
    "RESULTS_CSV", "BEST_ARCHITECTURE", "PLOT_EVALUATIONS", "PLOT_TIME", "CSV_COLUMNS", "FIDELITY_CSV_COLUMNS",
    "ResultFiles",
    "architecture_outline", "best_trial", "incumbent_trace", "shorten", "trials_figure", "write_results",
]  # fmt: skip

RESULTS_CSV = "results.csv"
BEST_ARCHITECTURE = "best_architecture.txt"
PLOT_EVALUATIONS = "incumbent_vs_evaluations.png"
PLOT_TIME = "incumbent_vs_time.png"

CSV_COLUMNS = (
    "trial", "status", "objective", "incumbent", "val_error", "test_error", "params", "flops", "cost",
    "train_time", "epochs", "eval_seconds", "run_seconds", "seed", "attempts", "worker", "error", "architecture",
)  # fmt: skip
FIDELITY_CSV_COLUMNS = ("budget_epochs", "rung", "bracket", "continues")
"""Inserted before ``architecture`` in the results of a multi-fidelity run (``budget_epochs`` is
named ``budget_train_subset`` when the levels are numbers of training images)."""


class ResultFiles(NamedTuple):
    """The files :func:`write_results` wrote (``best_architecture`` is None before any success)."""

    csv: Path
    plots: tuple[Path, ...]
    best_architecture: Path | None


def best_trial(trials: Sequence[Trial]) -> Trial | None:
    """The done trial with the lowest objective (the lowest id among equals), or None; in a
    multi-fidelity run, among the trials at the highest budget reached."""
    done = [t for t in best_at_full_budget(trials) if t.status == TrialStatus.DONE and t.objective is not None]
    return min(done, key=lambda t: (t.objective, t.id)) if done else None


def _incumbents(trials: Sequence[Trial]) -> list[tuple[int, Trial, float | None]]:
    """``(evaluation number, trial, best objective so far or None)`` in the order trials finished
    (in a multi-fidelity run, the best so far among trials at the highest budget reached)."""
    counted = {t.id for t in best_at_full_budget(trials)}
    finished = sorted(
        (t for t in trials if t.status in TrialStatus.FINISHED), key=lambda t: (t.run_seconds or 0.0, t.id)
    )
    rows: list[tuple[int, Trial, float | None]] = []
    best: float | None = None
    for number, trial in enumerate(finished, start=1):
        if trial.objective is not None and trial.id in counted and (best is None or trial.objective < best):
            best = trial.objective
        rows.append((number, trial, best))
    return rows


def incumbent_trace(trials: Sequence[Trial]) -> list[tuple[int, float, float]]:
    """``(evaluation number, run seconds, best objective so far)`` after each evaluated trial, in
    the order trials finished (evaluations before the first success are left out)."""
    return [(n, t.run_seconds or 0.0, best) for n, t, best in _incumbents(trials) if best is not None]


def _cell(value: object) -> object:
    return "" if value is None else value


def write_results(directory: str | Path, trials: Sequence[Trial], config: RunConfig | None = None) -> ResultFiles:
    """Write ``results.csv``, ``best_architecture.txt`` (once a trial succeeded) and the two plots
    into ``directory``; ``config`` titles the plots and marks where BO's model-based phase starts."""
    directory = Path(directory)
    rows = _incumbents(trials)
    incumbent_after = {trial.id: best for _, trial, best in rows}
    csv_path = directory / RESULTS_CSV
    fidelity = any(t.budget_epochs is not None for t in trials)
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        header = [_budget_column(trials), *FIDELITY_CSV_COLUMNS[1:]]
        writer.writerow(_with_fidelity(list(CSV_COLUMNS), header, fidelity))
        for t in trials:
            fields = [_cell(getattr(t, name)) for name in FIDELITY_CSV_COLUMNS]
            writer.writerow(_with_fidelity(
                [
                    t.id, t.status, _cell(t.objective), _cell(incumbent_after.get(t.id)), _cell(t.val_error),
                    _cell(t.test_error), _cell(t.params), _cell(t.flops), _cell(t.cost), _cell(t.train_time),
                    _cell(t.epochs), _cell(t.eval_seconds), _cell(t.run_seconds), t.seed, t.attempts,
                    _cell(t.worker), _cell(t.error), t.architecture,
                ], fields, fidelity,
            ))  # fmt: skip
    best = best_trial(trials)
    best_path = None
    if best is not None:
        best_path = directory / BEST_ARCHITECTURE
        best_path.write_text(best.architecture + "\n")
    return ResultFiles(csv_path, _plot(directory, rows, config), best_path)


def _budget_column(trials: list[Trial]) -> str:
    """The name of the budget column: what the levels of the run's trials count."""
    subset = any(t.budget_kind == "train_subset" for t in trials)
    return "budget_train_subset" if subset else FIDELITY_CSV_COLUMNS[0]


def _with_fidelity(row: list[Any], fidelity_cells: list[Any], fidelity: bool) -> list[Any]:
    """``row`` with the multi-fidelity cells before its last (the architecture) in such a run."""
    return row[:-1] + fidelity_cells + row[-1:] if fidelity else row


# ------------------------------------------------------------------------------------------ outline
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def _forms(text: str) -> list[Any]:
    """The bracket string as nested lists of atoms (several top-level forms for shared blocks)."""
    stack: list[list[Any]] = [[]]
    for token in _TOKEN.findall(text):
        if token == "(":
            stack.append([])
        elif token == ")" and len(stack) > 1:
            form = stack.pop()
            stack[-1].append(form)
        elif token != ")":
            stack[-1].append(token)
    while len(stack) > 1:  # unbalanced text: close what is open
        form = stack.pop()
        stack[-1].append(form)
    return stack[0]


def _flat(item: Any, depth: int) -> str:
    """One line; subtrees deeper than ``depth`` abbreviated to their head, e.g. ``(CELL Cell …)``."""
    if not isinstance(item, list):
        return item
    if depth == 0 and any(isinstance(x, list) for x in item):
        return "(" + " ".join(x for x in item if not isinstance(x, list)) + " \u2026)"
    return "(" + " ".join(_flat(x, depth - 1) for x in item) + ")"


def _one_line(item: Any, indent: str, width: int) -> str:
    """The deepest abbreviation of ``item`` that fits in ``width``, else the shortest one cut."""
    line = indent + _flat(item, 0)
    for depth in range(1, 64):
        deeper = indent + _flat(item, depth)
        if len(deeper) > width or deeper == line:
            break
        line = deeper
    return shorten(line, width)


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one an ellipsis when it was cut."""
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _render(item: Any, indent: str, levels: int, width: int, out: list[str]) -> None:
    line = _one_line(item, indent, width)
    if not isinstance(item, list) or levels == 0 or "\u2026" not in line:
        out.append(line)
        return
    first_form = next((i for i, x in enumerate(item) if isinstance(x, list)), len(item))
    out.append(indent + "(" + " ".join(item[:first_form]))
    for child in item[first_form:]:
        _render(child, indent + "  ", levels - 1, width, out)
    out[-1] += ")"


def architecture_outline(text: str, *, width: int = 100, max_lines: int = 12) -> list[str]:
    """An indented outline of a bracket string in at most ``max_lines`` lines of at most ``width``
    characters: the top levels one node per line, deeper subtrees on one line with their own deeper
    subtrees abbreviated to ``(SYMBOL op …)``."""
    forms = _forms(text)
    best: list[str] = []
    for levels in range(text.count("(") + 1):  # expand one more level while the lines allow it
        out: list[str] = []
        for form in forms:
            _render(form, "", levels, width, out)
        if best and (len(out) > max_lines or out == best):
            break
        best = out
        if not any("\u2026" in line for line in out):
            break  # nothing is cut: deeper levels add nothing
    if len(best) > max_lines:
        best = best[: max_lines - 1] + [f"\u2026 ({len(best) - max_lines + 1} more lines)"]
    return best


# ------------------------------------------------------------------------------------------ plots
def _model_phase_start(config: RunConfig | None) -> int | None:
    return None if config is None else config.random_initial_trials


def _title(config: RunConfig | None) -> str:
    if config is None:
        return "search run"
    objective = config.objective_name + (" (log)" if config.log else "")
    return f"{config.searcher} on {config.space_label}\nobjective: {objective}, seed {config.seed}"


def trials_figure(trials: Sequence[Trial], config: RunConfig | None = None, *, against: str = "evaluations") -> Any:
    """A matplotlib Figure of every finished trial and the incumbent against the evaluation number
    (``against="evaluations"``) or the run's active time (``"time"``): see :func:`write_results`."""
    return _figure(_incumbents(trials), config, against)


def _plot(directory: Path, rows: list[tuple[int, Trial, float | None]], config: RunConfig | None) -> tuple[Path, ...]:
    paths = []
    for filename, against in ((PLOT_EVALUATIONS, "evaluations"), (PLOT_TIME, "time")):
        path = directory / filename
        _figure(rows, config, against).savefig(path)
        paths.append(path)
    return tuple(paths)


def _figure(rows: list[tuple[int, Trial, float | None]], config: RunConfig | None, against: str) -> Any:
    from matplotlib.figure import Figure  # rendered with Agg; no pyplot state
    from matplotlib.ticker import MaxNLocator

    if against == "evaluations":
        xs, xlabel = [float(n) for n, _, _ in rows], "evaluation (in the order they finished)"
    else:
        seconds = [t.run_seconds or 0.0 for _, t, _ in rows]
        in_minutes = bool(seconds) and max(seconds) > 120
        xs = [s / 60 for s in seconds] if in_minutes else seconds
        xlabel = "run time [min]" if in_minutes else "run time [s]"
    figure = Figure(figsize=(6.4, 4.2), dpi=150)
    axes = figure.subplots()
    _draw_trials(axes, xs, rows)
    phase = _model_phase_start(config)
    if phase is not None and 0 < phase < len(rows):
        x = phase + 0.5 if against == "evaluations" else xs[phase - 1]
        axes.axvline(x, color="0.45", linestyle="--", linewidth=1,
                     label=f"model-based phase starts (after n_init={phase})")  # fmt: skip
    if against == "evaluations":
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if rows:
            axes.set_xlim(0.5, len(rows) + 0.5)
    axes.set_xlabel(xlabel)
    kind = "" if config is None else " (log validation error)" if config.log else " (validation error)"
    axes.set_ylabel("objective" + kind)
    axes.set_title(_title(config), fontsize=10)
    axes.grid(alpha=0.3)
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, fontsize=8, loc="lower center", ncol=min(len(handles), 2), frameon=False)
    figure.tight_layout(rect=(0, 0.1 if len(handles) > 2 else 0.06, 1, 1))
    return figure


def _draw_trials(axes: Any, xs: list[float], rows: list[tuple[int, Trial, float | None]]) -> None:
    """Every done trial as a point, the incumbent as a step line, failed trials as red crosses along
    the top; a message instead of empty axes when no trial succeeded."""
    done = [(x, t.objective) for x, (_, t, _) in zip(xs, rows) if t.objective is not None]
    failed = [x for x, (_, t, _) in zip(xs, rows) if t.objective is None]
    trace = [(x, best) for x, (_, _, best) in zip(xs, rows) if best is not None]
    rungs = sorted({t.rung for _, t, _ in rows if t.rung is not None and t.objective is not None})
    if done and rungs:  # multi-fidelity: a colour per rung
        for rung in rungs:
            points = [(x, t.objective) for x, (_, t, _) in zip(xs, rows) if t.rung == rung and t.objective is not None]
            level = next(t for _, t, _ in rows if t.rung == rung)
            axes.scatter(*zip(*points), s=18, alpha=0.7, linewidths=0, zorder=3,
                         label=f"rung {rung}: {_level(level)} ({len(points)})")  # fmt: skip
    elif done:
        axes.scatter(*zip(*done), s=18, color="tab:blue", alpha=0.7, linewidths=0, label=f"trial ({len(done)})",
                     zorder=3)  # fmt: skip
    if trace:
        top = max((t for _, t, _ in rows if t.budget_epochs is not None), key=lambda t: t.budget_epochs, default=None)
        label = "incumbent (best so far)" if not rungs or top is None else f"incumbent at {_level(top)}"
        axes.step(*zip(*trace), where="post", color="tab:orange", linewidth=2, label=label, zorder=2)
    if failed:
        if done:  # head room: the crosses' row stays clear of the points
            low, high = axes.get_ylim()
            axes.set_ylim(low, high + 0.08 * (high - low))
        axes.scatter(failed, [0.96] * len(failed), transform=axes.get_xaxis_transform(), marker="x", s=30,
                     color="tab:red", label=f"failed ({len(failed)}, no value)", zorder=4, clip_on=False)  # fmt: skip
    if not done:
        message = f"no successful trial: all {len(failed)} evaluations failed" if failed else "no evaluated trial yet"
        axes.text(0.5, 0.5, message, transform=axes.transAxes, ha="center", va="center", fontsize=11,
                  color="tab:red" if failed else "0.3")  # fmt: skip
        axes.set_yticks([])


def _level(trial: Trial) -> str:
    """A trial's fidelity level in words: ``3 epochs``, ``1 epoch``, ``200 images``."""
    n = trial.budget_epochs
    return f"{n} {'image' if trial.budget_kind == 'train_subset' else 'epoch'}{'' if n == 1 else 's'}"
