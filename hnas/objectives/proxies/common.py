"""What several proxies share: the layers they score, the batch loss, input Jacobians, activation codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from hnas.objectives.errors import EvaluationError

__all__ = [
    "ACTIVATIONS",
    "WEIGHTED_LAYERS",
    "weighted_layers",
    "loss_gradients",
    "input_jacobians",
    "correlation_matrix",
    "activation_codes",
]

WEIGHTED_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)
"""The layers whose weights the saliency proxies score (zero-cost-nas: convolutions and linear layers)."""

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardswish, nn.Mish, nn.SiLU, nn.GELU, nn.ELU)
"""ReLU-like modules: positive output exactly where the input is positive (their activation codes)."""


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """The convolution and linear layers of ``model``, in module order."""
    return [m for m in model.modules() if isinstance(m, WEIGHTED_LAYERS)]


def loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(weight, d loss / d weight)`` of every convolution and linear layer, the loss being the
    mean cross-entropy of the batch in train mode; layers the loss does not reach are left out."""
    model.train()
    weights = [layer.weight for layer in weighted_layers(model)]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), weights, allow_unused=True)
    return [(w.detach(), g) for w, g in zip(weights, grads) if g is not None]


def input_jacobians(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Per image, the gradient of the sum of its outputs with respect to the image (train mode),
    flattened to one row per image (float64); and the number of outputs per image."""
    model.train()
    x = x.detach().clone().requires_grad_(True)
    output = model(x)
    (grad,) = torch.autograd.grad(output.sum(), x)
    return grad.reshape(len(x), -1).to(torch.float64), output.shape[-1]


def correlation_matrix(rows: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between the rows (``numpy.corrcoef``); a constant row correlates 0."""
    centred = rows - rows.mean(dim=1, keepdim=True)
    norms = centred.norm(dim=1).clamp_min(1e-12)
    return (centred @ centred.T) / (norms[:, None] * norms[None, :])


@contextmanager
def activation_codes(model: nn.Module, proxy: str, consume: Callable[[torch.Tensor], None]) -> Iterator[None]:
    """During the forward passes inside the block, ``consume`` gets, for each call of a ReLU-like
    module, an ``(images, units)`` bool tensor: which of its inputs are positive. Raises
    ``EvaluationError`` (naming ``proxy``) if the network has no such module."""

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        consume(inputs[0].detach().reshape(len(inputs[0]), -1) > 0)

    modules = [m for m in model.modules() if isinstance(m, ACTIVATIONS)]
    if not modules:
        raise EvaluationError(f"{proxy}: the network has no ReLU-like activation module")
    handles = [m.register_forward_hook(record) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
