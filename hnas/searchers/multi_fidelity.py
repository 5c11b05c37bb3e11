"""Multi-fidelity searchers: successive halving, Hyperband, ASHA and BOHB-style Hyperband.

The fidelity is training epochs. A multi-fidelity searcher's ``ask()`` returns a :class:`Job`:
a tree, the epochs to train it to, its rung (the index of ``epochs`` among the searcher's
:attr:`~MultiFidelitySearcher.levels`) and bracket, and ``continues``: the epochs of the same
tree's earlier job whose training checkpoint this job continues (``None``: a new configuration,
trained from its initial weights). ``tell(job, loss)`` gives the loss at that fidelity (``None``:
failed). Single-fidelity searchers (:class:`~hnas.searchers.Searcher`) are unchanged; the runner
tells the two kinds apart with ``isinstance(searcher, MultiFidelitySearcher)``.

Writing one: subclass :class:`MultiFidelitySearcher` (its ``Options`` subclass
``MultiFidelitySearcher.Options``, which holds ``min_epochs``, ``max_epochs`` and ``eta``) and
implement ``propose_job(self) -> Job``, built with ``self.new_job(tree, rung, bracket)`` (``tree``
unknown, e.g. ``self.sample_new()``) or ``self.promote(job, rung)`` (a done job's tree, trained
further). ``propose_job`` must be a function of ``self.rng``, ``state_dict()`` and the recorded
jobs and results (``self.jobs``, ``self.done_at(rung)``, ...), never of the order in which results
arrived: on resume, the runner records the stored jobs again in the order they were asked, with
their results, then restores the O(1) :meth:`~hnas.searchers.Searcher.checkpoint`
(:meth:`MultiFidelitySearcher.restore`). Then a resumed run asks the same jobs as an
uninterrupted one, also in the middle of a bracket.

- ``successive_halving``: brackets of ``eta ** s_max`` new configurations at ``min_epochs`` (the
  lowest level), the best ``1/eta`` of each rung continue to the next level, up to ``max_epochs``.
- ``hyperband``: successive-halving brackets that start at each level in turn (most
  configurations at the lowest level first, then fewer at higher levels, the last all at
  ``max_epochs``), as Li et al. (2018) and HpBandSter size them.
- ``asha``: asynchronous successive halving (Li et al., 2020): each ask promotes a configuration
  in the top ``1/eta`` of the results at its rung that was not promoted yet (highest rung first),
  else starts a new configuration at the lowest level; it never waits for a rung to fill.
- ``bo_hyperband``: Hyperband whose new configurations come, with probability
  ``1 - random_interleave_prob``, from the WL GP surrogate (``surrogate_model``) fitted on the
  results at the highest level that has at least ``n_init`` of them, maximising the acquisition
  function with the pool strategy (as ``bayesian_optimization``); else random samples (BOHB,
  Falkner et al., 2018).

The synchronous searchers (successive halving, Hyperband, BOHB) never wait either: when every
open bracket waits for results (parallel workers), the next ask opens a new bracket. Promotions
rank a rung's successful results by loss (the earlier asked first among equal losses); a failed
job is never promoted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.searchers.base import Searcher, SearcherError
from hnas.searchers.bayesian_optimization import BayesianOptimization, maximise_acquisition
from hnas.searchers.options import OptionsError, check_int

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = [
    "Job",
    "PENDING",
    "MultiFidelitySearcher",
    "SuccessiveHalving",
    "Hyperband",
    "ASHA",
    "BOHyperband",
    "fidelity_levels",
]


@dataclass(frozen=True)
class Job:
    """One evaluation a multi-fidelity searcher asks for: train ``tree`` to ``epochs`` (level
    ``rung`` of the searcher's levels) in ``bracket``; ``continues``: the epochs of this tree's
    earlier job whose checkpoint the training continues from, ``None`` for a new configuration."""

    tree: Tree
    epochs: int
    rung: int = 0
    bracket: int = 0
    continues: int | None = None


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()
"""The result of a job that was asked and not told yet, for :meth:`MultiFidelitySearcher.restore`."""


def fidelity_levels(min_epochs: int, max_epochs: int, eta: int) -> tuple[int, ...]:
    """The epochs of the rungs: ``max_epochs / eta**k`` rounded down for k = s_max, ..., 0, where
    ``s_max`` is the largest ``s`` with ``min_epochs * eta**s <= max_epochs``; strictly increasing,
    the first >= ``min_epochs``, the last ``max_epochs`` (1, 3, 9 for 1, 9, 3)."""
    s_max = 0
    while min_epochs * eta ** (s_max + 1) <= max_epochs:
        s_max += 1
    return tuple(max_epochs // eta ** (s_max - i) for i in range(s_max + 1))


@dataclass
class _Record:
    job: Job
    result: Any = PENDING  # PENDING, None (failed) or the loss


class MultiFidelitySearcher(Searcher):
    """Base class of multi-fidelity searchers (see the module doc): ``ask() -> Job``,
    ``tell(job, loss)``; a subclass implements ``propose_job()``."""

    @dataclass(frozen=True)
    class Options:
        """``min_epochs``, ``max_epochs``: the lowest and highest fidelity (training epochs; the
        learning-rate schedule always spans ``max_epochs``); ``eta``: the factor between levels
        (of epochs, and of configurations kept from one rung to the next)."""

        min_epochs: int = 1
        max_epochs: int = 9
        eta: int = 3

        def __post_init__(self) -> None:
            check_int("min_epochs", self.min_epochs, 1)
            check_int("max_epochs", self.max_epochs, 1)
            check_int("eta", self.eta, 2)
            if self.min_epochs > self.max_epochs:
                raise OptionsError(
                    f"option min_epochs ({self.min_epochs}) must not exceed max_epochs ({self.max_epochs})",
                    "min_epochs",
                )

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.levels = fidelity_levels(self.options.min_epochs, self.options.max_epochs, self.options.eta)
        """The epochs of each rung, lowest first (:func:`fidelity_levels`)."""
        self._records: list[_Record] = []
        self._by_job: dict[tuple[Hashable, int], _Record] = {}
        self._by_rung: dict[int, list[_Record]] = {}
        self._by_bracket: dict[int, list[_Record]] = {}

    @property
    def max_epochs(self) -> int:
        """The schedule horizon of every evaluation (the runner passes it to the objective)."""
        return self.levels[-1]

    # ----------------------------------------------------------------------- called by users
    def ask(self) -> Job:  # type: ignore[override]
        """The next job; it is pending until told."""
        job = self.propose_job()
        self._check_new(job)
        self._add(job)
        return job

    def tell(self, job: Job, loss: float | None) -> None:  # type: ignore[override]
        """Record the loss of ``job`` at its fidelity (``None``: it failed)."""
        record = self._by_job.get((self.key(job.tree), job.epochs)) if isinstance(job, Job) else None
        if record is None:
            raise ValueError(f"tell(): this job was not asked: {job!r}")
        if record.result is not PENDING:
            raise ValueError(f"tell(): a result for this job was already told: {job!r}")
        record.result = _checked_loss(loss)

    def restore(  # type: ignore[override]
        self, checkpoint: dict[str, Any] | None, jobs: Iterable[tuple[Job, Any]]
    ) -> None:
        """Continue a fresh searcher from a :meth:`checkpoint` and every job asked so far, in the
        order asked, each with its result: a loss, ``None`` (failed) or :data:`PENDING`."""
        if self._records:
            raise RuntimeError("restore() needs a fresh searcher (nothing asked or told)")
        for job, result in jobs:
            self._add(job)
            self._records[-1].result = result if result is PENDING else _checked_loss(result)
        if checkpoint is not None:
            self.rng.bit_generator.state = checkpoint["rng"]
            self.load_state_dict(checkpoint["state"])

    # -------------------------------------------------------------------------- what is known
    @property
    def jobs(self) -> tuple[tuple[Job, Any], ...]:
        """Every job asked, in ask order, with its result (a loss, ``None`` if failed, or :data:`PENDING`)."""
        return tuple((r.job, r.result) for r in self._records)

    @property
    def pending(self) -> tuple[Job, ...]:  # type: ignore[override]
        """Jobs asked and not told yet, oldest first."""
        return tuple(r.job for r in self._records if r.result is PENDING)

    @property
    def incumbent(self) -> tuple[Tree, float] | None:
        """The best tree at the highest level with a successful result, and its loss."""
        for rung in reversed(range(len(self.levels))):
            ranked = self.done_at(rung)
            if ranked:
                return ranked[0].tree, self._by_job[(self.key(ranked[0].tree), ranked[0].epochs)].result
        return None

    def at_rung(self, rung: int, bracket: int | None = None) -> list[tuple[Job, Any]]:
        """The jobs of ``rung`` (of ``bracket``, or all), in ask order, with their results."""
        records = self._by_rung.get(rung, []) if bracket is None else [
            r for r in self._by_bracket.get(bracket, []) if r.job.rung == rung
        ]  # fmt: skip
        return [(r.job, r.result) for r in records]

    def done_at(self, rung: int, bracket: int | None = None) -> list[Job]:
        """The successful jobs of ``rung`` (of ``bracket``, or all), best first (earlier asked
        first among equal losses)."""
        done = [(result, i, job) for i, (job, result) in enumerate(self.at_rung(rung, bracket))
                if result is not PENDING and result is not None]  # fmt: skip
        return [job for _, _, job in sorted(done, key=lambda item: item[:2])]

    def is_promoted(self, job: Job) -> bool:
        """Whether ``job``'s tree has a job at a higher rung."""
        key = self.key(job.tree)
        return any((key, epochs) in self._by_job for epochs in self.levels[job.rung + 1 :])

    @property
    def n_brackets(self) -> int:
        """Brackets opened so far (they are numbered 0, 1, ...)."""
        return max(self._by_bracket, default=-1) + 1

    # ------------------------------------------------------------------- building jobs
    def new_job(self, tree: Tree, rung: int, bracket: int = 0) -> Job:
        """A job that starts ``tree`` (unknown) from its initial weights and trains it to level ``rung``."""
        return Job(tree, self.levels[rung], rung, bracket, None)

    def promote(self, job: Job, rung: int | None = None) -> Job:
        """A job that continues ``job``'s training to level ``rung`` (default: the next one)."""
        rung = job.rung + 1 if rung is None else rung
        return Job(job.tree, self.levels[rung], rung, job.bracket, job.epochs)

    # --------------------------------------------------------------- implemented by searchers
    def propose_job(self) -> Job:
        """The next job (see the module doc for what it may depend on)."""
        raise NotImplementedError(f"{type(self).__name__} must implement propose_job()")

    def propose(self) -> Tree:
        raise TypeError(f"{type(self).__name__} is a multi-fidelity searcher: it asks for jobs (propose_job)")

    def new_configuration(self, rung: int) -> Tree:
        """A tree to start at level ``rung``: by default an unknown random sample."""
        return self.sample_new()

    # ----------------------------------------------------------------------------- internals
    def _check_new(self, job: Job) -> None:
        name = type(self).__name__
        if not isinstance(job, Job) or not isinstance(job.tree, Tree):
            raise SearcherError(f"{name}.propose_job() returned {job!r}, not a Job of a Tree")
        if job.epochs not in self.levels or self.levels.index(job.epochs) != job.rung:
            raise SearcherError(f"{name} proposed epochs {job.epochs} at rung {job.rung}; levels: {self.levels}")
        key = self.key(job.tree)
        if (key, job.epochs) in self._by_job:
            raise SearcherError(f"{name} proposed a job that was already asked: {job!r}")
        if job.continues is None:
            self.check_in_space(job.tree, "propose_job()")
            if self.is_known(job.tree):
                raise SearcherError(f"{name} proposed an already known tree as a new configuration: {job.tree}")
            return
        earlier = self._by_job.get((key, job.continues))
        if earlier is None or earlier.result is PENDING or earlier.result is None or job.continues >= job.epochs:
            raise SearcherError(f"{name} proposed to continue a job that is not done at fewer epochs: {job!r}")

    def _add(self, job: Job) -> None:
        record = _Record(job)
        self._records.append(record)
        self._by_job[(self.key(job.tree), job.epochs)] = record
        self._by_rung.setdefault(job.rung, []).append(record)
        self._by_bracket.setdefault(job.bracket, []).append(record)
        self._keys.add(self.key(job.tree))


def _checked_loss(loss: Any) -> float | None:
    """``loss`` as a float (``None`` stays: a failed job); a ValueError for anything not finite."""
    if loss is not None and (isinstance(loss, bool) or not isinstance(loss, numbers.Real) or not math.isfinite(loss)):
        raise ValueError(f"tell(): loss must be a finite number, or None for a failed job; got {loss!r}")
    return None if loss is None else float(loss)


class SuccessiveHalving(MultiFidelitySearcher):
    """Synchronous successive halving, bracket after bracket (see the module doc)."""

    def bracket_start(self, bracket: int) -> int:
        """The level a bracket's new configurations start at (successive halving: the lowest)."""
        return 0

    def bracket_sizes(self, start: int) -> list[int]:
        """Configurations per rung of a bracket starting at level ``start`` (HpBandSter's sizing)."""
        s, s_max, eta = len(self.levels) - 1 - start, len(self.levels) - 1, self.options.eta
        n0 = ((s_max + 1) // (s + 1)) * eta**s
        return [max(n0 // eta**i, 1) for i in range(s + 1)]

    def propose_job(self) -> Job:
        for bracket in range(self.n_brackets):
            job = self._next_in(bracket)
            if job is not None:
                return job
        bracket = self.n_brackets
        start = self.bracket_start(bracket)
        return self.new_job(self.new_configuration(start), start, bracket)

    def _next_in(self, bracket: int) -> Job | None:
        """The next job of an open bracket, or None when it waits for results or is finished."""
        start = self.bracket_start(bracket)
        sizes = self.bracket_sizes(start)
        if len(self.at_rung(start, bracket)) < sizes[0]:
            return self.new_job(self.new_configuration(start), start, bracket)
        for stage in range(1, len(sizes)):
            below = self.at_rung(start + stage - 1, bracket)
            if any(result is PENDING for _, result in below):
                return None  # the rung below is still running
            for job in self.done_at(start + stage - 1, bracket)[: sizes[stage]]:
                if not self.is_promoted(job):
                    return self.promote(job)
        return None


class Hyperband(SuccessiveHalving):
    """Successive-halving brackets starting at each level in turn (see the module doc)."""

    def bracket_start(self, bracket: int) -> int:
        return bracket % len(self.levels)


class ASHA(MultiFidelitySearcher):
    """Asynchronous successive halving (see the module doc)."""

    def propose_job(self) -> Job:
        for rung in reversed(range(len(self.levels) - 1)):
            told = sum(result is not PENDING for _, result in self.at_rung(rung))
            for job in self.done_at(rung)[: told // self.options.eta]:
                if not self.is_promoted(job):
                    return self.promote(job)
        return self.new_job(self.new_configuration(0), 0)


class BOHyperband(Hyperband):
    """Hyperband with model-based new configurations (BOHB-style; see the module doc)."""

    @dataclass(frozen=True)
    class Options(MultiFidelitySearcher.Options, BayesianOptimization.Options):
        """Hyperband's options, and BO's: ``n_init`` is the number of successful results a level
        needs before the surrogate is fitted on it; ``random_interleave_prob`` the probability
        that a new configuration is a random sample (BOHB's random fraction, 1/3)."""

        n_init: int = 5
        random_interleave_prob: float = 1 / 3

        def __post_init__(self) -> None:
            MultiFidelitySearcher.Options.__post_init__(self)
            BayesianOptimization.Options.__post_init__(self)

    options: Options

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        from hnas.surrogates import get_surrogate

        super().__init__(space, **kwargs)
        self.surrogate = get_surrogate(self.options.surrogate_model, space)
        self._fit_key: tuple[Tree, ...] | None = None
        self.model_rung: int | None = None
        """The level the latest model-based proposal was fitted on (None: it was random)."""

    def new_configuration(self, rung: int) -> Tree:
        self.model_rung = None
        if self.options.random_interleave_prob > 0 and self.rng.random() < self.options.random_interleave_prob:
            return self.sample_new()
        fitted = [r for r in range(len(self.levels)) if len(self.done_at(r)) >= max(self.options.n_init, 2)]
        if not fitted:
            return self.sample_new()
        self.model_rung = fitted[-1]
        done = [(job.tree, result) for job, result in self.at_rung(fitted[-1]) if result not in (PENDING, None)]
        trees, losses = [tree for tree, _ in done], np.array([loss for _, loss in done], dtype=float)
        from hnas.surrogates.transforms import transform_targets

        targets = transform_targets(self.options.target_transform, losses)
        if tuple(trees) != self._fit_key:
            self.surrogate.fit(trees, targets)
            self._fit_key = tuple(trees)
        proposal, _ = maximise_acquisition(
            self, self.surrogate, self.options.acquisition, self.options.pool_strategy, trees, targets
        )
        return proposal if proposal is not None else self.sample_new()
