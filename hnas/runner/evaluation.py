"""One evaluation, as it runs in a worker: build (or reuse) the objective, evaluate, catch failures.

The outcome is plain picklable data: ``{"result": {...} | None, "error": str | None,
"eval_seconds": float, "worker": str}``. An exception (``EvaluationError``, any error raised
by the network, ``torch.OutOfMemoryError``) or a NaN/missing validation error makes a failed
outcome carrying the message; ``KeyboardInterrupt`` and ``SystemExit`` are not caught.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from hnas.grammar.tree import Tree

__all__ = [
    "ObjectiveSpec",
    "resolve_objective",
    "evaluate_trial",
    "RESULT_FIELDS",
    "DEFAULT_TORCH_THREADS",
    "apply_thread_settings",
]

RESULT_FIELDS = ("val_error", "test_error", "params", "flops", "train_time", "epochs", "learning_curve", "extras")


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective by name or ``module:function`` reference, as workers rebuild it: load the
    run's ``plugins`` (and the installed ones), then ``get_objective(name, data_path, **options)``."""

    name: str
    data_path: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    plugins: tuple[str, ...] = ()

    def build(self) -> Any:
        from hnas.objectives import get_objective
        from hnas.plugins import load_plugins

        load_plugins(self.plugins)  # a no-op where they are loaded (the driver)
        return get_objective(self.name, self.data_path, **dict(self.options))


_BUILT: dict[ObjectiveSpec, Any] = {}  # per process: a worker loads a named objective's data once


def resolve_objective(objective: Any) -> Any:
    """The objective object for a spec (built once per process) or the object itself."""
    if isinstance(objective, ObjectiveSpec):
        built = _BUILT.get(objective)
        if built is None:
            built = _BUILT[objective] = objective.build()
        return built
    return objective


def _result_record(result: Any) -> dict[str, Any]:
    from hnas.objectives.result import as_evaluation_result

    result = as_evaluation_result(result)
    return {name: getattr(result, name) for name in RESULT_FIELDS}


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


DEFAULT_TORCH_THREADS = 1
"""Torch threads of an evaluation process unless ``torch_threads`` says otherwise: with more,
OpenMP threads spin against other processes sharing the cores and an evaluation can take ten
times longer on a busy machine (see benchmarks/bench_threads.py)."""


def apply_thread_settings(torch_threads: int | None) -> None:
    """Use ``torch_threads`` torch (intra-op / OpenMP) threads in this process; ``None`` leaves
    torch's default."""
    if torch_threads is None:
        return
    import torch

    if torch.get_num_threads() != torch_threads:
        torch.set_num_threads(torch_threads)


def evaluate_trial(
    objective: Any, tree: Tree, seed: int, torch_threads: int | None = None, budget: Any = None
) -> dict[str, Any]:
    """Evaluate ``tree`` with ``seed`` on ``objective`` (an :class:`ObjectiveSpec`, an object with
    ``evaluate(tree, seed)`` or a callable); never raises for a failing architecture. ``budget``
    (a :class:`~hnas.objectives.budget.TrainingBudget`, multi-fidelity runs) is passed on as
    ``evaluate(tree, seed, budget=budget)``."""
    apply_thread_settings(torch_threads)
    start = time.perf_counter()
    try:
        evaluator = resolve_objective(objective)
        if not hasattr(evaluator, "evaluate"):
            from hnas.objectives.function import FunctionObjective

            evaluator = FunctionObjective(evaluator)
        result = evaluator.evaluate(tree, seed) if budget is None else evaluator.evaluate(tree, seed, budget=budget)
        record = _result_record(result)
        error = None
        val_error = record.get("val_error")
        if val_error is None or not math.isfinite(float(val_error)):
            error = f"the validation error is {val_error} (NaN or infinite loss)"
    except Exception as exc:  # a failing architecture must not stop the search
        record = None
        error = f"{type(exc).__name__}: {exc}".strip()
        _release_accelerator_memory()
    return {
        "result": _plain(record) if error is None else None,
        "error": error,
        "eval_seconds": time.perf_counter() - start,
        "worker": _worker_name(),
    }


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """Convert tensors / numpy scalars to Python numbers so the outcome pickles anywhere."""
    plain: dict[str, Any] = {}
    for key, value in record.items():
        if key == "learning_curve":
            plain[key] = [float(v) for v in value or ()]
        elif key == "extras":
            plain[key] = {str(k): float(v) for k, v in dict(value or {}).items()}
        elif key in ("params", "epochs"):
            plain[key] = None if value is None else int(value)
        else:
            plain[key] = None if value is None else float(value)
    return plain


def _release_accelerator_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
