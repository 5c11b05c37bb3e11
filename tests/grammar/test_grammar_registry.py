"""Topology registry: replace=True to overwrite, lookups never register, spaces keep their topologies."""

from __future__ import annotations

import numpy as np
import pytest

from grammar_checks import write
from hnas.errors import RegistryError
from hnas.grammar import load_space, register_topology
from hnas.grammar.terminals import lookup_topology, topology_names


def test_registering_an_existing_name_needs_replace():
    register_topology("TestGrammarFork2", [(1, 2), (1, 3), (2, 3)])
    with pytest.raises(RegistryError, match="topology 'TestGrammarFork2' is already registered; pass replace=True"):
        register_topology("TestGrammarFork2", [(1, 2)])
    assert lookup_topology("TestGrammarFork2").edges == ((1, 2), (1, 3), (2, 3))
    register_topology("TestGrammarFork2", [(1, 2)], replace=True)
    assert lookup_topology("TestGrammarFork2").edges == ((1, 2),)
    with pytest.raises(RegistryError, match="'Linear5' is built in"):
        register_topology("Linear5", [(1, 2)])
    with pytest.raises(RegistryError, match="'Cell' is already registered"):
        register_topology("Cell", [(1, 2)])


@pytest.mark.parametrize(
    ("name", "edges", "message"),
    [
        ("id", [(1, 2)], "'id' is already a primitive"),
        ("Two words", [(1, 2)], "a topology name must be a non-empty token"),
        ("", [(1, 2)], "a topology name must be a non-empty token"),
        ("TestGrammarBad", [], "has no edges"),
        ("TestGrammarBad", [(2, 1)], "every edge \\(a, b\\) must have a < b"),
        ("TestGrammarBad", [(1, 3)], "nodes must be 1..N"),
        ("TestGrammarBad", [(1, "x")], "TestGrammarBad"),
    ],
)
def test_bad_registrations_are_registry_errors(name, edges, message):
    with pytest.raises(RegistryError, match=message):
        register_topology(name, edges)
    assert "TestGrammarBad" not in topology_names()


def test_looking_up_linear_n_registers_nothing():
    before = topology_names()
    assert lookup_topology("Linear77").edges == tuple((i, i + 1) for i in range(1, 78))
    assert lookup_topology("Linear257") is None and lookup_topology("Linear0") is None
    assert lookup_topology("NoSuchTopology") is None
    assert topology_names() == before and "Linear77" not in before


def test_a_loaded_space_keeps_the_topologies_it_was_built_with(tmp_path):
    register_topology("TestGrammarSkip", [(1, 2), (2, 3), (1, 3)])  # edge 3 is a skip: one zero allowed
    space = load_space(write(tmp_path, "s.cfg", 'A -> "TestGrammarSkip" O O O\nO -> "id" | "zero"\n'))
    assert space.count() == 5  # 8 masks minus {e1,e3}, {e2,e3}, {e1,e2,e3}
    register_topology("TestGrammarSkip", [(1, 2), (2, 3), (3, 4)], replace=True)  # now a chain: no zero allowed
    assert space.topologies["TestGrammarSkip"].edges == ((1, 2), (2, 3), (1, 3))
    rng = np.random.default_rng(0)
    trees = [space.sample(rng) for _ in range(300)]
    assert len(set(trees)) == 5 and all(t in space for t in trees)
    assert space.count() == 5 and space.mutate(trees[0], rng) in space
    reloaded = load_space(write(tmp_path, "s2.cfg", 'A -> "TestGrammarSkip" O O O\nO -> "id" | "zero"\n'))
    assert reloaded.count() == 1  # a new load sees the new registration


def test_semantics_reexports_the_grammar_registration():
    import hnas.semantics

    assert hnas.semantics.register_topology is register_topology
