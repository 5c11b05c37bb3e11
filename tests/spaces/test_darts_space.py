"""The DARTS cell space: size, genotype round trip, the compiled networks against a reference."""

import math

import numpy as np
import pytest
import torch

from hnas.grammar import load_space
from hnas.semantics import SemanticsError, compile_tree, compiler_name_for, count_parameters
from hnas.semantics.darts import EVALUATION, DartsNetwork, darts_genotype, darts_tree

from tests.spaces.darts_reference import DARTS_V2, NetworkCIFAR


@pytest.fixture(scope="module")
def space():
    return load_space("darts")


def test_size_is_the_usual_darts_count(space):
    per_cell = math.prod(math.comb(k + 2, 2) * 7**2 for k in range(4))  # node k: unordered input pair, 2 ops
    assert per_cell == 180 * 7**8 == 1_037_664_180
    assert space.count() == per_cell**2 == 1_076_746_950_455_072_400  # normal x reduction: ~10^18


def test_genotype_round_trip_and_canonical_string(space):
    tree = darts_tree(*DARTS_V2)
    assert space.parse(space.to_string(tree)) == tree and tree in space
    normal, reduce = darts_genotype(tree)
    for got, published in ((normal, DARTS_V2[0]), (reduce, DARTS_V2[1])):
        for k in range(4):  # a node's two pairs are unordered
            assert sorted(got[2 * k : 2 * k + 2]) == sorted(published[2 * k : 2 * k + 2])
    sampled = space.sample(np.random.default_rng(0))
    assert darts_tree(*darts_genotype(sampled)) == sampled


def test_darts_v2_evaluation_network_has_the_published_parameter_count(space):
    tree = darts_tree(*DARTS_V2)
    assert compiler_name_for(tree) == "darts"
    net = compile_tree(tree, C=36, layers=20, auxiliary=True, drop_path_prob=0.2)
    without_aux = count_parameters(net) - count_parameters(net.auxiliary_head)
    reference = count_parameters(NetworkCIFAR(*DARTS_V2, C=36, layers=20))
    assert without_aux == reference == 3_349_342  # "3.3 M" in the DARTS paper
    search = count_parameters(compile_tree(tree))  # C=16, 8 cells
    assert search == count_parameters(NetworkCIFAR(*DARTS_V2, C=16, layers=8))


def test_networks_run_and_match_the_reference_function(space):
    tree = space.sample(np.random.default_rng(1))
    ours = compile_tree(tree, C=4, layers=5, rng=np.random.default_rng(0))
    reference = NetworkCIFAR(*darts_genotype(tree), C=4, layers=5)
    reference.load_state_dict(dict(zip(reference.state_dict(), ours.state_dict().values())))
    ours.eval(), reference.eval()
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(ours(x), reference(x))


def test_auxiliary_head_and_drop_path_in_training_mode():
    tree = darts_tree(*DARTS_V2)
    net = compile_tree(tree, C=4, layers=5, auxiliary=True, drop_path_prob=0.5)
    assert isinstance(net, DartsNetwork) and EVALUATION.auxiliary and EVALUATION.drop_path_prob == 0.2
    net.train()
    logits, aux = net(torch.randn(3, 3, 32, 32))
    assert logits.shape == aux.shape == (3, 10)
    net.eval()
    assert net(torch.randn(3, 3, 32, 32)).shape == (3, 10)


def test_bad_genotypes_are_clear_errors():
    normal, reduce = DARTS_V2
    with pytest.raises(SemanticsError, match="inputs must differ"):
        darts_tree([("sep_conv_3x3", 1)] * 2 + normal[2:], reduce)
    with pytest.raises(SemanticsError, match="node 0 takes inputs 0..1"):
        darts_tree([("sep_conv_3x3", 0), ("sep_conv_3x3", 2)] + normal[2:], reduce)
    with pytest.raises(SemanticsError, match="unknown DARTS operation 'conv7x7'"):
        darts_tree([("conv7x7", 0)] + normal[1:], reduce)
