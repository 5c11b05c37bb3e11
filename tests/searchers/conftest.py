"""Shared fixtures: the real named search spaces."""

from __future__ import annotations

import pytest

from hnas.grammar import load_space


@pytest.fixture(scope="session")
def cell_space():
    """NAS-Bench-201's cell space (15,284 valid cells): small trees, cheap kernels."""
    return load_space("nb201_fixed_1_none")


@pytest.fixture(scope="session")
def hierarchical_space():
    return load_space("nb201_variable_multi_multi")
