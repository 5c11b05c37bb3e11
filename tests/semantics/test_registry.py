"""User-registered primitives and topologies, used from a grammar file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hnas.errors import RegistryError
from hnas.grammar import load_space
from hnas.grammar.tree import Tree
from hnas.semantics import (
    SemanticsError,
    compile_network,
    count_parameters,
    get_primitive,
    hierarchical_graphs,
    params_by_terminal,
    register_primitive,
    register_topology,
)


@register_primitive("test_sep_conv3x3")
def sep_conv3x3(channels: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels),
    )


@register_primitive("test_strided_conv", reduces=True)
def strided_conv(channels: int) -> nn.Module:
    return nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1)


register_topology("TestFork3", [(1, 2), (1, 3), (1, 4), (2, 5), (3, 5), (4, 5)])

GRAMMAR = """\
NET -> "Linear3" CELL "test_strided_conv" CELL
CELL -> "TestFork3" OP OP OP OP OP OP
OP -> "id" | "zero" | "test_sep_conv3x3" | "conv1x1"
"""


def test_a_grammar_file_can_use_user_primitives_and_topologies(tmp_path):
    path = tmp_path / "user.cfg"
    path.write_text(GRAMMAR)
    space = load_space(str(path))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(10):
        tree = space.sample(rng)
        network = compile_network(tree, num_classes=3, rng=rng)
        assert network.out_channels == 32
        out = network(torch.randn(2, 3, 16, 16))
        assert out.shape == (2, 3)
        out.sum().backward()
        seen.update(params_by_terminal(network))
        assert hierarchical_graphs(tree, 2)[0].number_of_nodes() >= 3
    assert {"test_sep_conv3x3", "test_strided_conv"} <= seen
    # strided conv 16 -> 32: 16*32*9 + 32 bias
    assert params_by_terminal(network)["test_strided_conv"] == 16 * 32 * 9 + 32


def test_user_primitive_weights_are_seeded_and_leave_the_global_rng_alone():
    tree = Tree("NET", "Linear2", (Tree("OP", "test_sep_conv3x3"), Tree("OP", "test_sep_conv3x3")))
    state = torch.random.get_rng_state()
    a = compile_network(tree, num_classes=2, rng=np.random.default_rng(1)).state_dict()
    b = compile_network(tree, num_classes=2, rng=np.random.default_rng(1)).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["body.0.1.weight"], a["body.1.1.weight"])  # each position its own draw


def test_unknown_terminal_in_a_grammar_and_in_the_registry():
    with pytest.raises(SemanticsError, match=r"'no_such_op' is not a registered primitive: register"):
        get_primitive("no_such_op")
    with pytest.raises(SemanticsError, match=r"'Cell' is a topology, not a primitive"):
        get_primitive("Cell")


def test_bad_factories_are_clear_errors():
    shared = nn.Conv2d(16, 16, 1)
    register_primitive("test_shared_module")(lambda channels: shared)
    register_primitive("test_not_a_module")(lambda channels: "conv")
    twice = Tree("NET", "Linear2", (Tree("OP", "test_shared_module"), Tree("OP", "test_shared_module")))
    with pytest.raises(SemanticsError, match="returned a module it had returned before"):
        compile_network(twice, num_classes=2)
    with pytest.raises(SemanticsError, match="returned str, not a torch.nn.Module"):
        compile_network(Tree("OP", "test_not_a_module"), num_classes=2)
    with pytest.raises(SemanticsError, match="'zero' is built in"):
        register_primitive("zero")


def test_replacing_a_builtin_primitive_takes_effect():
    original = get_primitive("conv1x1")
    try:
        with pytest.raises(RegistryError, match="'conv1x1' is already registered; pass replace=True"):
            register_primitive("conv1x1")
        register_primitive("conv1x1", replace=True)(lambda channels: nn.Conv2d(channels, channels, 1, bias=True))
        network = compile_network(Tree("OP", "conv1x1"), num_classes=2)
        assert params_by_terminal(network)["conv1x1"] == 16 * 16 + 16
    finally:
        register_primitive("conv1x1", replace=True, _builtin=True)(original.factory)
    assert count_parameters(compile_network(Tree("OP", "conv1x1"), num_classes=2)) == 464 + 16 * 16 + 32 + 32 + 34
