"""TensorBoard logs of a run, written from its store through ``torch.utils.tensorboard``.

Scalars: ``trial/<metric>`` per finished trial (step: trial id), ``incumbent/val_error`` and
``incumbent/objective`` per evaluation (step: evaluations; the event time is the run's wall time at
that trial), ``learning_curve/trial_<id>`` per epoch; text: every trial's architecture, the
incumbent's, and failed trials' messages. The logs are rewritten whole, so a resumed run's logs
never repeat steps.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hnas.runner.errors import RunError
from hnas.runner.fidelity import best_at_full_budget
from hnas.runner.store import TrialStatus, load_trials

__all__ = ["write_tensorboard", "require_tensorboard", "TENSORBOARD_DIRNAME"]

TENSORBOARD_DIRNAME = "tensorboard"
_METRICS = ("val_error", "test_error", "objective", "cost", "params", "flops")


def require_tensorboard() -> type:
    """torch's SummaryWriter; RunError saying what to install when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RunError("--tensorboard needs the tensorboard package: pip install 'hnas[tensorboard]' "
                       "(or pip install tensorboard)") from None
    return SummaryWriter


def write_tensorboard(run_dir: str | Path, log_dir: str | Path | None = None) -> Path:
    """Write the TensorBoard logs of the run in ``run_dir`` (default ``run_dir/tensorboard``)."""
    writer_class = require_tensorboard()
    trials = [t for t in load_trials(run_dir) if t.status in TrialStatus.FINISHED]
    trials.sort(key=lambda t: (t.finished_at or 0.0, t.id))
    log_dir = Path(log_dir) if log_dir is not None else Path(run_dir) / TENSORBOARD_DIRNAME
    if log_dir.exists():
        shutil.rmtree(log_dir)
    start = min((t.created_at for t in trials), default=0.0)
    writer = writer_class(str(log_dir))
    try:
        best = None
        comparable = {t.id for t in best_at_full_budget(trials)}  # multi-fidelity: the full budget only
        for n, trial in enumerate(trials, start=1):
            walltime = start + (trial.run_seconds or 0.0)
            if trial.status == TrialStatus.FAILED:
                writer.add_text("failed", f"trial {trial.id}: {trial.error}", trial.id, walltime=walltime)
            else:
                for metric in _METRICS:
                    value = getattr(trial, metric)
                    if value is not None:
                        writer.add_scalar(f"trial/{metric}", value, trial.id, walltime=walltime)
                for epoch, value in enumerate(trial.learning_curve, start=1):
                    writer.add_scalar(f"learning_curve/trial_{trial.id}", value, epoch, walltime=walltime)
                writer.add_text("architecture", f"trial {trial.id}: `{trial.architecture}`", trial.id, walltime=walltime)
                better = best is None or (trial.objective is not None and trial.objective < best.objective)
                if trial.objective is not None and trial.id in comparable and better:
                    best = trial
                    writer.add_text("incumbent", f"trial {trial.id}: `{trial.architecture}`", n, walltime=walltime)
            if best is not None:
                writer.add_scalar("incumbent/objective", best.objective, n, walltime=walltime)
                if best.val_error is not None:
                    writer.add_scalar("incumbent/val_error", best.val_error, n, walltime=walltime)
    finally:
        writer.close()
    return log_dir
