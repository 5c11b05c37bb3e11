"""An independent reference for the DARTS network, written after the DARTS paper's description and
its published code's structure (operations as a table of constructors, cells that concatenate
their intermediate nodes), to check hnas's compiler against."""

from __future__ import annotations

import torch
from torch import nn


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, pad, bias=False), nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad, dilation):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_in, k, stride, pad, dilation=dilation, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class SepConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad):
        super().__init__(
            nn.ReLU(), nn.Conv2d(c_in, c_in, k, stride, pad, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, bias=False), nn.BatchNorm2d(c_in),
            nn.ReLU(), nn.Conv2d(c_in, c_in, k, 1, pad, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        )


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.a = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.b = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = torch.relu(x)
        return self.bn(torch.cat([self.a(x), self.b(x[:, :, 1:, 1:])], 1))


OPS = {
    "avg_pool_3x3": lambda c, s: nn.AvgPool2d(3, s, 1, count_include_pad=False),
    "max_pool_3x3": lambda c, s: nn.MaxPool2d(3, s, 1),
    "skip_connect": lambda c, s: nn.Identity() if s == 1 else FactorizedReduce(c, c),
    "sep_conv_3x3": lambda c, s: SepConv(c, c, 3, s, 1),
    "sep_conv_5x5": lambda c, s: SepConv(c, c, 5, s, 2),
    "dil_conv_3x3": lambda c, s: DilConv(c, c, 3, s, 2, 2),
    "dil_conv_5x5": lambda c, s: DilConv(c, c, 5, s, 4, 2),
}


class Cell(nn.Module):
    def __init__(self, genotype, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.edges = nn.ModuleList(OPS[op](c, 2 if reduction and j < 2 else 1) for op, j in genotype)
        self.inputs = [j for _, j in genotype]

    def forward(self, s0, s1):
        states = [self.pre0(s0), self.pre1(s1)]
        for i in range(4):
            states.append(sum(self.edges[e](states[self.inputs[e]]) for e in (2 * i, 2 * i + 1)))
        return torch.cat(states[2:], 1)


class NetworkCIFAR(nn.Module):
    """Without the auxiliary head (the published parameter counts leave it out)."""

    def __init__(self, normal, reduce, C, layers, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 3 * C, 3, padding=1, bias=False), nn.BatchNorm2d(3 * C))
        c_pp, c_p, c = 3 * C, 3 * C, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            c = 2 * c if reduction else c
            self.cells.append(Cell(reduce if reduction else normal, c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, 4 * c
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(s1.mean((2, 3)))


DARTS_V2 = (
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 1),
     ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 0),
     ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
)
"""The published DARTS (second order) cells, CIFAR-10 (genotypes.py of the DARTS code)."""
