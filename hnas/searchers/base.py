"""The :class:`Searcher` contract: what hnas calls, and what a searcher implements.

hnas (or you) call ``ask()`` for a new architecture and ``tell(tree, loss)`` with its loss
(lower is better; ``None``: the trial failed). The base class does all bookkeeping: it remembers
every tree told (evaluated or failed) and every pending tree (asked, not yet told), by its
canonical key, so that no architecture is proposed twice; it keeps the incumbent and owns the
searcher's random generator ``self.rng``.

A searcher implements (all public, nothing private to override):

- ``propose(self) -> Tree`` (required): a tree that is not known (``self.is_known(tree)`` is
  False). Draw randomness only from ``self.rng``. ``self.sample_new()`` gives an unknown random
  sample; ``self.observations()``, ``self.pending``, ``self.incumbent`` describe what is known.
- ``observe(self, tree, loss)`` (optional): react to a told result, e.g. add it to a population.
  It must be a deterministic function of the results told so far (no ``self.rng``, nothing that
  ``propose`` changed): on resume, the runner rebuilds a searcher by telling it the stored
  results again, in their original order, without the asks in between.
- ``state_dict(self) -> dict`` / ``load_state_dict(self, state)`` (optional): the searcher's own
  small, picklable state that ``propose`` changes and ``observe`` cannot rebuild (e.g. a counter
  of asks). Keep it O(1) in the number of trials: it is saved after every ask and tell.
- ``Options`` (optional): a frozen dataclass of the searcher's options, every field with a
  default, validated in ``__post_init__`` (raise :class:`~hnas.searchers.OptionsError`). The
  searcher reads them as ``self.options``.

Register the class with :func:`hnas.searchers.register_searcher` to use it by name.

Multi-objective searchers set ``multi_objective = True``: they are told a loss vector (a sequence
of floats, every entry minimised, the same length each time) instead of a number, and
``observations()`` returns the losses as an ``(n, m)`` array; they have no incumbent. A vector
told to a single-objective searcher (or a number to a multi-objective one) is a ``ValueError``.

Resume: :meth:`checkpoint` (the generator state and ``state_dict()``, O(1)) plus the told
results and pending trees rebuild the searcher exactly with :meth:`restore`: it asks the same
trees as the uninterrupted searcher would have.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.errors import HnasError
from hnas.grammar.errors import GrammarError
from hnas.grammar.tree import Tree
from hnas.searchers.options import OptionsError

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["Searcher", "SearcherError", "SpaceExhaustedError", "MAX_SAMPLING_TRIES", "KeyFunction"]

MAX_SAMPLING_TRIES = 2000
"""Draws :meth:`Searcher.sample_new` makes before concluding that no unknown architecture is left."""

KeyFunction = Callable[[Tree], str]


class SpaceExhaustedError(HnasError, RuntimeError):
    """No architecture that was neither evaluated nor pending could be found."""


class SearcherError(HnasError, RuntimeError):
    """A searcher broke its contract: it proposed something that is not a new tree of its space."""


class Searcher(ABC):
    """Base class of all searchers; see the module documentation for the contract."""

    @dataclass(frozen=True)
    class Options:
        """No options."""

    multi_objective: bool = False
    """Whether the searcher is told loss vectors (see the module doc)."""

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        options: Any = None,
        canonical_key: KeyFunction | None = None,
    ) -> None:
        """``options``: an instance of ``type(self).Options`` (``None``: its defaults);
        ``canonical_key``: ``tree -> str``, trees with equal keys count as one architecture
        (``None``: each tree is its own key). A subclass that overrides ``__init__`` passes all
        of these on to ``super().__init__``."""
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise OptionsError(f"seed must be an integer, got {seed!r}", "seed")
        if options is None:
            options = type(self).Options()
        elif not isinstance(options, type(self).Options):
            raise OptionsError(
                f"{type(self).__name__} expects options of type {type(self).__name__}.Options, "
                f"got {type(options).__name__}"
            )
        self.space = space
        self.seed = int(seed)
        self.options = options
        self.rng = np.random.default_rng(self.seed)
        self.canonical_key = canonical_key
        self._history: dict[Tree, float | tuple[float, ...] | None] = {}  # insertion order = order of tells
        self._pending: dict[Tree, None] = {}  # insertion order = order of asks
        self._keys: set[Hashable] = set()  # keys of told and pending trees
        self._observed_trees: list[Tree] = []
        self._observed_losses: list[float | tuple[float, ...]] = []
        self._incumbent: tuple[Tree, float] | None = None

    # ----------------------------------------------------------------------- called by users
    def ask(self) -> Tree:
        """A new candidate that was neither evaluated nor is pending; it becomes pending."""
        tree = self.propose()
        self.check_in_space(tree, "propose()")
        key = self.key(tree)
        if key in self._keys:
            raise SearcherError(f"{type(self).__name__} proposed an already known tree: {tree}")
        self._pending[tree] = None
        self._keys.add(key)
        return tree

    def tell(self, tree: Tree, loss: float | Sequence[float] | None) -> None:
        """Record the loss of ``tree`` (``None``: the trial failed; it is never proposed again;
        a sequence of losses for a multi-objective searcher).

        Usually ``tree`` was asked before; a tree that was not is recorded as an extra observation.
        """
        self._record(tree, loss, self.key(tree) if isinstance(tree, Tree) else None)

    def key(self, tree: Tree) -> Hashable:
        """The canonical key of ``tree`` (the tree itself without a key function)."""
        return tree if self.canonical_key is None else self.canonical_key(tree)

    def is_known(self, tree: Tree) -> bool:
        """Whether an architecture with ``tree``'s key was told or is pending: it may not be proposed."""
        return self.key(tree) in self._keys

    def is_known_tree(self, tree: Tree) -> bool:
        """Whether this very tree (equal, not just the same key) was told or is pending: a cheap
        first check before :meth:`is_known`, which computes the canonical key."""
        return tree in self._history or tree in self._pending

    @property
    def pending(self) -> tuple[Tree, ...]:
        """Trees asked whose result has not been told yet, oldest first."""
        return tuple(self._pending)

    @property
    def history(self) -> tuple[tuple[Tree, float | tuple[float, ...] | None], ...]:
        """All told results in order, failed trials with loss ``None``."""
        return tuple(self._history.items())

    @property
    def n_told(self) -> int:
        return len(self._history)

    @property
    def incumbent(self) -> tuple[Tree, float] | None:
        """The best evaluated tree and its loss (the earliest on ties), or ``None`` before any."""
        return self._incumbent

    def observations(self) -> tuple[list[Tree], np.ndarray]:
        """The successfully evaluated trees and their losses, in the order told (an ``(n, m)``
        array of loss vectors for a multi-objective searcher)."""
        losses = np.array(self._observed_losses, dtype=float)
        if self.multi_objective and not self._observed_losses:
            losses = losses.reshape(0, 0)
        return list(self._observed_trees), losses

    def check_in_space(self, tree: object, source: str) -> None:
        """A :class:`SearcherError` unless ``tree`` is a valid derivation of the space (``source``
        names the method that produced it, for the message)."""
        name = type(self).__name__
        if not isinstance(tree, Tree):
            raise SearcherError(f"{name}.{source} returned {type(tree).__name__}, not a Tree")
        try:
            self.space.validate(tree)
        except GrammarError as error:
            raise SearcherError(f"{name}.{source} returned a tree outside the search space ({error}): "
                                f"{_shortened(str(tree))}") from None

    def sample_new(self) -> Tree:
        """A random sample of the space (by production weights) that is not known yet."""
        for _ in range(MAX_SAMPLING_TRIES):
            tree = self.space.sample(self.rng)
            if not self.is_known(tree):
                return tree
        raise SpaceExhaustedError(
            f"{type(self).__name__}: {MAX_SAMPLING_TRIES} random samples were all evaluated or pending; "
            f"the search space looks exhausted after {len(self._keys)} architectures"
        )

    # ------------------------------------------------------------------ resume (the runner's)
    def checkpoint(self) -> dict[str, Any]:
        """What :meth:`restore` needs besides the results: the generator state and ``state_dict()``."""
        return {"rng": self.rng.bit_generator.state, "state": self.state_dict()}

    def restore(
        self,
        checkpoint: dict[str, Any] | None,
        told: Iterable[tuple[Tree, float | Sequence[float] | None, Hashable | None]],
        pending: Iterable[tuple[Tree, Hashable | None]] = (),
    ) -> None:
        """Continue a fresh searcher from a :meth:`checkpoint`, the told results ``(tree, loss,
        key)`` in the order they were told and the pending trees ``(tree, key)`` in the order they
        were asked (a key of ``None`` is computed)."""
        if self._history or self._pending:
            raise RuntimeError("restore() needs a fresh searcher (nothing asked or told)")
        for tree, loss, key in told:
            self._record(tree, loss, self.key(tree) if key is None else key)
        for tree, key in pending:
            self._pending[tree] = None
            self._keys.add(self.key(tree) if key is None else key)
        if checkpoint is not None:
            self.rng.bit_generator.state = checkpoint["rng"]
            self.load_state_dict(checkpoint["state"])

    # ---------------------------------------------------------------- implemented by searchers
    @abstractmethod
    def propose(self) -> Tree:
        """A tree for which ``self.is_known(tree)`` is False (randomness from ``self.rng`` only)."""

    def observe(self, tree: Tree, loss: float | None) -> None:
        """Called after each told result (``loss`` ``None``: failed); deterministic, see the module doc."""

    def state_dict(self) -> dict[str, Any]:
        """The searcher's own small picklable state that ``observe`` cannot rebuild (default: none)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (called after the results were told again)."""

    # ----------------------------------------------------------------------------- internals
    def _record(self, tree: Tree, loss: Any, key: Hashable) -> None:
        if not isinstance(tree, Tree):
            raise TypeError(f"tell() expects a Tree, got {type(tree).__name__}")
        if tree in self._history:
            raise ValueError(f"tell(): a result for this tree was already told: {tree}")
        if loss is not None and self.multi_objective:
            loss = self._checked_vector(loss)
            self._observed_trees.append(tree)
            self._observed_losses.append(loss)
        elif loss is not None:
            if isinstance(loss, Sequence | np.ndarray) and not isinstance(loss, str):
                raise ValueError(f"tell(): {type(self).__name__} is single-objective: tell a number, got {loss!r}")
            try:
                loss = float(loss)
            except (TypeError, ValueError):
                raise ValueError(f"tell(): loss must be a number or None, got {loss!r}") from None
            if not math.isfinite(loss):
                raise ValueError(f"tell(): loss must be finite, got {loss}; pass None for a failed trial")
            self._observed_trees.append(tree)
            self._observed_losses.append(loss)
            if self._incumbent is None or loss < self._incumbent[1]:
                self._incumbent = (tree, loss)
        self._pending.pop(tree, None)
        self._history[tree] = loss
        self._keys.add(key)
        self.observe(tree, loss)

    def _checked_vector(self, loss: Any) -> tuple[float, ...]:
        """A multi-objective loss as a tuple of finite floats of the length told before."""
        if not isinstance(loss, Sequence | np.ndarray) or isinstance(loss, str):
            raise ValueError(f"tell(): {type(self).__name__} is multi-objective: tell a sequence of losses, got {loss!r}")
        try:
            vector = tuple(float(v) for v in loss)
        except (TypeError, ValueError):
            raise ValueError(f"tell(): losses must be numbers, got {loss!r}") from None
        if not vector or not all(math.isfinite(v) for v in vector):
            raise ValueError(f"tell(): losses must be finite and not empty, got {vector}; pass None for a failed trial")
        if self._observed_losses and len(vector) != len(self._observed_losses[0]):
            raise ValueError(f"tell(): expected {len(self._observed_losses[0])} losses, got {len(vector)}")
        return vector


def _shortened(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
