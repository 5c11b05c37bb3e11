"""The compiler: NAS-Bench-201 figures, equivalence with a hand-written network, pruning, errors."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from hnas.grammar.tree import Tree
from hnas.semantics import SemanticsError, compile_network, count_flops, count_parameters, params_by_terminal
from tests.semantics.conftest import cell
from tests.semantics.nb201_reference import NB201Network

ALL_CONV3X3 = ("conv3x3",) * 6


def test_nb201_all_conv3x3_has_the_published_parameter_count(cell_space):
    # NAS-Bench-201 (CIFAR-10, C=16, N=5), all six edges conv3x3 (ReLU, Conv no bias, BN):
    # stem       3*16*9 + BN 2*16                                   =       464
    # stage 1    5 cells * 6 edges * (16*16*9 + 2*16 = 2,336)        =    70,080
    # resBlock1  conv_a 16*32*9+64 = 4,672; conv_b 32*32*9+64 = 9,280; shortcut 1x1 16*32 = 512
    #                                                               =    14,464
    # stage 2    5 * 6 * (32*32*9 + 64 = 9,280)                     =   278,400
    # resBlock2  32*64*9+128 = 18,560; 64*64*9+128 = 36,992; 32*64 = 2,048   =    57,600
    # stage 3    5 * 6 * (64*64*9 + 128 = 36,992)                   = 1,109,760
    # head       BN 2*64 = 128; Linear 64*10 + 10 = 650             =       778
    # total                                                         = 1,531,546  (NAS-Bench-201: 1.531546 MB)
    tree = cell_space.parse("(CELL Cell " + " ".join(f"(OPS {op})" for op in ALL_CONV3X3) + ")")
    network = compile_network(tree, num_classes=10)
    assert count_parameters(network) == 1_531_546
    assert params_by_terminal(network) == {"conv3x3": 1_458_240, "head": 778, "resBlock": 72_064, "stem": 464}
    assert count_parameters(NB201Network(ALL_CONV3X3, 10)) == 1_531_546


def _copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy tensors in registration order (both networks register in NAS-Bench-201 order)."""
    src, dst = source.state_dict(), target.state_dict()
    assert [v.shape for v in src.values()] == [v.shape for v in dst.values()]
    target.load_state_dict(dict(zip(dst, src.values())))


@pytest.mark.parametrize(
    "ops",
    [
        ALL_CONV3X3,
        ("conv1x1", "zero", "avg_pool", "id", "conv3x3", "zero"),
        ("id", "conv3x3", "zero", "zero", "avg_pool", "conv1x1"),
    ],
)
def test_compiled_cell_network_matches_hand_written(cell_space, ops):
    tree = cell_space.parse("(CELL Cell " + " ".join(f"(OPS {op})" for op in ops) + ")")
    compiled = compile_network(tree, num_classes=10, rng=np.random.default_rng(3))
    reference = NB201Network(ops, 10)
    _copy_weights(compiled, reference)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    for mode in (True, False):  # batch statistics, then the running statistics just updated
        compiled.train(mode)
        reference.train(mode)
        expected = reference(x)
        actual = compiled(x)
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    compiled.train()
    loss = compiled(x).square().sum()
    loss.backward()
    assert all(p.grad is not None for p in compiled.parameters())


def test_every_position_of_a_shared_cell_has_its_own_weights(cell_space):
    network = compile_network(cell_space.parse("(CELL Cell " + "(OPS conv3x3) " * 6 + ")"), num_classes=10)
    convs = [
        m
        for m in network.body.modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.in_channels == m.out_channels == 16
    ]
    assert len(convs) == 5 * 6
    assert len({m.weight.data_ptr() for m in convs}) == 30
    assert not torch.equal(convs[0].weight, convs[6].weight)  # same edge, next cell: own draw


def test_zero_edges_are_pruned_and_dead_nodes_do_not_break():
    # node 2 receives nothing ((1,2) zero): its outgoing edges (2,3) and (2,4) are pruned too;
    # node 3 then gets only (1,3); the output sums (1,4) and (3,4).
    tree = cell("zero", "conv3x3", "conv1x1", "avg_pool", "conv3x3", "id")
    network = compile_network(tree, num_classes=5)
    assert params_by_terminal(network)["conv3x3"] == 16 * 16 * 9 + 32  # only edge (1,3)
    assert "conv1x1" not in params_by_terminal(network)
    assert network(torch.randn(2, 3, 8, 8)).shape == (2, 5)
    # dead end: node 2 reaches the output only through zero edges, so (1,2) is pruned as well
    dead_end = compile_network(cell("conv3x3", "id", "zero", "id", "zero", "avg_pool"), num_classes=5)
    assert "conv3x3" not in params_by_terminal(dead_end)
    # a body that is cut entirely outputs zeros; the head still runs
    cut = compile_network(cell(*("zero",) * 6), num_classes=3)
    assert cut.out_channels == 16
    assert cut(torch.randn(2, 3, 8, 8)).shape == (2, 3)


def test_resblocks_double_channels_and_halve_resolution():
    tree = Tree("NET", "Linear3", (cell(*ALL_CONV3X3), Tree(None, "resBlock"), Tree(None, "resBlock")))
    network = compile_network(tree, num_classes=7, in_channels=1, stem_channels=8)
    assert network.out_channels == 32
    features = network.body(network.stem(torch.randn(2, 1, 20, 20)))
    assert features.shape == (2, 32, 5, 5)
    assert network(torch.randn(2, 1, 20, 20)).shape == (2, 7)
    odd = network.body(network.stem(torch.randn(2, 1, 7, 7)))  # 7 -> 4 -> 2: pool and conv agree
    assert odd.shape == (2, 32, 2, 2)


def test_resblock_path_mismatch_names_the_edge():
    # Residual2: (1,2) resBlock, (1,3) id, (2,3) id: paths into node 3 cross 1 and 0 resBlocks
    tree = Tree("DOWN", "Residual2", (Tree(None, "resBlock"), Tree("OPS", "id"), Tree("OPS", "id")))
    with pytest.raises(SemanticsError, match=r"Residual2.*edge \(2, 3\).*\(OPS id\).*cross 0 and 1"):
        compile_network(tree, num_classes=10)


def test_unknown_terminal_and_bad_child_counts_are_clear_errors():
    with pytest.raises(SemanticsError, match="'conv9x9' is not a registered primitive.*register_primitive"):
        compile_network(cell("id", "conv9x9", "id", "id", "id", "id"), num_classes=10)
    with pytest.raises(SemanticsError, match="'Cell' has 6 edges but 2 children"):
        compile_network(Tree("CELL", "Cell", (Tree("OPS", "id"), Tree("OPS", "id"))), num_classes=10)
    with pytest.raises(SemanticsError, match="'Spiral3' is not a registered primitive"):
        compile_network(Tree("X", "Spiral3", (Tree("OPS", "id"),)), num_classes=10)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        compile_network(cell(*ALL_CONV3X3), num_classes=0)


def test_layer_norm_is_resolution_independent_and_built_before_forward():
    tree = Tree("CONVBLOCK", "Linear3", (Tree("ACT", "mish"), Tree("CONV", "dconv3x3o"), Tree("NORM", "layer")))
    network = compile_network(tree, num_classes=4)
    norms = [m for m in network.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 1 and norms[0].num_groups == 1 and norms[0].weight.shape == (16,)
    before = count_parameters(network)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    for size in (8, 13):
        network(torch.randn(2, 3, size, size)).sum().backward()
    assert count_parameters(network) == before
    assert sum(p.numel() for group in optimizer.param_groups for p in group["params"]) == before


def test_weights_come_only_from_the_given_rng():
    tree = cell("conv3x3", "conv1x1", "id", "avg_pool", "conv3x3", "zero")
    state = torch.random.get_rng_state()
    a = compile_network(tree, num_classes=10, rng=np.random.default_rng(7)).state_dict()
    b = compile_network(tree, num_classes=10, rng=np.random.default_rng(7)).state_dict()
    c = compile_network(tree, num_classes=10, rng=np.random.default_rng(8)).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["stem.0.weight"], c["stem.0.weight"])
    # PyTorch's default distribution: uniform in +-1/sqrt(fan_in)
    weight = a["stem.0.weight"]
    assert weight.abs().max() <= 1 / 27**0.5 and weight.std() > 0.5 / 27**0.5 / 3**0.5


def test_clones_are_independent_modules():
    network = compile_network(Tree("NET", "Linear2", (cell(*ALL_CONV3X3), cell(*ALL_CONV3X3))), num_classes=10)
    first, second = network.body[0].edges[0], network.body[1].edges[0]
    first[2].running_mean.fill_(3.0)
    assert second[2].running_mean.abs().max() == 0
    calls = []
    first.register_forward_hook(lambda *args: calls.append(1))
    second(torch.randn(1, 16, 4, 4))
    assert calls == []
    assert first[1].weight.data_ptr() != second[1].weight.data_ptr()


def test_count_flops_by_hand():
    # stem 16*3*9 MACs per pixel on 4x4 = 6,912; edge conv1x1: 16*16*16 = 4,096; avg_pool 9 per
    # output element: 9*16*16 = 2,304; global pool reads 256 inputs; Linear 16*2 + 2 = 34.
    tree = Tree("NET", "Linear2", (Tree("OPS", "conv1x1"), Tree("OPS", "avg_pool")))
    assert count_flops(tree, (3, 4, 4), num_classes=2) == 6912 + 4096 + 2304 + 256 + 34


def test_compiled_networks_deepcopy_and_pickle():
    tree = Tree("NET", "Linear2", (cell("conv3x3", "id", "avg_pool", "conv1x1", "zero", "id"), Tree(None, "resBlock")))
    network = compile_network(tree, num_classes=3).eval()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for copied in (copy.deepcopy(network), pickle.loads(pickle.dumps(network))):
        torch.testing.assert_close(copied(x), network(x), rtol=0, atol=0)
        assert copied.tree == tree
        with torch.no_grad():
            next(copied.parameters()).add_(1.0)
        assert not torch.equal(copied(x), network(x))
