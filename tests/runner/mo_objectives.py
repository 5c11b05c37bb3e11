"""Objectives for the multi-objective runner tests: a cheap conflicting pair of tree functions,
and one that really trains each network it gets and records it in a file."""

from __future__ import annotations

import os

import numpy as np
import torch

from hnas.grammar.tree import Tree
from hnas.searchers.synthetic import OP_QUALITY, op_quality_loss

TRAINING_LOG = "HNAS_TEST_TRAINING_LOG"
"""Environment variable: the file :func:`recording` appends each trained architecture to."""


def quality_and_cost(tree: Tree) -> tuple[float, float]:
    """1 - mean leaf quality, and the mean squared quality (good operations cost more)."""
    quality = np.array([OP_QUALITY.get(node.op, 0.5) for node in tree.walk() if not node.children])
    return float(1.0 - quality.mean()), float(np.mean(quality**2))


def pair(tree: Tree) -> dict[str, float]:
    error, cost = quality_and_cost(tree)
    return {"val_error": error, "cost": cost}


def recording(tree: Tree, seed: int) -> float:
    """Compile the network (10 classes, 3 channels), train it one SGD step on random 8x8 images,
    and append the architecture and its parameter count to the file named by TRAINING_LOG."""
    from hnas.semantics import compile_tree

    torch.manual_seed(seed)
    model = compile_tree(tree, num_classes=10, in_channels=3, rng=np.random.default_rng(seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 8, 8)), torch.randint(0, 10, (4,)))
    loss.backward()
    optimizer.step()
    with open(os.environ[TRAINING_LOG], "a") as handle:
        handle.write(f"{sum(p.numel() for p in model.parameters())}\t{tree}\n")
    return op_quality_loss(tree)
