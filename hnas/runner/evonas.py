"""The EvoNAS preset: a training-free multi-objective search, then training of its Pareto front.

1. NSGA-II (``mo_regularized_evolution``) over a cell space (default: the NAS-Bench-201 cell in
   its fixed macro, ``nb201_fixed_1_none``) with three zero-cost objectives scored on one batch
   of the task's training images, all minimised: the NTK condition number (``ntk``: TE-NAS's
   trainability, lower is better), minus the number of linear regions (``linear_regions``:
   TE-NAS's expressivity, more is better) and minus the Jacobian-covariance score (``jacov``:
   gradient correlation between inputs, higher is better). No network is trained in this phase.
2. Every member of the front (or ``max_trained`` of them, spread along the NTK objective) is
   trained on the task with the task's protocol; the results go to ``front_trained.csv``.

The search is an ordinary resumable run in ``<working_directory>/search`` (its own Pareto files
included); rerunning resumes it and trains the front again (the same seeds give the same errors).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hnas.runner.config import RunConfig
from hnas.runner.driver import RunSummary, run_search, trial_seed
from hnas.runner.pareto_results import PARETO_CSV

__all__ = ["EVONAS_OBJECTIVES", "EVONAS_SPACE", "TRAINED_CSV", "EvoNASResult", "TrainedMember", "run_evonas"]

EVONAS_OBJECTIVES = ("ntk", "linear_regions", "jacov")
EVONAS_SPACE = "nb201_fixed_1_none"
TRAINED_CSV = "front_trained.csv"


@dataclass(frozen=True)
class TrainedMember:
    """A front member: its search trial, zero-cost objective values, and training results."""

    trial: int
    objectives: tuple[float, ...]
    val_error: float
    test_error: float
    params: int
    train_time: float
    architecture: str


@dataclass(frozen=True)
class EvoNASResult:
    """The search's summary, the trained members (best validation error first) and their CSV."""

    search: RunSummary
    trained: tuple[TrainedMember, ...]
    trained_csv: Path

    def __str__(self) -> str:
        lines = [str(self.search), f"trained {len(self.trained)} front members ({self.trained_csv}):"]
        names = ", ".join(EVONAS_OBJECTIVES)
        for m in self.trained:
            values = ", ".join(f"{v:.4g}" for v in m.objectives)
            lines.append(f"  trial {m.trial}: val_error {m.val_error:.4f}, test_error {m.test_error:.4f}, "
                         f"{m.params:,} parameters ({names}: {values})")  # fmt: skip
        return "\n".join(lines)


def _spread(members: list[dict[str, str]], k: int | None) -> list[dict[str, str]]:
    """``k`` members evenly spaced along the first objective (all when ``k`` is None or larger)."""
    if k is None or len(members) <= k:
        return members
    ordered = sorted(members, key=lambda row: (float(row[EVONAS_OBJECTIVES[0]]), int(row["trial"])))
    return [ordered[i] for i in np.unique(np.linspace(0, len(ordered) - 1, k).round().astype(int))]


def run_evonas(
    working_directory: str | os.PathLike[str],
    *,
    task: str = "digits",
    data_path: str | None = None,
    search_space: str = EVONAS_SPACE,
    seed: int = 0,
    max_evaluations_total: int = 100,
    population_size: int = 20,
    proxy_batch_size: int = 32,
    max_trained: int | None = None,
    training_options: dict[str, Any] | None = None,
    progress: bool = False,
    plugins: Sequence[str] = (),
) -> EvoNASResult:
    """Run the preset (see the module doc) in ``working_directory`` (``data_path``: the task's
    data, for tasks that are not embedded); ``training_options`` go to
    the task's objective for phase 2 (e.g. ``{"epochs": 1, "train_subset": 256}``); ``plugins``
    are loaded first (a user's cell space with its own primitives)."""
    from hnas.grammar import load_space
    from hnas.objectives import get_objective

    directory = Path(working_directory)
    config = RunConfig(
        search_space=search_space,
        objective=EVONAS_OBJECTIVES[0],
        objective_options={"dataset": task, "batch_size": proxy_batch_size, "proxies": ",".join(EVONAS_OBJECTIVES[1:])},
        searcher="mo_regularized_evolution",
        searcher_options={"population_size": population_size},
        objectives=EVONAS_OBJECTIVES,
        seed=seed,
        max_evaluations_total=max_evaluations_total,
        data_path=data_path,
        plugins=tuple(plugins),
    )
    summary = run_search(config, directory / "search", progress=progress)
    with open(summary.working_directory / PARETO_CSV) as handle:
        front = _spread(list(csv.DictReader(handle)), max_trained)
    space = load_space(search_space)
    objective = get_objective(task, data_path, **(training_options or {}))
    trained = []
    for row in front:
        trial = int(row["trial"])
        result = objective.evaluate(space.parse(row["architecture"]), trial_seed(seed, trial))
        trained.append(TrainedMember(trial, tuple(float(row[name]) for name in EVONAS_OBJECTIVES), result.val_error,
                                     result.test_error, result.params, result.train_time, row["architecture"]))  # fmt: skip
    trained.sort(key=lambda m: (m.val_error, m.trial))
    path = directory / TRAINED_CSV
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", *EVONAS_OBJECTIVES, "val_error", "test_error", "params", "train_time", "architecture"])
        for m in trained:
            writer.writerow([m.trial, *m.objectives, m.val_error, m.test_error, m.params, m.train_time, m.architecture])
    return EvoNASResult(summary, tuple(trained), path)
