"""A plain function as an objective: ``fn(tree)`` or ``fn(tree, seed)`` returning a number, an
:class:`EvaluationResult` or a mapping of its fields. Needs no torch."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from hnas.grammar.tree import Tree
from hnas.objectives.result import EvaluationResult, as_evaluation_result

__all__ = ["FunctionObjective"]


def _takes_seed(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` accepts a second positional argument (the evaluation seed)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: call it as fn(tree, seed)
        return True
    kinds = [p.kind for p in parameters]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(kind in positional for kind in kinds) >= 2


class FunctionObjective:
    """Evaluates ``fn(tree)`` (or ``fn(tree, seed)`` when ``fn`` takes two positional arguments)."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"an objective function must be callable, got {fn!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self._takes_seed = _takes_seed(fn)

    def evaluate(self, tree: Tree, seed: int) -> EvaluationResult:
        value = self.fn(tree, seed) if self._takes_seed else self.fn(tree)
        return as_evaluation_result(value)

    def __repr__(self) -> str:
        return f"FunctionObjective({self.name!r})"
