"""Pruning-at-initialisation saliencies summed over the network (Abdelfattah et al. 2021,
zero-cost-nas / NASLib): every score is a sum over the convolution and linear weights.

Gradients are of the mean cross-entropy of the batch in train mode (BatchNorm uses the batch).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hnas.objectives.errors import EvaluationError
from hnas.objectives.proxies.common import loss_gradients, weighted_layers

__all__ = ["grad_norm", "snip", "plain", "grasp", "fisher", "synflow", "l2_norm", "params"]


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """sum over layers of ||dL/dW||_2 (the Frobenius norm of each layer's weight gradient)."""
    return sum(float(g.norm()) for _, g in loss_gradients(model, x, y))


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """SNIP (Lee et al. 2019): sum of |W * dL/dW| over all weights."""
    return sum(float((w * g).abs().sum()) for w, g in loss_gradients(model, x, y))


def plain(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """sum of W * dL/dW over all weights (SNIP without the absolute value)."""
    return sum(float((w * g).sum()) for w, g in loss_gradients(model, x, y))


def grasp(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """GraSP (Wang et al. 2020), as zero-cost-nas scores it: sum of -W * (H g) over all weights,
    g = dL/dW and H the Hessian of L with respect to the weights."""
    model.train()
    weights = [layer.weight for layer in weighted_layers(model)]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights, allow_unused=True, create_graph=True)
    used = [(w, g) for w, g in zip(weights, grads) if g is not None]
    if not used:
        return 0.0
    g_dot_g = sum((g.detach() * g).sum() for _, g in used)  # d/dW (g_const . g) = H g
    hessian_g = torch.autograd.grad(g_dot_g, [w for w, _ in used], allow_unused=True)
    return sum(float(-(w.detach() * hg).sum()) for (w, _), hg in zip(used, hessian_g) if hg is not None)


def fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """Fisher information of the output channels (Theis et al. 2018, Turner et al. 2020), as
    zero-cost-nas sums it: for each convolution / linear output channel k,
    0.5 * mean over images of (sum over positions of a * dL/da)^2 with a the layer's output,
    counted once per weight of that channel (in_channels/groups * kernel area, or in_features)."""
    model.train()
    total: list[float] = []

    def capture(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        per_channel_weights = math.prod(layer.weight.shape[1:])

        def channel_fisher(grad: torch.Tensor) -> None:
            g_nk = output.detach() * grad
            if g_nk.dim() > 2:
                g_nk = g_nk.sum(dim=tuple(range(2, g_nk.dim())))
            total.append(float(0.5 * g_nk.pow(2).mean(dim=0).sum()) * per_channel_weights)

        if output.requires_grad:
            output.register_hook(channel_fisher)

    handles = [layer.register_forward_hook(capture) for layer in weighted_layers(model)]
    try:
        F.cross_entropy(model(x), y).backward()
    finally:
        for handle in handles:
            handle.remove()
    return sum(total)


def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """log of SynFlow (Tanaka et al. 2020): sum of |W * dR/dW| over all weights, where R is the
    summed output for an all-ones image of the network in float64 with every parameter and
    buffer replaced by its absolute value and BatchNorm layers skipped (zero-cost-nas'
    ``bn=False``). Logged: the score spans hundreds of orders of magnitude."""
    model.double().eval()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    skip = [
        m.register_forward_hook(lambda module, inputs, output: inputs[0])
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    try:
        output = model(torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device))
    finally:
        for handle in skip:
            handle.remove()
    weights = [layer.weight for layer in weighted_layers(model)]
    grads = torch.autograd.grad(output.sum(), weights, allow_unused=True)
    total = sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads) if g is not None)
    if not 0 < total < math.inf:
        raise EvaluationError(f"synflow: the score is {total}, so its log is not finite")
    return math.log(total)


def l2_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """sum over layers of ||W||_2 (the Frobenius norm of each layer's weight); no data used."""
    return sum(float(layer.weight.detach().norm()) for layer in weighted_layers(model))


def params(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """The number of parameters."""
    return float(sum(p.numel() for p in model.parameters()))
