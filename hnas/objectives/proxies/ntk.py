"""The condition number of the neural tangent kernel (TE-NAS, Chen et al. 2021)."""

from __future__ import annotations

import torch
from torch import nn

from hnas.objectives.errors import EvaluationError

__all__ = ["ntk"]


def ntk(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """Minus the condition number lambda_max / lambda_min of the empirical NTK Theta = G G^T of the
    batch, G_n the gradient of the sum of image n's outputs with respect to every parameter named
    ``*weight*`` (normalisation weights too, as TE-NAS), in train mode. A low condition number
    means fast trainability, so the score is its negative."""
    model.train()
    weights = [p for name, p in model.named_parameters() if "weight" in name]
    outputs = model(x)
    rows = []
    for n in range(len(x)):
        grads = torch.autograd.grad(outputs[n].sum(), weights, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads if g is not None]).to(torch.float64))
    g = torch.stack(rows)
    eigenvalues = torch.linalg.eigvalsh(g @ g.T)
    if not eigenvalues[0] > 0 or not torch.isfinite(eigenvalues).all():
        raise EvaluationError(f"ntk: the NTK is singular (smallest eigenvalue {float(eigenvalues[0]):.3g})")
    return float(-(eigenvalues[-1] / eigenvalues[0]))
