"""Monotone transforms of the objective values a surrogate is fitted on (lower stays better).

A BO loop fits its surrogate on ``transform_targets(name, losses)`` and computes expected
improvement in the transformed scale (incumbent = the smallest transformed loss): a monotone
transform keeps which architecture is best, and makes heavy-tailed losses (a few diverged
architectures with error ~0.9 among thousands at ~0.2) look Gaussian to the GP.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = ["TARGET_TRANSFORMS", "transform_targets"]

TARGET_TRANSFORMS = ("none", "log", "rank")
"""``none``; ``log`` (values must be positive); ``rank``: the Gaussian copula
``Phi^-1((rank - 0.5) / n)`` (ties share their mean rank), which depends only on the order."""


def transform_targets(name: str, y: np.ndarray) -> np.ndarray:
    """``y`` under the transform ``name`` (one of :data:`TARGET_TRANSFORMS`)."""
    y = np.asarray(y, dtype=np.float64)
    if name == "none":
        return y.copy()
    if name == "log":
        if np.any(y <= 0):
            raise ValueError("the log target transform needs positive values")
        return np.log(y)
    if name == "rank":
        if len(y) == 0:
            return y.copy()
        return special.ndtri((stats.rankdata(y) - 0.5) / len(y))
    raise ValueError(f"unknown target transform {name!r}; choose one of {', '.join(TARGET_TRANSFORMS)}")
