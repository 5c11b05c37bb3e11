"""Proxies from the input Jacobians of the images: J_n = d(sum of the outputs of image n) / d image n,
in train mode, one row per image (see :func:`~hnas.objectives.proxies.common.input_jacobians`)."""

from __future__ import annotations

import torch
from torch import nn

from hnas.objectives.proxies.common import correlation_matrix, input_jacobians

__all__ = ["JACOV_K", "EPE_K", "EPE_MANY_CLASSES", "jacov", "epe_nas"]

JACOV_K = 1e-5
EPE_K = 1e-5
EPE_MANY_CLASSES = 100
"""EPE-NAS scores tasks with more classes than this by the spread of the per-class scores."""


def jacov(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """Jacobian covariance (Mellor et al. 2020): -sum(log(v + k) + 1 / (v + k)), k = 1e-5, over
    the eigenvalues v of the correlation matrix of the images' Jacobians."""
    v = torch.linalg.eigvalsh(correlation_matrix(input_jacobians(model, x)[0])).clamp_min(0.0)
    return float(-(torch.log(v + JACOV_K) + 1.0 / (v + JACOV_K)).sum())


def epe_nas(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """EPE-NAS (Lopes et al. 2021): per class c of the batch, s_c = sum over the entries of the
    correlation matrix of that class's Jacobians of log(|corr| + 1e-5); the score is
    sum_c |s_c|, or, for a network with more than 100 outputs, s_c divided by the class's image
    count and the score sum_{c, c'} |s_c - s_c'| / (number of classes in the batch)."""
    jacobians, outputs = input_jacobians(model, x)
    many = outputs > EPE_MANY_CLASSES
    scores = []
    for label in torch.unique(y):
        rows = jacobians[y == label]
        s = torch.log(correlation_matrix(rows).abs() + EPE_K).sum()
        scores.append(s / len(rows) if many else s)
    s = torch.stack(scores)
    if many:
        return float((s[:, None] - s[None, :]).abs().sum() / len(s))
    return float(s.abs().sum())
