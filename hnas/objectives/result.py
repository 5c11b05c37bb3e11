"""The record of one evaluation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

__all__ = ["EvaluationResult", "as_evaluation_result"]


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


def as_evaluation_result(value: object) -> EvaluationResult:
    """An objective's return value as an :class:`EvaluationResult`: a number is ``val_error``, a
    mapping or an object with ``val_error`` gives its fields (other keys of a mapping go to
    ``extras``). Raises ``TypeError`` for anything else."""
    if isinstance(value, EvaluationResult):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return EvaluationResult(val_error=float(value))
    names = [f.name for f in fields(EvaluationResult)]
    if isinstance(value, Mapping):
        if "val_error" not in value:
            raise TypeError(f"the objective returned a mapping without 'val_error' (keys: {', '.join(map(str, value))})")
        known = {name: value[name] for name in names if name in value}
        others = {str(k): v for k, v in value.items() if k not in known}
        if others:
            known["extras"] = {**dict(known.get("extras") or {}), **others}
        return EvaluationResult(**known)
    if hasattr(value, "val_error"):
        return EvaluationResult(**{name: getattr(value, name) for name in names if hasattr(value, name)})
    raise TypeError(
        f"the objective returned {type(value).__name__}; expected a number, an EvaluationResult or a mapping"
    )
