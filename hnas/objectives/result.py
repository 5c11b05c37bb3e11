"""The record of one evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["EvaluationResult"]


@dataclass(frozen=True)
class EvaluationResult:
    """What an objective reports for one architecture.

    ``val_error`` is the objective value (lower is better): a validation error in [0, 1] for a
    training objective, ``-score`` for a zero-cost proxy, a distance for ``debug``. ``test_error``
    is NaN where nothing was measured on a test split. ``train_time`` is in seconds, ``epochs`` the
    number trained, ``learning_curve`` the validation error after each epoch, ``extras`` further
    named figures (zero-cost proxy scores by proxy name).
    """

    val_error: float
    test_error: float = math.nan
    params: int = 0
    flops: float = math.nan
    train_time: float = 0.0
    epochs: int = 0
    learning_curve: tuple[float, ...] = ()
    extras: dict[str, float] = field(default_factory=dict)
