"""Zero-cost proxies: scores of an untrained network from one batch, higher = better.

- ``naswot`` (Mellor et al. 2021): log |det K| of the kernel of binary activation codes,
  K_ij = number of units where images i and j fall on the same side of 0 (inputs of every
  ReLU-like module, train mode).
- ``synflow`` (Tanaka et al. 2020): log of sum(theta * dR/dtheta) with R the summed output of
  the network with |theta| (float64, eval mode) on an all-ones input (logged: it spans hundreds
  of orders of magnitude).
- ``grad_norm`` (Abdelfattah et al. 2021): sum over convolution and linear weights of the norm
  of the cross-entropy gradient on the batch.
- ``jacov`` (Mellor et al. 2020): -sum(log(v + k) + 1 / (v + k)), k = 1e-5, over the eigenvalues
  v of the correlation matrix of the input Jacobians of the images.
- ``params``: the number of parameters.

As objectives (lower is better) their value is ``-score``. Every proxy works on a copy, so the
network passed in is left as it was.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from hnas.objectives.errors import EvaluationError, ObjectiveError

__all__ = [
    "PROXIES", "naswot", "synflow", "grad_norm", "jacov", "params", "score_proxies", "check_proxy_names",
]

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardswish, nn.Mish, nn.SiLU, nn.GELU, nn.ELU)
"""Modules whose inputs give NASWOT's binary codes."""

JACOV_K = 1e-5


def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """log |det K| of the activation-code kernel (see the module docstring)."""
    n = len(x)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    fired = []

    def add_codes(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        codes = (inputs[0].reshape(n, -1) > 0).to(torch.float32)
        ones = codes.sum(dim=1, dtype=torch.float64)
        # agreements = units - hamming distance = 2 c c^T - |c_i| - |c_j| + units
        same = 2 * (codes @ codes.T).to(torch.float64) - ones[:, None] - ones[None, :] + codes.shape[1]
        kernel.add_(same)
        fired.append(module)

    handles = [m.register_forward_hook(add_codes) for m in model.modules() if isinstance(m, ACTIVATIONS)]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    if not fired:
        raise EvaluationError("naswot: the network has no ReLU-like activation module")
    sign, logdet = torch.linalg.slogdet(kernel)
    if sign <= 0 or not torch.isfinite(logdet):
        raise EvaluationError("naswot: the activation-code kernel is singular")
    return float(logdet)


def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """log of the synaptic-flow score (see the module docstring)."""
    model.double().eval()
    with torch.no_grad():
        for param in model.parameters():
            param.abs_()
    output = model(torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device))
    output.sum().backward()
    total = sum(
        float((p.detach() * p.grad).sum()) for p in model.parameters() if p.grad is not None
    )
    if not 0 < total < math.inf:
        raise EvaluationError(f"synflow: the score is {total}, so its log is not finite")
    return math.log(total)


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum of the gradient norms of the convolution and linear weights (see the module docstring)."""
    model.train()
    F.cross_entropy(model(x), y).backward()
    norms = [
        m.weight.grad.norm()
        for m in model.modules()
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) and m.weight.grad is not None
    ]
    return float(torch.stack(norms).sum()) if norms else 0.0


def jacov(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Jacobian-covariance score (see the module docstring)."""
    model.train()
    x = x.clone().requires_grad_(True)
    output = model(x)
    output.backward(torch.ones_like(output))
    jacobians = x.grad.reshape(len(x), -1).to(torch.float64)
    centred = jacobians - jacobians.mean(dim=1, keepdim=True)
    norms = centred.norm(dim=1).clamp_min(1e-12)
    correlation = (centred @ centred.T) / (norms[:, None] * norms[None, :])
    v = torch.linalg.eigvalsh(correlation).clamp_min(0.0)
    return float(-(torch.log(v + JACOV_K) + 1.0 / (v + JACOV_K)).sum())


def params(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The number of parameters."""
    return float(sum(p.numel() for p in model.parameters()))


PROXIES: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], float]] = {
    "naswot": naswot,
    "synflow": synflow,
    "grad_norm": grad_norm,
    "jacov": jacov,
    "params": params,
}


def check_proxy_names(names: Iterable[str] | str) -> tuple[str, ...]:
    """Proxy names from a sequence or a comma-separated string; an unknown one is an error."""
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    names = tuple(dict.fromkeys(names))
    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise ObjectiveError(
            f"unknown zero-cost proxy {', '.join(map(repr, unknown))}; known: {', '.join(PROXIES)}"
        )
    return names


def score_proxies(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: Iterable[str]
) -> dict[str, float]:
    """Each named proxy's score of ``model`` on the batch ``(x, y)``, each on a fresh copy."""
    return {name: PROXIES[name](copy.deepcopy(model), x, y) for name in check_proxy_names(names)}
