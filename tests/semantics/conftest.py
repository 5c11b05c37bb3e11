"""Shared trees and spaces for the semantics tests."""

from __future__ import annotations

import warnings

import pytest

from hnas.grammar import SearchSpace, load_space
from hnas.grammar.tree import Tree


@pytest.fixture(scope="session")
def hierarchical_space() -> SearchSpace:
    with warnings.catch_warnings():  # the duplicate OPS production is intended (weight 2)
        warnings.simplefilter("ignore")
        return load_space("nb201_variable_multi_multi")


@pytest.fixture(scope="session")
def cell_space() -> SearchSpace:
    return load_space("nb201_fixed_1_none")


def cell(*ops: str) -> Tree:
    """A NAS-Bench-201 cell with the six edge operations in SPEC order (1,2) (1,3) (2,3) (1,4) (2,4) (3,4)."""
    assert len(ops) == 6
    return Tree("CELL", "Cell", tuple(Tree("OPS", op) for op in ops))
