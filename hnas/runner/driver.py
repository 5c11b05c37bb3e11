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

from hnas.errors import EXIT_INTERRUPTED
from hnas.grammar.tree import Tree
from hnas.runner.config import RunConfig, config_differences
from hnas.runner.errors import ConfigMismatchError, RunConfigError, RunError, RunLockedError
from hnas.runner.evaluation import ObjectiveSpec, resolve_objective
from hnas.runner.executors import Executor, LostEvaluation, Task, make_executor
from hnas.runner.fidelity import FidelityRun, check_fidelity_objective, is_multi_fidelity
from hnas.runner.folders import create_folder, remove_folders
from hnas.runner.objective_vectors import TrialCosts, with_latency
from hnas.runner.pareto_results import write_pareto_results
from hnas.runner.results import architecture_outline, best_trial, shorten, write_results
from hnas.runner.store import STORE_FILENAME, RunStore, Trial, TrialStatus, remove_store

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace
    from hnas.searchers import Searcher

__all__ = [
    "RunSummary", "run_search", "default_working_directory", "lock_run_directory", "format_duration",
    "build_searcher", "restore_searcher", "MAX_ATTEMPTS", "LOG_FLOOR", "EXIT_ALL_FAILED", "EXIT_INTERRUPTED",
]  # fmt: skip

MAX_ATTEMPTS = 3
"""Evaluations of one trial lost to dying workers (in one session) before the trial is recorded as
failed; evaluations cut short by stopping or killing the driver do not count."""

LOG_FLOOR = 1e-4
"""With ``log``, the objective is ``log(max(val_error, LOG_FLOOR))`` (a zero error stays finite)."""


EXIT_ALL_FAILED = 3
"""The exit status of ``optimize.py`` when the run has evaluations but not one succeeded."""


@dataclass(frozen=True)
class RunSummary:
    """Where a run stands: counts, the best trial, and where its results are.

    ``n_unfinished`` counts trials asked but not evaluated (in flight when the run was stopped;
    they run again on resume); ``best_file`` holds the best architecture's full bracket string.
    """

    working_directory: Path
    max_evaluations_total: int
    n_done: int
    n_failed: int
    best: Trial | None
    run_seconds: float
    interrupted: bool
    results_csv: Path
    plots: tuple[Path, ...]
    n_unfinished: int = 0
    best_file: Path | None = None
    first_error: str | None = None
    notes: tuple[str, ...] = ()
    """Further lines of the summary (the Pareto front of a run with several objectives)."""
    exhausted: str | None = None
    """Why the searcher found no new architecture to evaluate (the run ended early), or None."""

    @property
    def n_evaluations(self) -> int:
        return self.n_done + self.n_failed

    @property
    def finished(self) -> bool:
        """All evaluations done, or every architecture the searcher could find evaluated."""
        return self.n_evaluations >= self.max_evaluations_total or (
            self.exhausted is not None and not self.n_unfinished
        )

    @property
    def exit_code(self) -> int:
        """0, :data:`EXIT_INTERRUPTED`, or :data:`EXIT_ALL_FAILED` when every evaluation failed."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_ALL_FAILED if self.n_done == 0 and self.n_failed > 0 else 0

    def __str__(self) -> str:
        state = "interrupted" if self.interrupted else ("finished" if self.finished else "stopped")
        lines = [
            f"run {state}: {self.n_evaluations}/{self.max_evaluations_total} evaluations "
            f"({self.n_failed} failed) in {format_duration(self.run_seconds)}",
        ]
        if self.exhausted is not None and not self.interrupted:
            lines.append(f"the run ended early: {self.exhausted}")
        if self.n_unfinished:
            lines.append(f"{self.n_unfinished} evaluation(s) in progress were stopped; they run again on resume")
        if self.best is None and self.n_failed:
            lines.append(f"no architecture was evaluated successfully: all {self.n_failed} evaluations failed")
            if self.first_error:
                lines.append(f"first error: {shorten(self.first_error.strip().splitlines()[0], 200)}")
        elif self.best is None:
            lines.append("no architecture was evaluated successfully yet")
        else:
            lines += [
                f"best architecture (trial {self.best.id}): {_architecture_facts(self.best)}"
                + (f", full string in {self.best_file}" if self.best_file else ""),
                *("  " + line for line in architecture_outline(self.best.architecture)),
                f"validation error: {_fmt(self.best.val_error)}  test error: {_fmt(self.best.test_error)}"
                f"  objective: {_fmt(self.best.objective)}",
            ]
        lines += self.notes
        lines.append(f"results: {self.results_csv}, plots: {', '.join(str(p) for p in self.plots)}")
        if self.interrupted or not self.finished:
            lines.append(f"rerun the same command to continue (run store: {self.working_directory})")
        return "\n".join(lines)


def _architecture_facts(trial: Trial) -> str:
    nodes = trial.architecture.count("(")
    facts = [f"{nodes} tree nodes"]
    if trial.params is not None:
        facts.append(f"{trial.params:,} parameters")
    return ", ".join(facts)


def format_duration(seconds: float) -> str:
    """``12.3 s``, ``9 min 03 s`` or ``2 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def default_working_directory(config: RunConfig) -> Path:
    """``runs/<searcher>-<space>-<objective>-seed<N>`` under the current directory."""
    objective = config.objective_label.replace("/", "_")
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
def lock_run_directory(working_directory: Path) -> Iterator[Path | None]:
    """Hold the lock of the run in ``working_directory`` (RunLockedError when another process holds
    it); yields the lock file's path when this call created it (a new run), else None."""
    lock = working_directory / ".lock"
    existed = lock.exists()
    try:
        handle = open(lock, "a")
    except OSError as error:
        raise RunError(f"cannot write in the working directory {working_directory}: {error.strerror}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"another process is running the search in {working_directory}") from None
        yield None if existed else lock


def _objective_for_workers(config: RunConfig) -> Any:
    if config.objective is None or isinstance(config.objective, str):
        options = tuple(sorted(config.objective_kwargs().items()))
        return ObjectiveSpec(config.objective_name, config.data_path, options, tuple(config.plugins))
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
    if checkpoint is None:  # a new run, or a salvaged store without a searcher state: learn the results again
        for trial in store.trials(TrialStatus.FINISHED):
            searcher.tell(searcher.space.parse(trial.architecture), _told_loss(searcher, trial))
        return
    if "history" in checkpoint:  # a store of an older version: the whole searcher was pickled
        checkpoint = _upgrade_checkpoint(checkpoint, store, searcher.space)
    parse = searcher.space.parse
    told = ((parse(t.architecture), _told_loss(searcher, t), t.canonical_key) for t in store.told_trials())
    pending = ((parse(t.architecture), t.canonical_key) for t in store.trials((TrialStatus.PENDING, TrialStatus.RUNNING)))
    searcher.restore(checkpoint, told, pending)


def _told_loss(searcher: Searcher, trial: Trial) -> Any:
    """What ``searcher`` was told for a finished trial: its loss vector or its objective."""
    return trial.objectives if searcher.multi_objective and trial.objectives is not None else trial.objective


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
        multi = is_multi_fidelity(self.searcher)
        self.fidelity = FidelityRun(self.searcher, store, self.space, config.fidelity) if multi else None
        if self.fidelity is None:
            restore_searcher(self.searcher, store)
        self.objective = with_latency(_objective_for_workers(config), config)
        self.costs = TrialCosts.for_config(config, _objective_for_workers(config))
        self._executor = executor
        self._progress_enabled = progress
        self._session_start = time.monotonic()
        self._seconds_before = store.run_seconds()
        self.trees: dict[int, Tree] = {}
        self.seeds: dict[int, int] = {}
        self.in_flight: set[int] = set()
        self.exhausted: str | None = None
        """Why the last ask found no new architecture (cleared by a successful ask)."""

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

    def results_of(self, trial_id: int, outcome: dict[str, Any]) -> tuple[float | None, Any, dict[str, Any]]:
        """:meth:`loss_of`, with the counted costs and the loss vector of a run with ``objectives``:
        ``(loss, loss vector or None, outcome to store)``; the loss is the vector's first entry."""
        if self.costs is None:
            loss, outcome = self.loss_of(outcome)
            return loss, None, outcome
        loss, outcome = self.loss_of(self.costs.with_costs(trial_id, self.trees[trial_id], outcome))
        vector, outcome = self.costs.vector(loss, outcome)
        if vector is None and self.config.objectives:
            return None, None, outcome  # failed, or a named value is missing
        return (loss if vector is None else vector[0]), vector, outcome

    def run(self) -> None:
        store, config = self.store, self.config
        store.requeue()
        queue: deque[int] = deque()
        ready: deque[tuple[int, dict[str, Any]]] = deque()  # infeasible trials: finished without evaluation
        lost: Counter[int] = Counter()  # evaluations lost to a dying worker, per trial
        for trial in store.trials(TrialStatus.PENDING):
            self._remember(trial.id, self.space.parse(trial.architecture), trial.seed)
            queue.append(trial.id)
        evaluated = store.count(TrialStatus.FINISHED)
        if evaluated >= config.max_evaluations_total:
            return
        # Build the objective here first, so a bad name, option or data file is one clear error.
        _checked_objective(config, self.objective)
        executor = self._executor or make_executor(
            self.objective, config.n_workers, config.dask_scheduler, config.torch_threads
        )
        best = _best_trial(store)
        incumbent = None if best is None else best.objective
        progress = _Progress(self._progress_enabled, config.max_evaluations_total, evaluated, incumbent)
        exhausted_at = -1  # the number of evaluations when an ask last found nothing new
        try:
            while evaluated < config.max_evaluations_total:
                while (
                    len(self.in_flight) < executor.capacity()
                    and evaluated + len(self.in_flight) < config.max_evaluations_total
                ):
                    if queue:
                        trial_id = queue.popleft()
                    elif exhausted_at == evaluated:
                        break  # nothing was told since: asking again finds nothing new either
                    else:
                        trial_id = self._ask()
                        if trial_id is None:
                            exhausted_at = evaluated
                            break
                    if self._infeasible(trial_id, ready):
                        continue
                    budget = None if self.fidelity is None else self.fidelity.budget(trial_id)
                    worker = executor.submit(Task(trial_id, self.trees[trial_id], self.seeds[trial_id], budget))
                    store.mark_running(trial_id, worker)
                    self.in_flight.add(trial_id)
                if not self.in_flight:
                    break  # the searcher has nothing left to evaluate
                trial_id, outcome = ready.popleft() if ready else executor.next_event()
                if isinstance(outcome, LostEvaluation):  # run it again, unless it keeps killing its process
                    lost[trial_id] += 1
                    if lost[trial_id] < MAX_ATTEMPTS:
                        store.requeue([trial_id])
                        self.in_flight.discard(trial_id)
                        queue.appendleft(trial_id)
                        continue
                    outcome = {"result": None, "error": f"{outcome.reason}, in each of {MAX_ATTEMPTS} evaluations"}
                loss, vector, outcome = self.results_of(trial_id, outcome)
                told = vector if self.searcher.multi_objective else loss
                self.searcher.tell(self.trees[trial_id] if self.fidelity is None else self.fidelity.job(trial_id), told)
                store.finish_trial(trial_id, outcome, loss, self.searcher.checkpoint(), self.run_seconds(), vector)
                if self.fidelity is not None:
                    self.fidelity.finished(trial_id, loss is not None)
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
            store.set_run_seconds(self.run_seconds())  # also the time of evaluations cut short

    def _infeasible(self, trial_id: int, ready: deque[tuple[int, dict[str, Any]]]) -> bool:
        """Whether the trial breaks a cost constraint: then it is queued in ``ready`` as failed,
        in flight but never evaluated."""
        rejected = None if self.costs is None else self.costs.screen(trial_id, self.trees[trial_id])
        if rejected is not None:
            ready.append((trial_id, rejected))
            self.in_flight.add(trial_id)
        return rejected is not None

    def _remember(self, trial_id: int, tree: Tree, seed: int) -> None:
        self.trees[trial_id] = tree
        self.seeds[trial_id] = seed

    def _ask(self) -> int | None:
        """A new trial from the searcher, stored (with the searcher state) before it runs; None
        when the searcher finds no new architecture (``self.exhausted`` says why)."""
        from hnas.searchers import SpaceExhaustedError

        try:
            asked = self.searcher.ask()
        except SpaceExhaustedError as error:
            self.exhausted = str(error)
            return None
        self.exhausted = None
        tree = asked if self.fidelity is None else asked.tree
        seed_of = lambda trial_id: trial_seed(self.config.seed, trial_id)  # noqa: E731
        key = None if self.searcher.canonical_key is None else self.searcher.key(tree)
        if self.fidelity is None:
            trial_id, seed = self.store.add_trial(self.space.to_string(tree), seed_of, self.searcher.checkpoint(), key)
        else:
            trial_id, seed = self.fidelity.add_trial(asked, seed_of, self.searcher.checkpoint(), key)
        self._remember(trial_id, tree, seed)
        return trial_id


def _checked_objective(config: RunConfig, objective: Any) -> Any:
    """The built objective; :class:`RunConfigError` when ``log`` is set but the objective declares
    that its values can be negative (``nonnegative = False``), before anything is evaluated."""
    built = resolve_objective(objective)
    if config.log and getattr(built, "nonnegative", None) is False:
        raise RunConfigError(
            f"log: objective {config.objective_name} can report negative values, whose log is undefined; "
            "run without --log (log=False)",
            field="log",
        )
    check_fidelity_objective(config, built)
    return built


def _best_trial(store: RunStore) -> Trial | None:
    return best_trial(store.trials(TrialStatus.DONE))


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
    created = create_folder(directory, "the working directory")
    try:
        with lock_run_directory(directory) as new_lock:
            try:
                return _open_and_run(config, directory, executor, progress)
            except BaseException:
                if new_lock is not None:
                    new_lock.unlink(missing_ok=True)
                raise
    except BaseException:
        remove_folders(created)  # a failed start leaves the folder as it found it
        raise


def _open_and_run(config: RunConfig, directory: Path, executor: Executor | None, progress: bool) -> RunSummary:
    new_store = not (directory / STORE_FILENAME).exists()
    store = RunStore(directory)
    try:
        return _start_and_run(config, store, directory, executor, progress)
    except BaseException:
        if new_store and store.is_empty():  # a failed start leaves no store behind
            store.close()
            remove_store(directory)
        raise
    finally:
        store.close()


def _start_and_run(
    config: RunConfig, store: RunStore, directory: Path, executor: Executor | None, progress: bool
) -> RunSummary:
    stored = store.config()
    if stored is not None and stored.get("plugins"):  # a resumed run loads its plugins again
        config = config.replace(plugins=(*stored["plugins"], *config.plugins))
    record = config.to_record()
    if stored is not None and store.count() > 0:  # a store without trials takes a new config
        differences = config_differences(stored, record)
        if differences:
            raise ConfigMismatchError(str(directory), differences)
    search = _Search(config, store, executor, progress)  # a bad searcher option fails here
    if stored != record:
        _checked_objective(config, search.objective)  # a bad objective fails before the record is stored
        store.set_config(record)
    interrupted = False
    try:
        with _sigterm_interrupts():
            search.run()
    except KeyboardInterrupt:
        interrupted = True
    return _summarise(store, config, directory, interrupted, search.exhausted)


def _summarise(
    store: RunStore, config: RunConfig, directory: Path, interrupted: bool, exhausted: str | None
) -> RunSummary:
    trials = store.trials()
    files = write_results(directory, trials, config)
    pareto = write_pareto_results(directory, trials, config) if config.objectives else None
    failed = [t for t in trials if t.status == TrialStatus.FAILED]
    return RunSummary(
        working_directory=directory,
        max_evaluations_total=config.max_evaluations_total,
        n_done=sum(t.status == TrialStatus.DONE for t in trials),
        n_failed=len(failed),
        best=_best_trial(store),
        run_seconds=store.run_seconds(),
        interrupted=interrupted,
        results_csv=files.csv,
        plots=files.plots + (pareto.plots if pareto else ()),
        n_unfinished=sum(t.status not in TrialStatus.FINISHED for t in trials),
        best_file=files.best_architecture,
        first_error=failed[0].error if failed else None,
        notes=pareto.lines if pareto else (),
        exhausted=exhausted,
    )
