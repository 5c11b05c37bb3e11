"""The built-in primitives of SPEC §3 (NAS-Bench-201 operations and conv-block parts).

Every factory takes the number of input channels. Conventions:

- convolutions have no bias (a norm follows them); norms are affine;
- ``layer`` is ``GroupNorm(1, C)``: the same statistics as a layer norm over (C, H, W), but with
  per-channel affine parameters, so it does not depend on the resolution and is created in
  ``__init__`` like every other module (the paper's code built a resolution-shaped LayerNorm
  lazily at the first forward, after the optimizer had been created, so it was never trained);
- ``instance`` is ``InstanceNorm2d(C, affine=True)`` (learnable scale and shift, no running stats).
"""

from __future__ import annotations

import torch
from torch import nn

from hnas.semantics.registry import register_primitive

__all__ = ["ResBlock", "Zero", "relu_conv_bn"]


def relu_conv_bn(c_in: int, c_out: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    """NAS-Bench-201's ReLUConvBN: ReLU, Conv (no bias, 'same' padding), BatchNorm."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, kernel_size, stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


class ResBlock(nn.Module):
    """NAS-Bench-201's ResNet basic block with stride 2: ``C`` -> ``2C`` channels, half resolution.

    ``conv_b(conv_a(x)) + shortcut(x)``, conv_a/conv_b ReLU-Conv3x3-BN, shortcut a 2x2 average
    pool followed by a 1x1 conv. The pool rounds up like the strided conv, so odd resolutions
    (e.g. 28 -> 14 -> 7 -> 4) work; on even ones it is NAS-Bench-201's pool.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        out = 2 * channels
        self.conv_a = relu_conv_bn(channels, out, 3, stride=2)
        self.conv_b = relu_conv_bn(out, out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True), nn.Conv2d(channels, out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class Zero(nn.Module):
    """Outputs zeros shaped like the input; only used when a whole network body is cut."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def _builtin(name: str, *, reduces: bool = False):  # noqa: ANN202 (decorator)
    return register_primitive(name, reduces=reduces, _builtin=True)


@_builtin("id")
def identity(channels: int) -> nn.Module:
    return nn.Identity()


@_builtin("avg_pool")
def avg_pool(channels: int) -> nn.Module:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


@_builtin("conv3x3")
def conv3x3(channels: int) -> nn.Module:
    return relu_conv_bn(channels, channels, 3)


@_builtin("conv1x1")
def conv1x1(channels: int) -> nn.Module:
    return relu_conv_bn(channels, channels, 1)


@_builtin("resBlock", reduces=True)
def res_block(channels: int) -> nn.Module:
    return ResBlock(channels)


@_builtin("conv3x3o")
def conv3x3_only(channels: int) -> nn.Module:
    return nn.Conv2d(channels, channels, 3, padding=1, bias=False)


@_builtin("conv1x1o")
def conv1x1_only(channels: int) -> nn.Module:
    return nn.Conv2d(channels, channels, 1, bias=False)


@_builtin("dconv3x3o")
def depthwise_conv3x3_only(channels: int) -> nn.Module:
    return nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)


@_builtin("batch")
def batch_norm(channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels)


@_builtin("instance")
def instance_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)


@_builtin("layer")
def layer_norm(channels: int) -> nn.Module:
    return nn.GroupNorm(1, channels)


@_builtin("relu")
def relu(channels: int) -> nn.Module:
    return nn.ReLU()


@_builtin("hardswish")
def hardswish(channels: int) -> nn.Module:
    return nn.Hardswish()


@_builtin("mish")
def mish(channels: int) -> nn.Module:
    return nn.Mish()
