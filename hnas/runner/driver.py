"""The search loop: ask the searcher, evaluate (here, on local workers or on Dask), tell, store.

The run is resumable at any point: trials and the searcher's checkpoint are committed together
(see :mod:`hnas.runner.store`); on restart the searcher is rebuilt from the stored trials and its
checkpoint (:func:`restore_searcher`), unfinished trials are re-queued and evaluated with the
same tree and seed, and the loop stops at exactly ``max_evaluations_total`` evaluated (done or
failed) trials. Raising ``max_evaluations_total`` on a finished run continues it. The work per
trial does not grow with the number of trials (results and plots are written at the end).
"""

from __future__ import annotations

import fcntl
import math
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.runner.config import RunConfig, config_differences
from hnas.runner.errors import ConfigMismatchError, RunError, RunLockedError
from hnas.runner.evaluation import ObjectiveSpec, resolve_objective
from hnas.runner.executors import Executor, Task, make_executor
from hnas.runner.results import write_results
from hnas.runner.store import RunStore, Trial, TrialStatus

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace
    from hnas.searchers import Searcher

__all__ = [
    "RunSummary",
    "run_search",
    "default_working_directory",
    "build_searcher",
    "restore_searcher",
    "MAX_ATTEMPTS",
    "LOG_FLOOR",
]

MAX_ATTEMPTS = 3
"""Evaluations of one trial lost to dying workers (in one session) before the trial is recorded as
failed; evaluations cut short by stopping or killing the driver do not count."""

LOG_FLOOR = 1e-4
"""With ``log``, the objective is ``log(max(val_error, LOG_FLOOR))`` (a zero error stays finite)."""


@dataclass(frozen=True)
class RunSummary:
    """Where a run stands: counts, the best trial, and where its results are."""

    working_directory: Path
    max_evaluations_total: int
    n_done: int
    n_failed: int
    best: Trial | None
    run_seconds: float
    interrupted: bool
    results_csv: Path
    plots: tuple[Path, ...]

    @property
    def n_evaluations(self) -> int:
        return self.n_done + self.n_failed

    @property
    def finished(self) -> bool:
        return self.n_evaluations >= self.max_evaluations_total

    def __str__(self) -> str:
        state = "interrupted" if self.interrupted else ("finished" if self.finished else "stopped")
        lines = [
            f"run {state}: {self.n_evaluations}/{self.max_evaluations_total} evaluations "
            f"({self.n_failed} failed) in {self.run_seconds:.1f} s",
        ]
        if self.best is None:
            lines.append("no architecture was evaluated successfully yet")
        else:
            lines += [
                f"best architecture (trial {self.best.id}): {self.best.architecture}",
                f"validation error: {_fmt(self.best.val_error)}  test error: {_fmt(self.best.test_error)}"
                f"  objective: {_fmt(self.best.objective)}",
            ]
        lines.append(f"results: {self.results_csv}, plots: {', '.join(str(p) for p in self.plots)}")
        if self.interrupted or not self.finished:
            lines.append(f"rerun the same command to continue (run store: {self.working_directory})")
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def default_working_directory(config: RunConfig) -> Path:
    """``runs/<searcher>-<space>-<objective>-seed<N>`` under the current directory."""
    objective = config.objective_name.replace("/", "_")
    return Path("runs") / f"{config.searcher_name}-{config.space_label}-{objective}-seed{config.seed}"


def trial_seed(run_seed: int, trial_id: int) -> int:
    """The evaluation seed of a trial: a function of the run seed and the trial id only."""
    return int(np.random.SeedSequence([run_seed, trial_id]).generate_state(1, np.uint32)[0])


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While the loop runs, SIGTERM (e.g. from a batch scheduler) stops it like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _exclusive(working_directory: Path) -> Iterator[None]:
    working_directory.mkdir(parents=True, exist_ok=True)
    with open(working_directory / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"another process is running the search in {working_directory}") from None
        yield


def _objective_for_workers(config: RunConfig) -> Any:
    if config.objective is None or isinstance(config.objective, str):
        return ObjectiveSpec(config.objective_name, config.data_path, tuple(sorted(config.objective_kwargs().items())))
    return config.objective


def build_searcher(config: RunConfig, space: SearchSpace) -> Searcher:
    """A fresh searcher of ``config`` over ``space``, with the canonical key it selects."""
    from hnas.searchers import canonical_key_for

    cls, options = config.searcher_setup()
    try:
        _, key = canonical_key_for(space, config.canonical_key)
    except ValueError as error:  # an unknown key name
        raise RunError(str(error)) from None
    return cls(space, seed=config.seed, options=options, canonical_key=key)


def restore_searcher(searcher: Searcher, store: RunStore) -> None:
    """Bring a fresh ``searcher`` to the state committed in ``store``: the told results again in
    their order, the unfinished trials as pending, then the checkpoint (O(1) in the trials)."""
    checkpoint = store.searcher_state()
    if checkpoint is None:
        return
    if "history" in checkpoint:  # a store of an older version: the whole searcher was pickled
        checkpoint = _upgrade_checkpoint(checkpoint, store, searcher.space)
    parse = searcher.space.parse
    told = ((parse(t.architecture), t.objective, t.canonical_key) for t in store.told_trials())
    pending = ((parse(t.architecture), t.canonical_key) for t in store.trials((TrialStatus.PENDING, TrialStatus.RUNNING)))
    searcher.restore(checkpoint, told, pending)


def _upgrade_checkpoint(state: dict[str, Any], store: RunStore, space: SearchSpace) -> dict[str, Any]:
    """Number the told results of an older store from its pickled history; its checkpoint."""
    ids = {t.architecture: t.id for t in store.trials(TrialStatus.FINISHED)}
    store.set_told_order([ids[space.to_string(tree)] for tree, _ in state["history"]])
    return {"rng": state["rng"], "state": state["extra"]}


class _Progress:
    """A tqdm bar over evaluations whose postfix shows the incumbent; silent when disabled."""

    def __init__(self, enabled: bool, total: int, initial: int, incumbent: float | None) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="eval", dynamic_ncols=True)
            self.update(0, incumbent)

    def update(self, n: int, incumbent: float | None) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"incumbent {_fmt(incumbent)}", refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Search:
    """The state of one session of a run (between a start or resume and its end)."""

    def __init__(self, config: RunConfig, store: RunStore, executor: Executor | None, progress: bool) -> None:
        from hnas.grammar import load_space

        self.config = config
        self.store = store
        self.space = load_space(config.search_space)
        self.searcher = build_searcher(config, self.space)
        restore_searcher(self.searcher, store)
        self.objective = _objective_for_workers(config)
        self._executor = executor
        self._progress_enabled = progress
        self._session_start = time.monotonic()
        self._seconds_before = store.run_seconds()
        self.trees: dict[int, Tree] = {}
        self.seeds: dict[int, int] = {}
        self.in_flight: set[int] = set()

    def run_seconds(self) -> float:
        return self._seconds_before + time.monotonic() - self._session_start

    def loss_of(self, outcome: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
        """The loss told to the searcher (``None`` for a failed trial) and the outcome to store."""
        result = outcome.get("result")
        if outcome.get("error") is not None or not result:
            return None, outcome
        val_error = float(result["val_error"])
        if not self.config.log:
            return val_error, outcome
        if val_error < 0:
            return None, {**outcome, "error": f"log: the objective value {val_error} is negative"}
        return math.log(max(val_error, LOG_FLOOR)), outcome

    def run(self) -> None:
        store, config = self.store, self.config
        store.requeue()
        queue: deque[int] = deque()
        lost: Counter[int] = Counter()  # evaluations lost to a dying worker, per trial
        for trial in store.trials(TrialStatus.PENDING):
            self._remember(trial.id, self.space.parse(trial.architecture), trial.seed)
            queue.append(trial.id)
        evaluated = store.count(TrialStatus.FINISHED)
        if evaluated >= config.max_evaluations_total:
            return
        # Build the objective here first, so a bad name, option or data file is one clear error.
        resolve_objective(self.objective)
        executor = self._executor or make_executor(
            self.objective, config.n_workers, config.dask_scheduler, config.torch_threads
        )
        best = _best_trial(store)
        incumbent = None if best is None else best.objective
        progress = _Progress(self._progress_enabled, config.max_evaluations_total, evaluated, incumbent)
        try:
            while evaluated < config.max_evaluations_total:
                while (
                    len(self.in_flight) < executor.capacity()
                    and evaluated + len(self.in_flight) < config.max_evaluations_total
                ):
                    trial_id = queue.popleft() if queue else self._ask()
                    worker = executor.submit(Task(trial_id, self.trees[trial_id], self.seeds[trial_id]))
                    store.mark_running(trial_id, worker)
                    self.in_flight.add(trial_id)
                trial_id, outcome = executor.next_event()
                if outcome is None:  # the worker died: run it again, unless it keeps killing workers
                    lost[trial_id] += 1
                    if lost[trial_id] < MAX_ATTEMPTS:
                        store.requeue([trial_id])
                        self.in_flight.discard(trial_id)
                        queue.appendleft(trial_id)
                        continue
                    outcome = {"result": None, "error": f"the worker died in each of {MAX_ATTEMPTS} evaluations"}
                loss, outcome = self.loss_of(outcome)
                self.searcher.tell(self.trees[trial_id], loss)
                store.finish_trial(trial_id, outcome, loss, self.searcher.checkpoint(), self.run_seconds())
                self.in_flight.discard(trial_id)
                del self.trees[trial_id], self.seeds[trial_id]  # finished: only the searcher keeps it
                evaluated += 1
                if loss is not None and (incumbent is None or loss < incumbent):
                    incumbent = loss
                progress.update(1, incumbent)
        finally:
            progress.close()
            executor.close()
            if self.in_flight:  # interrupted: these run again on resume
                store.requeue(sorted(self.in_flight))

    def _remember(self, trial_id: int, tree: Tree, seed: int) -> None:
        self.trees[trial_id] = tree
        self.seeds[trial_id] = seed

    def _ask(self) -> int:
        """A new trial from the searcher, stored (with the searcher state) before it runs."""
        from hnas.searchers import SpaceExhaustedError

        try:
            tree = self.searcher.ask()
        except SpaceExhaustedError as error:
            raise RunError(str(error)) from None
        seed_of = lambda trial_id: trial_seed(self.config.seed, trial_id)  # noqa: E731
        key = None if self.searcher.canonical_key is None else self.searcher.key(tree)
        trial_id, seed = self.store.add_trial(self.space.to_string(tree), seed_of, self.searcher.checkpoint(), key)
        self._remember(trial_id, tree, seed)
        return trial_id


def _best_trial(store: RunStore) -> Trial | None:
    done = store.trials(TrialStatus.DONE)
    return min(done, key=lambda t: (t.objective, t.id)) if done else None


def run_search(
    config: RunConfig,
    working_directory: str | os.PathLike[str] | None = None,
    *,
    progress: bool = False,
    executor: Executor | None = None,
) -> RunSummary:
    """Run (or resume, or summarise) the search of ``config`` in ``working_directory``.

    A new directory starts a run; a directory holding the same configuration continues it
    (``max_evaluations_total`` may be raised); another configuration raises
    :class:`ConfigMismatchError` naming the differing keys. Ctrl-C stops cleanly: the summary
    has ``interrupted`` set and the run resumes with the same call. ``executor`` replaces the
    one chosen from ``n_workers`` / ``dask_scheduler`` (it must evaluate ``config.objective``).
    """
    config.validate()
    directory = Path(working_directory) if working_directory is not None else default_working_directory(config)
    directory = directory.resolve()
    with _exclusive(directory):
        store = RunStore(directory)
        try:
            record = config.to_record()
            stored = store.config()
            if stored is not None and store.count() > 0:  # a store without trials takes a new config
                differences = config_differences(stored, record)
                if differences:
                    raise ConfigMismatchError(str(directory), differences)
            search = _Search(config, store, executor, progress)  # a bad searcher option fails here
            if stored != record:
                resolve_objective(search.objective)  # a bad objective fails before the record is stored
                store.set_config(record)
            interrupted = False
            try:
                with _sigterm_interrupts():
                    search.run()
            except KeyboardInterrupt:
                interrupted = True
            return _summarise(store, config, directory, interrupted)
        finally:
            store.close()


def _summarise(store: RunStore, config: RunConfig, directory: Path, interrupted: bool) -> RunSummary:
    trials = store.trials()
    csv_path, plots = write_results(directory, trials)
    return RunSummary(
        working_directory=directory,
        max_evaluations_total=config.max_evaluations_total,
        n_done=sum(t.status == TrialStatus.DONE for t in trials),
        n_failed=sum(t.status == TrialStatus.FAILED for t in trials),
        best=_best_trial(store),
        run_seconds=store.run_seconds(),
        interrupted=interrupted,
        results_csv=csv_path,
        plots=plots,
    )
