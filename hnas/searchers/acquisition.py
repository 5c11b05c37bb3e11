"""Acquisition functions: how promising a candidate is given the surrogate's prediction.

An acquisition function is a frozen dataclass (its fields are its parameters, validated in
``__post_init__``) deriving from :class:`Acquisition`, called as ``acquisition(mean, var, best)``
with the surrogate's predictive means and variances of a batch of candidates and the best
observed loss; it returns one score per candidate, higher is better (losses are minimised).
Register your own with :func:`hnas.searchers.register_acquisition`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from hnas.searchers.options import check_number

__all__ = ["Acquisition", "ExpectedImprovement", "ProbabilityOfImprovement", "UpperConfidenceBound"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _sigma(var: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(np.asarray(var, dtype=float), 1e-18))


@dataclass(frozen=True)
class Acquisition(ABC):
    """Base of acquisition functions (see the module doc)."""

    @abstractmethod
    def __call__(self, mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
        """Scores of candidates with predictive ``mean`` and ``var``; higher is better."""


@dataclass(frozen=True)
class _Improvement(Acquisition, ABC):
    """An acquisition of the improvement over ``best - xi`` (``xi >= 0`` favours exploration)."""

    xi: float = 0.0

    def __post_init__(self) -> None:
        check_number("xi", self.xi, 0.0)


@dataclass(frozen=True)
class ExpectedImprovement(_Improvement):
    """EI for minimisation: E[max(best - xi - f, 0)] with f ~ N(mean, var)."""

    def __call__(self, mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
        mean, sigma = np.asarray(mean, dtype=float), _sigma(var)
        gain = best - self.xi - mean
        z = gain / sigma
        return np.maximum(gain * ndtr(z) + sigma * _INV_SQRT_2PI * np.exp(-0.5 * z * z), 0.0)


@dataclass(frozen=True)
class ProbabilityOfImprovement(_Improvement):
    """PI for minimisation: P(f < best - xi) with f ~ N(mean, var)."""

    def __call__(self, mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
        return ndtr((best - self.xi - np.asarray(mean, dtype=float)) / _sigma(var))


@dataclass(frozen=True)
class UpperConfidenceBound(Acquisition):
    """The confidence bound for minimisation, negated: ``sqrt(beta) * sigma - mean``."""

    beta: float = 2.0

    def __post_init__(self) -> None:
        check_number("beta", self.beta, 0.0)

    def __call__(self, mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
        return math.sqrt(self.beta) * _sigma(var) - np.asarray(mean, dtype=float)
