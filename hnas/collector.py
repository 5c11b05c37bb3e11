"""Pausing Python's cyclic garbage collector around bulk work that creates many long-lived objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block (as it was after, errors included).

    Work that creates ~10^5 objects which stay alive (a grammar's rules; the graphs, features and
    memo entries of an acquisition step's candidate trees) otherwise makes the collector rescan the
    whole heap several times for nothing: a third of the loading time of a 50,000-rule grammar, a
    fifth of a BO step on the hierarchical space. Where that work forms no reference cycles
    (tested), pausing only defers a collection; refcounting still frees everything else at once.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
