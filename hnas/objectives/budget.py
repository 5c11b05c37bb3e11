"""How far one evaluation trains (multi-fidelity search): epochs, schedule horizon, checkpoints."""

from __future__ import annotations

from dataclasses import dataclass

from hnas.objectives.errors import ObjectiveError

__all__ = ["TrainingBudget"]


@dataclass(frozen=True)
class TrainingBudget:
    """Train to ``epochs`` of a learning-rate schedule over ``max_epochs``; continue from the
    training state in the file ``resume`` (``None``: from the initial weights) and save the state
    after training to the file ``checkpoint`` (``None``: not saved). Paths are strings, so the
    budget pickles to worker processes and Dask workers (which must see the same files)."""

    epochs: int
    max_epochs: int
    checkpoint: str | None = None
    resume: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "max_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ObjectiveError(f"budget {name} must be an integer >= 1, got {value!r}")
        if self.epochs > self.max_epochs:
            raise ObjectiveError(f"budget epochs ({self.epochs}) must not exceed max_epochs ({self.max_epochs})")
