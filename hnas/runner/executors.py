"""Where evaluations run: in the driver process, in a local pool of worker processes, or on a Dask
cluster. The driver alone writes the run store; executors only run :func:`evaluate_trial`.

Every executor has ``capacity()`` (how many evaluations may run at once), ``submit(task)`` and
``next_event()``, which blocks until an evaluation ends and returns ``(trial_id, outcome)``;
``outcome`` is a :class:`LostEvaluation` when the process evaluating it died (a segfault, the
out-of-memory killer, ``os._exit`` in user code), so the driver re-queues it or, after a few
such deaths, records the trial as failed.

Named objectives (:class:`~hnas.runner.evaluation.ObjectiveSpec`, what the command line always
uses) are evaluated in worker processes even with ``n_workers=1``, so a dying evaluation cannot
take the driver with it; the worker is reused between trials (its start-up is paid once per run).
Worker processes end as soon as their driver is gone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from hnas.grammar.tree import Tree
from hnas.runner.errors import RunError
from hnas.runner.evaluation import DEFAULT_TORCH_THREADS, ObjectiveSpec, apply_thread_settings, evaluate_trial

__all__ = [
    "Task",
    "LostEvaluation",
    "Executor",
    "InProcessExecutor",
    "LocalPoolExecutor",
    "DaskExecutor",
    "make_executor",
]


@dataclass(frozen=True)
class LostEvaluation:
    """An evaluation that never reported: the process running it died; ``reason`` says how."""

    reason: str


Event = tuple[int, "dict[str, Any] | LostEvaluation"]


@dataclass(frozen=True)
class Task:
    """One evaluation to run: the trial's id, tree and evaluation seed, and for a multi-fidelity
    job its :class:`~hnas.objectives.budget.TrainingBudget` (``None``: the objective's training)."""

    trial_id: int
    tree: Tree
    seed: int
    budget: Any = None


class Executor(Protocol):
    def capacity(self) -> int: ...

    def submit(self, task: Task) -> str: ...

    def next_event(self) -> Event: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Evaluations run one at a time in the driver process (an objective object with one worker)."""

    def __init__(self, objective: Any, torch_threads: int | None = None) -> None:
        self._objective = objective
        self._threads = torch_threads
        self._task: Task | None = None

    def capacity(self) -> int:
        return 1

    def submit(self, task: Task) -> str:
        self._task = task
        return "driver"

    def next_event(self) -> Event:
        task, self._task = self._task, None
        if task is None:
            raise RuntimeError("next_event() without a submitted task")
        return task.trial_id, evaluate_trial(self._objective, task.tree, task.seed, self._threads, task.budget)

    def close(self) -> None:
        self._task = None


def _worker_main(connection: Connection, objective: Any, torch_threads: int, driver_pid: int) -> None:
    """A worker process: it ends with its driver, leaves Ctrl-C to the driver, says it is ready,
    then evaluates tasks until told to stop. A driver that is gone ends it quietly."""
    _end_with_driver(driver_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    apply_thread_settings(torch_threads)
    try:
        connection.send(_READY)
        while True:
            task = connection.recv()
            if task is None:
                return
            connection.send((task.trial_id, evaluate_trial(objective, task.tree, task.seed, budget=task.budget)))
    except (EOFError, OSError):  # the driver closed the pipe or died: nothing to report to
        return


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = f" ({signal.Signals(-exitcode).name})"
        except ValueError:
            name = ""
        return f"the evaluation process died: signal {-exitcode}{name}"
    return f"the evaluation process exited with code {exitcode}"


_PR_SET_PDEATHSIG = 1


def _end_with_driver(driver_pid: int) -> None:
    """Make this process end as soon as the process ``driver_pid`` (its parent) is gone: the
    kernel sends SIGKILL on Linux; elsewhere a thread watches the parent id."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != driver_pid:  # the driver died before the signal was armed
                os._exit(0)
            return

    def watch() -> None:
        while os.getppid() == driver_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="hnas-driver-watch", daemon=True).start()


_READY = "ready"
_SUBMIT_TRIES = 3


def _exited_before_ready(process: Any) -> RunError:
    return RunError(
        f"a worker process exited (code {process.exitcode}) before it was ready; a script "
        "that starts a run with n_workers > 1 needs an `if __name__ == '__main__':` guard"
    )


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Worker:
    def __init__(self, context: Any, objective: Any, torch_threads: int) -> None:
        self.connection, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_worker_main, args=(child, objective, torch_threads, os.getpid()), daemon=True
        )
        try:
            with _sigint_ignored():  # inherited: Ctrl-C while the worker starts is the driver's alone
                self.process.start()
        except Exception as error:  # the objective does not pickle
            raise RunError(f"cannot start a worker process with this objective: {type(error).__name__}: {error}") from None
        finally:
            child.close()
        self.trial_id: int | None = None
        self.ready = False

    def await_ready(self) -> None:
        """Block until the worker says it is ready; RunError when it exits first."""
        wait([self.connection, self.process.sentinel])
        try:
            self.ready = self.connection.poll() and self.connection.recv() == _READY
        except (EOFError, OSError):
            self.ready = False
        if not self.ready:
            self.process.join(timeout=10)
            raise _exited_before_ready(self.process)

    def stop(self, *, kill: bool) -> None:
        if self.process.is_alive():
            if kill:
                self.process.kill()
            else:
                try:
                    self.connection.send(None)
                except (BrokenPipeError, OSError):
                    self.process.kill()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class LocalPoolExecutor:
    """``n_workers`` spawned processes (``torch_threads`` torch threads each, default 1), fed
    asynchronously: a task goes to an idle worker, a ready one first (the pool waits for all of
    them to start). A worker that dies mid-evaluation is replaced and its evaluation reported
    lost; one that died while idle is replaced when a task is handed to it."""

    def __init__(self, objective: Any, n_workers: int, torch_threads: int | None = None) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._objective = objective
        self._threads = torch_threads or DEFAULT_TORCH_THREADS
        self._workers = [_Worker(self._context, objective, self._threads) for _ in range(n_workers)]
        try:
            for worker in self._workers:
                worker.await_ready()
        except BaseException:  # Ctrl-C or a worker that could not start: stop the others now
            for worker in self._workers:
                worker.stop(kill=True)
            raise

    def capacity(self) -> int:
        return len(self._workers)

    def submit(self, task: Task) -> str:
        for _ in range(_SUBMIT_TRIES):
            idle = [worker for worker in self._workers if worker.trial_id is None]
            if not idle:
                raise RuntimeError("submit() with every worker busy")
            worker = next((w for w in idle if w.ready), idle[0])
            try:
                worker.connection.send(task)
            except (BrokenPipeError, OSError):  # it died while idle
                self._replace(worker)
                continue
            worker.trial_id = task.trial_id
            return f"local:{worker.process.pid}"
        raise RunError(f"worker processes died {_SUBMIT_TRIES} times in a row before taking a task")

    def next_event(self) -> Event:
        while True:
            busy = [worker for worker in self._workers if worker.trial_id is not None]
            if not busy:
                raise RuntimeError("next_event() without a submitted task")
            waitables: dict[Any, _Worker] = {}
            for worker in busy:
                waitables[worker.connection] = worker
                waitables[worker.process.sentinel] = worker
            ready = {id(w): w for w in (waitables[r] for r in wait(list(waitables)))}
            for worker in sorted(ready.values(), key=lambda w: w.trial_id):
                event = self._receive(worker)
                if event is not None:
                    return event

    def _receive(self, worker: _Worker) -> Event | None:
        """The worker's finished or lost evaluation, or None (it only said it is ready)."""
        trial_id = worker.trial_id
        if worker.connection.poll():
            try:
                message = worker.connection.recv()
            except (EOFError, OSError):
                pass
            else:
                if message == _READY:
                    worker.ready = True
                    return None
                worker.trial_id = None
                return message
        if worker.process.is_alive():
            return None  # the pipe closed first; the sentinel fires next
        if not worker.ready:
            raise _exited_before_ready(worker.process)
        reason = _death_reason(worker.process.exitcode)
        self._replace(worker)
        return trial_id, LostEvaluation(reason)

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        index = self._workers.index(worker)
        self._workers[index] = _Worker(self._context, self._objective, self._threads)

    def close(self) -> None:
        kill = any(worker.trial_id is not None for worker in self._workers)
        for worker in self._workers:
            worker.stop(kill=kill)


class DaskExecutor:
    """Evaluations on an existing ``dask.distributed`` cluster (optional extra ``dist``).

    An evaluation stops as soon as the scheduler releases its task (the driver died or cancelled
    it). Dask re-runs a task whose worker died on another worker; a task dask gives up on
    (``KilledWorker``) is reported lost, so the driver re-queues it.
    """

    def __init__(self, objective: Any, address: str, torch_threads: int | None = None, timeout: float = 30.0) -> None:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise RunError(
                "--dask_scheduler needs dask.distributed: pip install 'hnas[dist]'"
            ) from None
        try:
            self._client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise RunError(f"cannot reach the dask scheduler at {address}: {error}") from None
        self._objective = objective
        self._threads = torch_threads or DEFAULT_TORCH_THREADS
        self._futures: dict[Any, int] = {}
        self._completed = as_completed(loop=self._client.loop)
        self._submitted = 0

    def capacity(self) -> int:
        return max(1, sum(self._client.nthreads().values()))

    def submit(self, task: Task) -> str:
        self._submitted += 1
        future = self._client.submit(
            _evaluate_while_wanted,
            self._objective,
            task.tree,
            task.seed,
            self._threads,
            task.budget,
            key=f"hnas-trial-{task.trial_id}-{os.getpid()}-{self._submitted}",
            pure=False,
        )
        self._futures[future] = task.trial_id
        self._completed.add(future)
        return "dask"

    def next_event(self) -> Event:
        if not self._futures:
            raise RuntimeError("next_event() without a submitted task")
        future = next(self._completed)
        trial_id = self._futures.pop(future)
        if future.status == "finished":
            return trial_id, future.result()
        from distributed.scheduler import KilledWorker

        if future.status == "cancelled":
            return trial_id, LostEvaluation("the Dask task was cancelled")
        error = future.exception()
        if isinstance(error, KilledWorker):
            return trial_id, LostEvaluation(f"the Dask worker died ({error})")
        return trial_id, {"result": None, "error": f"{type(error).__name__}: {error}", "eval_seconds": None}

    def close(self) -> None:
        if self._futures:
            self._client.cancel(list(self._futures))
        self._futures.clear()
        self._client.close()


class _DriverGone(BaseException):
    """Raised in a Dask worker's evaluating thread once no driver wants its result."""


_LIVE_TASK_STATES = ("executing", "long-running")


def _evaluate_while_wanted(
    objective: Any, tree: Tree, seed: int, torch_threads: int | None, budget: Any = None
) -> dict[str, Any]:
    """:func:`evaluate_trial` as a Dask task that stops (at the next Python step of the evaluation)
    as soon as the scheduler releases it: its driver died or cancelled it, so no orphan evaluation
    keeps the worker busy."""
    from distributed import get_worker

    worker = get_worker()
    key = worker.get_current_task()
    target, lock, done = threading.get_ident(), threading.Lock(), threading.Event()

    def watch() -> None:  # raises again every second: a library may swallow one stop
        while not done.wait(1.0):
            task = worker.state.tasks.get(key)
            if task is None or task.state not in _LIVE_TASK_STATES:
                with lock:
                    if not done.is_set():
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(_DriverGone))

    threading.Thread(target=watch, name="hnas-driver-watch", daemon=True).start()
    try:
        return evaluate_trial(objective, tree, seed, torch_threads, budget)
    except _DriverGone:
        return {"result": None, "error": "stopped: no driver wants this result", "eval_seconds": None}
    finally:
        with lock:  # no stop may reach this thread once it has left the evaluation
            done.set()
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)


def make_executor(objective: Any, n_workers: int, dask_scheduler: str | None, torch_threads: int | None) -> Executor:
    """The executor for a run: Dask when a scheduler is given, else a local pool of ``n_workers``
    processes; an objective object (not a name) with ``n_workers=1`` runs in the driver process
    (it need not pickle, and it is the caller's own code)."""
    if dask_scheduler is not None:
        return DaskExecutor(objective, dask_scheduler, torch_threads)
    if n_workers > 1 or isinstance(objective, ObjectiveSpec):
        return LocalPoolExecutor(objective, n_workers, torch_threads)
    return InProcessExecutor(objective, torch_threads)
