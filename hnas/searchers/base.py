"""The ask/tell interface shared by all searchers, and the bookkeeping they have in common.

A searcher proposes architectures (``ask``) and learns their loss (``tell``); lower is better.
It remembers every tree it has proposed or been told about, so that no tree is proposed twice:
evaluated trees, failed ones (loss ``None``, remembered but never modelled) and pending ones
(asked, result not yet told, e.g. running on a parallel worker).

All randomness comes from the searcher's own ``numpy.random.Generator``, seeded at construction.
Given the same seed and the same told values in the same order, a searcher asks the same
sequence of trees; ``state_dict``/``load_state_dict`` capture everything needed to continue
identically (the generator state, the history, the pending trees and each searcher's own state).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hnas.errors import HnasError
from hnas.grammar.tree import Tree

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["Searcher", "SpaceExhaustedError", "MAX_SAMPLING_TRIES"]

MAX_SAMPLING_TRIES = 2000
"""Draws a searcher makes before concluding that no unseen architecture is left to sample."""


class SpaceExhaustedError(HnasError, RuntimeError):
    """No architecture that was neither evaluated nor pending could be found."""


class Searcher(ABC):
    """Base class: ``ask`` a new candidate, ``tell`` its loss (lower is better, ``None`` = failed)."""

    name: ClassVar[str]

    def __init__(self, space: SearchSpace, *, seed: int) -> None:
        self.space = space
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self._history: dict[Tree, float | None] = {}  # insertion order = order of tells
        self._pending: dict[Tree, None] = {}  # insertion order = order of asks

    # ----------------------------------------------------------------------------- public API
    def ask(self) -> Tree:
        """A new candidate that was neither evaluated nor is pending; it becomes pending."""
        tree = self._propose()
        if self.is_known(tree):  # a searcher bug, never the user's
            raise RuntimeError(f"{self.name} proposed an already known tree: {tree}")
        self._pending[tree] = None
        return tree

    def tell(self, tree: Tree, loss: float | None) -> None:
        """Record the loss of ``tree`` (``None``: the trial failed; it is never proposed again).

        Usually ``tree`` was asked before; a tree that was not is recorded as an extra observation.
        """
        if not isinstance(tree, Tree):
            raise TypeError(f"tell() expects a Tree, got {type(tree).__name__}")
        if tree in self._history:
            raise ValueError(f"tell(): a result for this tree was already told: {tree}")
        if loss is not None:
            try:
                loss = float(loss)
            except (TypeError, ValueError):
                raise ValueError(f"tell(): loss must be a number or None, got {loss!r}") from None
            if not math.isfinite(loss):
                raise ValueError(f"tell(): loss must be finite, got {loss}; pass None for a failed trial")
        self._pending.pop(tree, None)
        self._history[tree] = loss
        self._on_tell(tree, loss)

    @property
    def pending(self) -> tuple[Tree, ...]:
        """Trees asked whose result has not been told yet, oldest first."""
        return tuple(self._pending)

    @property
    def history(self) -> tuple[tuple[Tree, float | None], ...]:
        """All told results in order, failed trials with loss ``None``."""
        return tuple(self._history.items())

    @property
    def incumbent(self) -> tuple[Tree, float] | None:
        """The best evaluated tree and its loss (the earliest on ties), or ``None`` before any."""
        best: tuple[Tree, float] | None = None
        for tree, loss in self._history.items():
            if loss is not None and (best is None or loss < best[1]):
                best = (tree, loss)
        return best

    def is_known(self, tree: Tree) -> bool:
        """Whether ``tree`` was told (evaluated or failed) or is pending: it may not be proposed."""
        return tree in self._history or tree in self._pending

    def observations(self) -> tuple[list[Tree], np.ndarray]:
        """The successfully evaluated trees and their losses, in the order told."""
        trees = [t for t, loss in self._history.items() if loss is not None]
        losses = np.array([loss for loss in self._history.values() if loss is not None], dtype=float)
        return trees, losses

    def state_dict(self) -> dict[str, Any]:
        """A picklable snapshot: generator state, history, pending trees and the searcher's own state."""
        return {
            "searcher": self.name,
            "options": self.options(),
            "seed": self.seed,
            "rng": self.rng.bit_generator.state,
            "history": list(self._history.items()),
            "pending": list(self._pending),
            "extra": self._extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` snapshot taken from a searcher of the same configuration."""
        if not isinstance(state, dict) or state.get("searcher") is None:
            raise ValueError("load_state_dict(): not a searcher state (missing 'searcher')")
        if state["searcher"] != self.name:
            raise ValueError(
                f"load_state_dict(): state belongs to searcher {state['searcher']!r}, not {self.name!r}"
            )
        if state["options"] != self.options():
            raise ValueError(
                f"load_state_dict(): state was saved with options {state['options']}, "
                f"this searcher has {self.options()}"
            )
        self.seed = state["seed"]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
        self._history = dict(state["history"])
        self._pending = dict.fromkeys(state["pending"])
        self._load_extra_state(state["extra"])

    def options(self) -> dict[str, Any]:
        """The searcher's configuration (the options given to ``make_searcher``, defaults filled in)."""
        return {}

    # ------------------------------------------------------------------ for the subclasses
    @abstractmethod
    def _propose(self) -> Tree:
        """A tree for which ``is_known`` is False."""

    def _on_tell(self, tree: Tree, loss: float | None) -> None:
        """Hook after a result was recorded."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        pass

    def _sample_new(self) -> Tree:
        """A random sample (by production weights) that is not known yet."""
        for _ in range(MAX_SAMPLING_TRIES):
            tree = self.space.sample(self.rng)
            if not self.is_known(tree):
                return tree
        raise SpaceExhaustedError(
            f"{self.name}: {MAX_SAMPLING_TRIES} random samples were all evaluated or pending; "
            f"the search space looks exhausted ({len(self._history)} told, {len(self._pending)} pending)"
        )
