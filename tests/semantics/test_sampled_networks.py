"""200 sampled hierarchical architectures build and train one step, on the objectives' inputs in turn
(each input shape and class count gets 50 of them)."""

from __future__ import annotations

import numpy as np
import torch

from hnas.semantics import compile_network

SHAPES_AND_CLASSES = (((3, 32, 32), 10), ((3, 16, 16), 120), ((3, 28, 28), 20), ((3, 64, 64), 4))


def test_200_sampled_architectures_run_forward_and_backward(hierarchical_space):
    rng = np.random.default_rng(2023)
    torch_rng = torch.Generator().manual_seed(2023)
    for index in range(200):
        tree = hierarchical_space.sample(rng)
        shape, classes = SHAPES_AND_CLASSES[index % len(SHAPES_AND_CLASSES)]
        network = compile_network(tree, num_classes=classes, rng=rng)
        out = network(torch.randn(1, *shape, generator=torch_rng))  # batch 1 keeps CI time low
        assert out.shape == (1, classes), str(tree)
        assert torch.isfinite(out).all()
        out.sum().backward()
        assert network.stem[0].weight.grad is not None
