"""Proxies from the binary activation codes of the images: which inputs of every ReLU-like module
are positive, in one forward pass of the batch in train mode (see
:func:`~hnas.objectives.proxies.common.activation_codes`)."""

from __future__ import annotations

import torch
from torch import nn

from hnas.objectives.errors import EvaluationError
from hnas.objectives.proxies.common import activation_codes

__all__ = ["naswot", "linear_regions"]


def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """NASWOT (Mellor et al. 2021; NASLib's ``nwot``): log |det K|, K_ij = number of units where
    images i and j fall on the same side of 0."""
    n = len(x)
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def add(codes: torch.Tensor) -> None:
        c = codes.to(torch.float32)  # products are exact integers below 2**24 units
        ones = c.sum(dim=1, dtype=torch.float64)
        # agreements = units - Hamming distance = 2 c c^T - |c_i| - |c_j| + units
        kernel.add_(2 * (c @ c.T).to(torch.float64) - ones[:, None] - ones[None, :] + c.shape[1])

    model.train()
    with activation_codes(model, "naswot", add), torch.no_grad():
        model(x)
    sign, logdet = torch.linalg.slogdet(kernel)
    if sign <= 0 or not torch.isfinite(logdet):
        raise EvaluationError("naswot: the activation-code kernel is singular")
    return float(logdet)


def linear_regions(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """The number of linear regions the batch falls in (TE-NAS, Chen et al. 2021): the number of
    distinct activation codes (all units of all ReLU-like modules) among the images; at most
    the batch size."""
    region = torch.zeros(len(x), dtype=torch.long, device=x.device)

    def refine(codes: torch.Tensor) -> None:
        nonlocal region  # images share a region while they share every code seen so far
        pairs = torch.cat([region[:, None], codes.long()], dim=1)
        region = torch.unique(pairs, dim=0, return_inverse=True)[1]

    model.train()
    with activation_codes(model, "linear_regions", refine), torch.no_grad():
        model(x)
    return float(len(torch.unique(region)))
