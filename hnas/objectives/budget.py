"""How far one evaluation trains (multi-fidelity search): epochs, schedule horizon, checkpoints,
or the number of training images."""

from __future__ import annotations

from dataclasses import dataclass

from hnas.objectives.errors import ObjectiveError

__all__ = ["TrainingBudget"]


@dataclass(frozen=True)
class TrainingBudget:
    """Train to ``epochs`` of a learning-rate schedule over ``max_epochs``; continue from the
    training state in the file ``resume`` (``None``: from the initial weights) and save the state
    after training to the file ``checkpoint`` (``None``: not saved). Paths are strings, so the
    budget pickles to worker processes and Dask workers (which must see the same files).

    ``train_images`` (the train-subset fidelity): train on the first ``train_images`` images of
    the training split only (a fixed order, so a larger subset contains a smaller one). With it,
    ``epochs`` and ``max_epochs`` may both be ``None``: the objective's own epochs."""

    epochs: int | None
    max_epochs: int | None
    checkpoint: str | None = None
    resume: str | None = None
    train_images: int | None = None

    def __post_init__(self) -> None:
        if self.train_images is not None:
            _require_positive("train_images", self.train_images)
            if self.epochs is None and self.max_epochs is None:
                return  # the objective's own epochs
        for name in ("epochs", "max_epochs"):
            _require_positive(name, getattr(self, name))
        if self.epochs > self.max_epochs:  # type: ignore[operator]
            raise ObjectiveError(f"budget epochs ({self.epochs}) must not exceed max_epochs ({self.max_epochs})")


def _require_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ObjectiveError(f"budget {name} must be an integer >= 1, got {value!r}")
