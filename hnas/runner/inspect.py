"""Where a run stands, read-only from its store: progress, incumbent, running and failed trials, ETA."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnas.runner.errors import RunError
from hnas.runner.results import best_trial
from hnas.runner.store import Trial, TrialStatus, find_runs, load_config, load_trials

__all__ = ["RunStatus", "run_status", "runs_table", "trial_duration"]


def trial_duration(trial: Trial) -> float | None:
    """Seconds a finished trial's evaluation took (its measured time, else finish minus start)."""
    if trial.eval_seconds is not None:
        return trial.eval_seconds
    if trial.started_at is not None and trial.finished_at is not None:
        return trial.finished_at - trial.started_at
    return None


@dataclass(frozen=True)
class RunStatus:
    directory: Path
    config: dict[str, Any]
    trials: list[Trial]

    @property
    def max_evaluations(self) -> int:
        return int(self.config.get("max_evaluations_total", 0))

    def of_status(self, status: str) -> list[Trial]:
        return [t for t in self.trials if t.status == status]

    @property
    def n_finished(self) -> int:
        return sum(t.status in TrialStatus.FINISHED for t in self.trials)

    @property
    def incumbent(self) -> Trial | None:
        """The best trial (in a multi-fidelity run, among those at the highest budget reached)."""
        return best_trial(self.trials)

    @property
    def eta_seconds(self) -> float | None:
        """Remaining evaluations times the median finished-trial duration, divided by the number of
        trials running now (at least 1); None before any trial finished, 0 when done."""
        remaining = self.max_evaluations - self.n_finished
        if remaining <= 0:
            return 0.0
        durations = [d for t in self.trials if t.status in TrialStatus.FINISHED and (d := trial_duration(t)) is not None]
        if not durations:
            return None
        return remaining * statistics.median(durations) / max(1, len(self.of_status(TrialStatus.RUNNING)))

    def __str__(self) -> str:
        c = self.config
        space = c.get("search_space")
        lines = [
            f"run {self.directory}",
            f"  {c.get('searcher')} on {' '.join(space) if isinstance(space, list) else space}, objective "
            f"{c.get('objective')}, seed {c.get('seed')}",
            f"  progress: {self.n_finished}/{self.max_evaluations} evaluations ({len(self.of_status('done'))} done, "
            f"{len(self.of_status('failed'))} failed, {len(self.of_status('running'))} running, "
            f"{len(self.of_status('pending'))} pending), ETA {_duration(self.eta_seconds)}",
        ]
        best = self.incumbent
        if best is None:
            lines.append("  incumbent: none yet")
        else:
            lines.append(f"  incumbent: trial {best.id}, validation error {_fmt(best.val_error)}, test error "
                         f"{_fmt(best.test_error)}: {best.architecture}")
        now = time.time()
        for t in self.of_status(TrialStatus.RUNNING):
            since = "" if t.started_at is None else f" for {_duration(now - t.started_at)}"
            lines.append(f"  running: trial {t.id} on {t.worker or 'unknown worker'}{since}")
        for t in self.of_status(TrialStatus.FAILED):
            message = (t.error or "no message").strip().splitlines() or ["no message"]
            lines.append(f"  failed: trial {t.id}: {message[-1]}")
        return "\n".join(lines)


def run_status(directory: str | Path) -> RunStatus:
    """The status of the run in ``directory`` (RunError if it holds no readable run store)."""
    return RunStatus(Path(directory), load_config(directory), load_trials(directory))


def runs_table(directory: str | Path) -> str:
    """One line per run under ``directory``: searcher, space, objective, seed, progress, best error."""
    runs = find_runs(directory)
    if not runs:
        raise RunError(f"no runs under {directory} (no trials.sqlite in it or its subfolders)")
    header = ("run", "searcher", "space", "objective", "seed", "evaluations", "failed", "best val error")
    rows = [header]
    for run in runs:
        name = str(run.relative_to(directory)) if run != Path(directory) else "."
        try:
            status = run_status(run)
        except RunError as error:
            rows.append((name, f"unreadable: {error}", "", "", "", "", "", ""))
            continue
        c = status.config
        space = c.get("search_space")
        best = status.incumbent
        rows.append((name, str(c.get("searcher")), " ".join(space) if isinstance(space, list) else str(space),
                     str(c.get("objective")), str(c.get("seed")), f"{status.n_finished}/{status.max_evaluations}",
                     str(len(status.of_status(TrialStatus.FAILED))), _fmt(None if best is None else best.val_error)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"
