"""Per-space compilers: the root terminal picks the compiler; plugins register their own."""

import numpy as np
import pytest
import torch
from torch import nn

from hnas.errors import RegistryError
from hnas.grammar import Tree, load_space
from hnas.grammar.terminals import register_topology
from hnas.objectives import get_objective
from hnas.semantics import (
    DEFAULT_COMPILER,
    Network,
    SemanticsError,
    compile_network,
    compile_tree,
    compiler_name_for,
    compiler_names,
    count_parameters,
    get_compiler,
    register_compiler,
)
from hnas.semantics.activation import Activation
from hnas.semantics.darts import DartsNetwork


def _sample(name, seed=0):
    return load_space(name).sample(np.random.default_rng(seed))


def test_built_in_compilers_and_the_default():
    assert {"network", "activation", "darts"} <= set(compiler_names()) and DEFAULT_COMPILER == "network"
    nb201, act, darts = _sample("nb201_fixed_1_none"), _sample("activation"), _sample("darts")
    assert [compiler_name_for(t) for t in (nb201, act, darts)] == ["network", "activation", "darts"]
    assert isinstance(compile_tree(nb201, num_classes=10), Network)
    assert isinstance(compile_tree(act), Activation)
    assert isinstance(compile_tree(darts, num_classes=10), DartsNetwork)


@pytest.mark.filterwarnings("ignore:.*duplicate production")
def test_compile_network_is_the_network_compiler():
    tree = _sample("nb201_variable_multi_multi", 3)
    a = compile_network(tree, num_classes=7, rng=np.random.default_rng(1))
    b = get_compiler("network").compile(tree, num_classes=7, rng=np.random.default_rng(1))
    assert count_parameters(a) == count_parameters(b)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_a_plugin_compiler_is_selected_by_its_root_terminal():
    register_topology("TestPolyRoot", [(1, 2), (2, 3)])

    class Polynomial:
        roots = ("TestPolyRoot",)

        def compile(self, tree, *, scale=1.0):
            return nn.Linear(len(tree.children), 1) if scale else nn.Identity()

    register_compiler("test_polynomial", Polynomial())
    tree = Tree("P", "TestPolyRoot", (Tree("A", "id"), Tree("A", "id")))
    assert compiler_name_for(tree) == "test_polynomial"
    assert isinstance(compile_tree(tree), nn.Linear) and isinstance(compile_tree(tree, scale=0), nn.Identity)
    with pytest.raises(RegistryError, match="'test_polynomial' is already registered"):
        register_compiler("test_polynomial", Polynomial())

    class Renamed:
        roots = ("TestPolyRoot2",)

        def compile(self, tree):
            return nn.Identity()

    register_topology("TestPolyRoot2", [(1, 2)])
    register_compiler("test_polynomial", Renamed(), replace=True)  # releases TestPolyRoot
    assert compiler_name_for(tree) == "network"
    assert compiler_name_for(Tree("P", "TestPolyRoot2", (Tree("A", "id"),))) == "test_polynomial"


def test_conflicts_are_clear_errors():
    class Greedy:
        roots = ("DARTS",)

        def compile(self, tree):
            return nn.Identity()

    with pytest.raises(RegistryError, match="root terminal 'DARTS' is already claimed by compiler 'darts'"):
        register_compiler("test_greedy", Greedy())
    assert "test_greedy" not in compiler_names()
    with pytest.raises(RegistryError, match="needs a method compile"):
        register_compiler("test_broken", object())
    mixed = Tree("X", "Linear1", (Tree("L1", "UnaryTopo", (Tree("UnOp", "tanh"),)),))
    with pytest.raises(SemanticsError, match="contains 'UnaryTopo', the root terminal of compiler 'activation'"):
        compile_tree(mixed, num_classes=10)


def test_generic_objectives_compile_trees_with_their_compiler():
    tree = _sample("darts", 2)
    result = get_objective("params").evaluate(tree, seed=0)  # on digits: 1 input channel, 10 classes
    assert result.params == count_parameters(compile_tree(tree, num_classes=10, in_channels=1))
    debug = get_objective("debug", target_params=1000).evaluate(_sample("activation", 1), seed=0)
    assert debug.params == count_parameters(compile_tree(_sample("activation", 1), num_classes=10, in_channels=3))


def test_compile_network_refuses_another_compilers_tree():
    with pytest.raises(SemanticsError, match="root terminal 'DARTS' belongs to compiler 'darts'.*compile_tree"):
        compile_network(_sample("darts"), num_classes=10)
