"""Zen-score (Lin et al. 2021, Zen-NAS): expressivity of the network on Gaussian inputs."""

from __future__ import annotations

import math

import torch
from torch import nn

from hnas.objectives.errors import EvaluationError
from hnas.objectives.proxies.common import weighted_layers

__all__ = ["ZEN_MIXUP", "zen", "gaussian_initialization"]

ZEN_MIXUP = 1e-2
"""The size of the perturbation (Zen-NAS' ``mixup_gamma``)."""

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def gaussian_initialization(model: nn.Module, generator: torch.Generator) -> None:
    """Zen-NAS' initialisation: convolution and linear weights N(0, 1) (drawn from ``generator``
    layer by layer in module order), their biases 0, normalisation layers weight 1 and bias 0 and
    fresh running statistics."""
    with torch.no_grad():
        for layer in weighted_layers(model):
            w = layer.weight
            w.copy_(torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device))
            if layer.bias is not None:
                layer.bias.zero_()
        for norm in model.modules():
            if isinstance(norm, _NORMS):
                if getattr(norm, "weight", None) is not None:
                    norm.weight.fill_(1.0)
                if getattr(norm, "bias", None) is not None:
                    norm.bias.zero_()
                if isinstance(norm, nn.modules.batchnorm._NormBase) and norm.track_running_stats:
                    norm.reset_running_stats()


def zen(model: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> float:
    """log E_n ||f(z_n) - f(z_n + 0.01 e_n)||_1 + sum over BatchNorm2d layers of
    log sqrt(mean running variance), with f the feature map entering the last global average
    pooling (``nn.AdaptiveAvgPool2d``), z and e Gaussian images of the batch's shape drawn after
    :func:`gaussian_initialization`, in train mode (both passes update the running variances);
    the data batch itself is not used."""
    pools = [m for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise EvaluationError("zen: the network has no global average pooling (nn.AdaptiveAvgPool2d)")
    gaussian_initialization(model, generator)
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    e = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    features: list[torch.Tensor] = []
    handle = pools[-1].register_forward_pre_hook(lambda module, inputs: features.append(inputs[0]))
    model.train()
    try:
        with torch.no_grad():
            model(z)
            clean = features[-1]
            model(z + ZEN_MIXUP * e)
            mixed = features[-1]
    finally:
        handle.remove()
    difference = float((clean - mixed).abs().reshape(len(x), -1).sum(dim=1).mean())
    if not 0 < difference < math.inf:
        raise EvaluationError(f"zen: the feature difference is {difference}, so its log is not finite")
    scaling = sum(
        0.5 * math.log(float(m.running_var.mean()))
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d) and m.running_var is not None
    )
    return math.log(difference) + scaling
