"""A test plugin: primitives whose forward kills the process that evaluates them, the way a
segfault or the kernel's out-of-memory killer would (registered on import)."""

from __future__ import annotations

import os
import resource
import signal

from torch import nn

from hnas.semantics import register_primitive

EXIT_CODE = 3
HEADROOM = 256 << 20
"""Bytes the hog may allocate beyond what its process already maps before the limit stops it."""


class ExitNow(nn.Module):
    """Ends the process at once, with no exception and no clean-up: ``os._exit``."""

    def forward(self, x):
        os._exit(EXIT_CODE)


class Hog(nn.Module):
    """Allocates until an address-space limit (set on this process only) refuses, then is killed
    with SIGKILL, as the out-of-memory killer would kill it when memory runs out."""

    def forward(self, x):
        mapped = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (mapped + HEADROOM, hard))
        hoard = []
        try:
            while True:
                hoard.append(bytearray(16 << 20))
        except MemoryError:
            os.kill(os.getpid(), signal.SIGKILL)


register_primitive("exit_now")(lambda channels: ExitNow())
register_primitive("hog")(lambda channels: Hog())
