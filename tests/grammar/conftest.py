"""Session fixtures for the grammar tests: the two named spaces."""

from __future__ import annotations

import warnings

import pytest

from hnas.grammar import SearchSpace, load_space


@pytest.fixture(scope="session")
def hierarchical() -> SearchSpace:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the shipped grammar states its weights: no warning
        return load_space("nb201_variable_multi_multi")


@pytest.fixture(scope="session")
def cell_space() -> SearchSpace:
    return load_space("nb201_fixed_1_none")
