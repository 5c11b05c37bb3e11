"""A cheap objective that trains by epochs and keeps real checkpoint files, for the
multi-fidelity runner tests: a known function of the tree and the epochs trained."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from runner_objectives import SyntheticObjective

from hnas.grammar.tree import Tree
from hnas.objectives.budget import TrainingBudget
from hnas.objectives.errors import EvaluationError
from hnas.objectives.result import EvaluationResult
from hnas.searchers.synthetic import op_quality_loss


def epoch_error(tree: Tree, epoch: int, max_epochs: int) -> float:
    """The 'validation error' after ``epoch`` of ``max_epochs``: falls towards op_quality_loss."""
    return op_quality_loss(tree) + 0.5 * (1 - epoch / max_epochs) + 0.01 * (max_epochs - epoch) / epoch


class FidelityObjective(SyntheticObjective):
    """Its learning curve is :func:`epoch_error` per epoch; a budget's checkpoint file (JSON) holds
    the curve so far, which a continued evaluation reads (a missing file is an EvaluationError)."""

    name = "synthetic_fidelity"
    supports_fidelity = True

    def evaluate(self, tree: Tree, seed: int, budget: TrainingBudget | None = None) -> EvaluationResult:
        if budget is None:
            raise AssertionError("a multi-fidelity run passes a budget")
        self._log("start", tree, seed)
        curve: list[float] = []
        if budget.resume is not None:
            if not Path(budget.resume).exists():
                raise EvaluationError(f"missing checkpoint {budget.resume}")
            state = json.loads(Path(budget.resume).read_text())
            assert state["seed"] == seed and state["max_epochs"] == budget.max_epochs
            curve = state["curve"]
        trained = budget.epochs - len(curve)
        time.sleep(self.delay * trained)
        curve += [epoch_error(tree, e, budget.max_epochs) for e in range(len(curve) + 1, budget.epochs + 1)]
        if budget.checkpoint is not None:
            Path(budget.checkpoint).parent.mkdir(parents=True, exist_ok=True)
            temporary = f"{budget.checkpoint}.{os.getpid()}.tmp"
            Path(temporary).write_text(json.dumps({"seed": seed, "max_epochs": budget.max_epochs, "curve": curve}))
            os.replace(temporary, budget.checkpoint)
        self._log("end", tree, seed)
        return EvaluationResult(val_error=curve[-1], train_time=self.delay * trained, epochs=len(curve),
                                learning_curve=tuple(curve), extras={"trained": float(trained)})


def subset_error(tree: Tree, images: int) -> float:
    """The 'validation error' after training on ``images`` training images."""
    return op_quality_loss(tree) + 10.0 / images


class SubsetObjective(SyntheticObjective):
    """The train-subset fidelity: its error is :func:`subset_error` of the budget's images; it
    records the images it trained on and fails if it was asked to resume or save a checkpoint."""

    name = "synthetic_subset"
    supports_fidelity = True

    def evaluate(self, tree: Tree, seed: int, budget: TrainingBudget | None = None) -> EvaluationResult:
        if budget is None or budget.train_images is None:
            raise AssertionError("a train-subset run passes a budget of training images")
        if (budget.epochs, budget.max_epochs, budget.checkpoint, budget.resume) != (None, None, None, None):
            raise EvaluationError(f"a train-subset budget trains its own epochs from zero, got {budget}")
        self._log("start", tree, seed)
        self._log("end", tree, seed)
        return EvaluationResult(val_error=subset_error(tree, budget.train_images), epochs=1,
                                extras={"images": float(budget.train_images)})  # fmt: skip
