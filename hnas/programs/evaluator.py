"""A fast numpy evaluator of programs on AutoML-Zero's random linear-regression tasks.

Each task draws ``w ~ N(0, I_d)`` and examples ``x ~ N(0, I_d)`` with label ``y = w . x``. A program
runs on all tasks at once (memory has a leading task axis), with its dead code removed first: ``Setup`` once, then per training example ``v0 = x; Predict; s0 = y;
Learn``; then ``Predict`` on every held-out example from the trained memory. Per task the score is
``1 - min(1, RMSE / RMS(y))`` (RMS error normalised by the error of predicting 0, so the empty
program scores 0 and an exact learner 1); the fitness is its mean over the tasks; a program that
overflows scores 0 on that task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hnas.grammar.tree import Tree
from hnas.programs.language import OP_BY_NAME
from hnas.programs.program import FEATURES, LABEL, PREDICTION, Instruction, Program, live_program, read_program

__all__ = ["LinearTasks", "ProgramEvaluator", "run_program"]


@dataclass(frozen=True)
class LinearTasks:
    """``n_tasks`` random linear-regression tasks of dimension ``dim`` (the fixed seed makes them the same
    in every process)."""

    n_tasks: int = 10
    dim: int = 4
    n_train: int = 100
    n_valid: int = 20
    seed: int = 0

    @cached_property
    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X (n_train, T, d), Y (n_train, T), XV (n_valid * T, d) example-major, YV (n_valid, T))."""
        rng = np.random.default_rng(self.seed)
        w = rng.standard_normal((self.n_tasks, self.dim))
        x = rng.standard_normal((self.n_train + self.n_valid, self.n_tasks, self.dim))
        y = np.einsum("ntd,td->nt", x, w)
        xv = x[self.n_train:].reshape(-1, self.dim)
        return x[: self.n_train], y[: self.n_train], xv, y[self.n_train:]


Code = tuple[tuple[Callable[..., np.ndarray], int, int, int], ...]


def _code(instrs: tuple[Instruction, ...], slot: dict[str, int]) -> Code:
    """(fn, out slot, in slot, second in slot or -1) per instruction."""
    return tuple((OP_BY_NAME[i.op].fn, slot[i.out], slot[i.ins[0]], slot[i.ins[1]] if len(i.ins) > 1 else -1)
                 for i in instrs)


def _execute(code: Code, mem: list[np.ndarray]) -> None:
    for fn, o, a, b in code:
        mem[o] = fn(mem[a]) if b < 0 else fn(mem[a], mem[b])


def _initial(name: str, batch: int, dim: int) -> np.ndarray:
    kind = name[0]
    if kind not in "svm":
        return np.full(batch, float(name))  # a constant operand
    return np.zeros({"s": (batch,), "v": (batch, dim), "m": (batch, dim, dim)}[kind])


def run_program(program: Program, x: np.ndarray, y: np.ndarray, xv: np.ndarray) -> np.ndarray:
    """Predictions (n_valid * T,) of ``program`` (live code only) trained on ``x`` (n_train, T, d),
    ``y`` (n_train, T) and run on the held-out ``xv`` (n_valid * T, d), example-major."""
    program = live_program(program)
    names = sorted({a for f in program for i in f for a in (i.out, *i.ins)} | {PREDICTION, FEATURES, LABEL})
    slot = {name: k for k, name in enumerate(names)}
    setup, predict, learn = (_code(f, slot) for f in program)
    n_tasks, dim = x.shape[1], x.shape[2]
    mem = [_initial(name, n_tasks, dim) for name in names]
    _execute(setup, mem)
    features, label = slot[FEATURES], slot[LABEL]
    if predict or learn:
        for i in range(x.shape[0]):
            mem[features] = x[i]
            _execute(predict, mem)
            mem[label] = y[i]
            _execute(learn, mem)
    # validation: every held-out example starts from the trained memory
    repeats = xv.shape[0] // n_tasks
    mem = [np.tile(m, (repeats,) + (1,) * (m.ndim - 1)) for m in mem]
    mem[features] = xv
    _execute(predict, mem)
    return mem[slot[PREDICTION]]


class ProgramEvaluator:
    """Fitness of program trees on fixed :class:`LinearTasks` (memoised by program text)."""

    def __init__(self, tasks: LinearTasks = LinearTasks()) -> None:
        self.tasks = tasks
        self._cache: dict[Program, float] = {}

    def __call__(self, program: Tree | Program) -> float:
        if isinstance(program, Tree):
            program = read_program(program)
        key = live_program(program)
        fitness = self._cache.get(key)
        if fitness is None:
            fitness = self._cache[key] = self._fitness(key)
        return fitness

    def _fitness(self, program: Program) -> float:
        x, y, xv, yv = self.tasks.data
        with np.errstate(all="ignore"):
            pred = run_program(program, x, y, xv).reshape(yv.shape)
            rmse = np.sqrt(np.mean((pred - yv) ** 2, axis=0))
            score = 1.0 - np.minimum(1.0, rmse / np.sqrt(np.mean(yv**2, axis=0)))
        return float(np.mean(np.nan_to_num(score, nan=0.0)))
