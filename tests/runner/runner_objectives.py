"""Cheap real objectives for the runner tests: known functions of the tree, with side effects the
tests can observe (a log line per evaluation, failures, a worker killing itself)."""

from __future__ import annotations

import math
import os
import signal
import time
import zlib
from pathlib import Path

import torch

from hnas.grammar.tree import Tree
from hnas.objectives.result import EvaluationResult
from hnas.searchers.synthetic import op_quality_loss

SPACE = "nb201_fixed_1_none"


class SyntheticObjective:
    """``val_error = op_quality_loss(tree)``; appends ``start``/``end`` lines (pid, seed, tree) to
    ``log_path`` around each evaluation, which takes ``delay`` seconds."""

    name = "synthetic"

    def __init__(self, log_path: str | Path | None = None, delay: float = 0.0) -> None:
        self.log_path = None if log_path is None else str(log_path)
        self.delay = delay

    def _log(self, kind: str, tree: Tree, seed: int) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a") as handle:
                handle.write(f"{kind} {os.getpid()} {seed} {tree}\n")
                handle.flush()
                os.fsync(handle.fileno())

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        self._log("start", tree, seed)
        time.sleep(self.delay)
        loss = op_quality_loss(tree)
        self._log("end", tree, seed)
        return EvaluationResult(
            val_error=loss,
            test_error=loss + 0.01,
            params=tree.size(),
            train_time=self.delay,
            epochs=1,
            learning_curve=(loss + 0.1, loss),
            extras={"seed_mod": float(seed % 7)},
        )


def failure_kind(tree: Tree) -> str:
    """A stable function of the tree: 'raise', 'nan', 'oom' or 'ok'."""
    return ("raise", "nan", "oom", "ok", "ok")[zlib.crc32(str(tree).encode()) % 5]


class FailingObjective(SyntheticObjective):
    """Raises, returns NaN or raises ``torch.OutOfMemoryError`` for trees chosen by :func:`failure_kind`."""

    name = "failing"

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        kind = failure_kind(tree)
        if kind == "raise":
            raise ValueError("channel mismatch in this architecture")
        if kind == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        result = super().evaluate(tree, seed)
        return EvaluationResult(val_error=math.nan) if kind == "nan" else result


class InterruptingObjective(SyntheticObjective):
    """Behaves like Ctrl-C (raises ``KeyboardInterrupt``) in its ``interrupt_at``-th evaluation."""

    name = "synthetic"  # the same objective as SyntheticObjective for the stored configuration

    def __init__(self, log_path: str | Path, interrupt_at: int) -> None:
        super().__init__(log_path)
        self.interrupt_at = interrupt_at
        self.calls = 0

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        self.calls += 1
        if self.calls == self.interrupt_at:
            self._log("start", tree, seed)
            raise KeyboardInterrupt
        return super().evaluate(tree, seed)


class DieOnceObjective(SyntheticObjective):
    """The first evaluation (across all processes) SIGKILLs its own worker process mid-evaluation;
    ``marker`` records that it happened, with the seed of that evaluation."""

    name = "synthetic"

    def __init__(self, log_path: str | Path, marker: str | Path, delay: float) -> None:
        super().__init__(log_path, delay)
        self.marker = str(marker)

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().evaluate(tree, seed)
        os.write(fd, str(seed).encode())
        os.close(fd)
        self._log("start", tree, seed)
        time.sleep(self.delay / 2)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: the process was killed")


def read_log(path: str | Path) -> list[tuple[str, int, int, str]]:
    """The ``(kind, pid, seed, tree)`` lines of a log written by these objectives."""
    if not Path(path).exists():
        return []
    rows = []
    for line in Path(path).read_text().splitlines():
        kind, pid, seed, tree = line.split(" ", 3)
        rows.append((kind, int(pid), int(seed), tree))
    return rows
