"""A hand-written NAS-Bench-201 network (written from the NAS-Bench-201 paper, independently of
hnas.semantics), to check the compiler against."""

from __future__ import annotations

import torch
from torch import nn

CELL_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # 0-based (from, to), SPEC order


def relu_conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out))


def operation(name: str, c: int) -> nn.Module:
    if name == "conv3x3":
        return relu_conv_bn(c, c, 3)
    if name == "conv1x1":
        return relu_conv_bn(c, c, 1)
    if name == "avg_pool":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    if name == "id":
        return nn.Identity()
    raise ValueError(name)


class Cell(nn.Module):
    def __init__(self, ops: tuple[str, ...], c: int) -> None:
        super().__init__()
        self.names = ops
        self.ops = nn.ModuleList(operation(op, c) for op in ops if op != "zero")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x, 0, 0, 0]
        modules = iter(self.ops)
        for (a, b), name in zip(CELL_EDGES, self.names):
            if name != "zero":
                nodes[b] = nodes[b] + next(modules)(nodes[a])
        return nodes[3]


class ResNetBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = relu_conv_bn(c_in, c_out, 3, 2)
        self.conv_b = relu_conv_bn(c_out, c_out, 3)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """Stem, 3 stages of 5 cells (16, 32, 64 channels), resNet blocks between, BN-ReLU-GAP-Linear."""

    def __init__(self, ops: tuple[str, ...], num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        layers: list[nn.Module] = []
        for stage, c in enumerate((16, 32, 64)):
            if stage:
                layers.append(ResNetBlock(c // 2, c))
            layers.extend(Cell(ops, c) for _ in range(5))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(64), nn.ReLU())
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.lastact(self.cells(self.stem(x)))
        return self.classifier(features.mean(dim=(2, 3)))
