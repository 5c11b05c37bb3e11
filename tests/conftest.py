"""Fixtures for every test folder: independent command lines run side by side."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

SIDE_BY_SIDE = 2
"""Command lines at once. Most of a short command line's time is its own start (importing torch),
one core's work; pytest runs one test at a time, so on CI's 2 cores a second one uses the idle core."""


def _side_by_side(*calls: Callable[[], Any]) -> list[Any]:
    """Call ``calls`` (each runs one subprocess and waits for it) SIDE_BY_SIDE at a time; their
    results in order. An exception (a timeout) is raised as the call raised it."""
    with ThreadPoolExecutor(SIDE_BY_SIDE) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.fixture(scope="session")
def side_by_side() -> Callable[..., list[Any]]:
    """``side_by_side(call, ...)``: independent subprocess runs, two at a time (see SIDE_BY_SIDE)."""
    return _side_by_side
