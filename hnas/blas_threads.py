"""One BLAS thread for the small dense linear algebra of surrogate models."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import ThreadpoolController

__all__ = ["single_threaded_blas"]


@cache
def _controller() -> ThreadpoolController:
    """The BLAS libraries loaded at the first call: numpy's and scipy's (imported here, so the scan
    finds both). Scanning them again at every call would cost ~1 ms; a limit through it ~25 us."""
    importlib.import_module("scipy.linalg")  # loads scipy's BLAS
    return ThreadpoolController()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """numpy's and scipy's BLAS limited to one thread for the block (as they were after).

    A GP's matrices have tens to hundreds of rows: on a 2-core machine a second BLAS thread only
    spins, so a BO step took twice its CPU time and ~25% more wall-clock time with it, and its
    floating-point sums (hence, now and then, its proposal) depended on the machine's core count.
    Process-wide while the block runs, as every BLAS thread setting is.
    """
    with _controller().limit(limits=1, user_api="blas"):
        yield
