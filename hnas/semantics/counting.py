"""Parameter and FLOP counts of compiled networks.

FLOPs follow NAS-Bench-201's convention: multiply-accumulates of convolutions and linear layers
(plus one per bias) and one operation per pooled input element of average pooling, for one input
image; norms, activations and sums are not counted.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from hnas.grammar.tree import Tree
from hnas.semantics.build import TERMINAL_ATTRIBUTE
from hnas.semantics.compilers import compile_tree

__all__ = ["count_parameters", "count_flops", "params_by_terminal"]


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not, shared ones once)."""
    return sum(p.numel() for p in module.parameters())


def params_by_terminal(module: nn.Module) -> dict[str, int]:
    """Parameters per primitive terminal name, plus ``stem`` and ``head``, of a compiled network."""
    counts: Counter[str] = Counter()
    for sub in module.modules():
        terminal = getattr(sub, TERMINAL_ATTRIBUTE, None) if TERMINAL_ATTRIBUTE in sub.__dict__ else None
        if terminal is not None:
            counts[terminal] += count_parameters(sub)
    return dict(sorted(counts.items()))


def _conv_flops(module: _ConvNd, output: torch.Tensor) -> int:
    kernel = module.weight[0].numel()  # in_channels / groups * prod(kernel_size)
    return output.numel() * (kernel + (module.bias is not None))


def _linear_flops(module: nn.Linear, output: torch.Tensor) -> int:
    return output.numel() * (module.in_features + (module.bias is not None))


def _pool_flops(module: nn.Module, output: torch.Tensor) -> int:
    size = module.kernel_size
    window = size * size if isinstance(size, int) else size[0] * size[1]
    return output.numel() * window


def _adaptive_pool_flops(inputs: torch.Tensor, output: torch.Tensor) -> int:
    return inputs.numel()


def count_flops(model: nn.Module | Tree, input_shape: tuple[int, int, int], *, num_classes: int = 10) -> int:
    """FLOPs of one forward pass on one ``input_shape`` (C, H, W) image (see the module docstring).

    ``model`` is a module, or a tree compiled (by its compiler) for ``num_classes`` and ``input_shape[0]`` channels.
    """
    if len(input_shape) != 3 or any(int(s) < 1 for s in input_shape):
        raise ValueError(f"input_shape must be (channels, height, width) of positive sizes, got {input_shape!r}")
    if isinstance(model, Tree):
        model = compile_tree(model, num_classes=num_classes, in_channels=int(input_shape[0]))
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, _ConvNd):
            total += _conv_flops(module, output)
        elif isinstance(module, nn.Linear):
            total += _linear_flops(module, output)
        elif isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)):
            total += _pool_flops(module, output)
        else:
            total += _adaptive_pool_flops(inputs[0], output)

    counted = (_ConvNd, nn.Linear, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, counted)]
    was_training = model.training
    try:
        model.eval()
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        with torch.no_grad():
            model(torch.zeros((1, *map(int, input_shape)), device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total
