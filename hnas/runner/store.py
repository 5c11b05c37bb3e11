"""The run store: one sqlite database per working directory (``trials.sqlite``).

It holds the trials, the run configuration (JSON) and the searcher's checkpoint (pickled, O(1) in
the number of trials: its generator state and own small state). The searcher itself is rebuilt on
restart from the trials (told results in their ``told`` order, pending trials in id order) and the
checkpoint. The checkpoint is written in the same transaction as the trial it changed (a new
trial after ``ask``, a finished one, with its ``told`` number, after ``tell``), so a process
killed at any moment leaves a consistent store: on restart the searcher continues from the last
committed state and unfinished trials run again. ``canonical_key`` holds each trial's key when the
run uses one.
Only the driver process writes; :func:`load_trials` reads a store without changing it.

A new store is created complete (schema written to a temporary file, then renamed), so an empty or
truncated ``trials.sqlite`` is always damage. Opening a store checks it: an empty, truncated or
foreign file, a write-ahead log (``trials.sqlite-wal``) with corrupt frames before valid ones, a
page that fails sqlite's check, a row or searcher state that does not decode: each is a
:class:`StoreDamagedError` naming the file and the problem (``hnas salvage`` copies what is still
readable into a new store).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hnas.runner.errors import RunError, StoreDamagedError

__all__ = [
    "STORE_FILENAME",
    "TrialStatus",
    "Trial",
    "RunStore",
    "load_trials",
    "load_config",
    "find_runs",
    "done_rows",
    "remove_store",
    "check_store_files",
    "wal_valid_length",
]

STORE_FILENAME = "trials.sqlite"
_SCHEMA_VERSION = 2


class TrialStatus:
    """The states of a trial: pending -> running -> done | failed (running -> pending on re-queue)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    FINISHED = (DONE, FAILED)
    ALL = (PENDING, RUNNING, DONE, FAILED)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    architecture TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    seed INTEGER NOT NULL,
    objective REAL,
    val_error REAL,
    test_error REAL,
    params INTEGER,
    flops REAL,
    cost REAL,
    train_time REAL,
    epochs INTEGER,
    eval_seconds REAL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    run_seconds REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    error TEXT,
    learning_curve TEXT,
    extras TEXT,
    canonical_key TEXT,
    told INTEGER
);
CREATE INDEX IF NOT EXISTS trials_status ON trials (status);
CREATE INDEX IF NOT EXISTS trials_told ON trials (told);
"""
_ADDED_COLUMNS = {"canonical_key": "TEXT", "told": "INTEGER"}
"""Columns newer than schema version 1: added to older stores when they are opened for writing."""
_ADDED_COLUMNS.update(budget_epochs="INTEGER", rung="INTEGER", bracket="INTEGER", continues="INTEGER")
"""Multi-fidelity jobs (:mod:`hnas.runner.fidelity`): epochs trained to, rung, bracket, the trial continued."""
_ADDED_COLUMNS.update(objectives="TEXT")
"""Multi-objective runs: the loss vector told to the searcher (JSON)."""
_ADDED_COLUMNS.update(budget_kind="TEXT")
"""Multi-fidelity jobs: what ``budget_epochs`` counts, ``epochs`` or ``train_subset`` (images)."""
_INDEXES = "CREATE INDEX IF NOT EXISTS trials_told ON trials (told);"


@dataclass(frozen=True)
class Trial:
    """One row of the trials table.

    ``objective`` is the loss told to the searcher (the validation error, or its log with
    ``log``); ``cost`` the training time reported by the objective (else the evaluation's wall
    time); ``run_seconds`` the run's active wall time when the trial finished; ``attempts`` how
    many times an evaluation was started (more than one after a crash or a lost worker);
    ``canonical_key`` the architecture's canonical key (``None`` without one); ``told`` the
    position of its result among the results told to the searcher (``None`` until finished).
    Multi-fidelity runs (:mod:`hnas.runner.fidelity`) also fill ``budget_epochs`` (the epochs the
    job trains to), ``rung``, ``bracket`` and ``continues`` (the trial whose checkpoint it continues),
    and ``budget_kind``: ``train_subset`` when ``budget_epochs`` counts training images instead
    (``epochs``, or ``None`` in stores older than this column: epochs).
    ``objectives`` is the loss vector of a run with ``objectives`` (``objective`` is then its first
    entry), ``None`` otherwise.
    """

    id: int
    architecture: str
    status: str
    seed: int
    objective: float | None = None
    val_error: float | None = None
    test_error: float | None = None
    params: int | None = None
    flops: float | None = None
    cost: float | None = None
    train_time: float | None = None
    epochs: int | None = None
    eval_seconds: float | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    run_seconds: float | None = None
    attempts: int = 0
    worker: str | None = None
    error: str | None = None
    learning_curve: list[float] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    canonical_key: str | None = None
    told: int | None = None
    budget_epochs: int | None = None
    rung: int | None = None
    bracket: int | None = None
    continues: int | None = None
    objectives: list[float] | None = None
    budget_kind: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Trial:
        """The trial of a row (columns a newer store added and an older one lacks take their
        defaults); a ValueError naming the trial and column for a value of the wrong type or a bad
        status or JSON (SQLite stores any type in any column: a hand-edited or damaged row)."""
        values = {name: row[name] for name in row.keys() if name in _COLUMN_TYPES}
        for column, value in values.items():
            kinds = _COLUMN_TYPES[column]
            if value is not None and not isinstance(value, kinds):
                raise ValueError(f"trial {values.get('id')}: column {column} holds {value!r}, "
                                 f"not {' or '.join(k.__name__ for k in kinds)}")
        if values.get("status") not in TrialStatus.ALL:
            raise ValueError(f"trial {values.get('id')}: unknown status {values.get('status')!r}")
        try:
            values["learning_curve"] = [float(v) for v in json.loads(values.get("learning_curve") or "[]")]
            values["extras"] = dict(json.loads(values.get("extras") or "{}"))
            objectives = values.get("objectives")
            values["objectives"] = None if objectives is None else [float(v) for v in json.loads(objectives)]
        except (TypeError, ValueError) as error:
            raise ValueError(f"trial {values.get('id')}: {error}") from None
        return cls(**values)


_NUMBER = (int, float)
_COLUMN_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,), "architecture": (str,), "status": (str,), "seed": (int,), "objective": _NUMBER,
    "val_error": _NUMBER, "test_error": _NUMBER, "params": (int,), "flops": _NUMBER, "cost": _NUMBER,
    "train_time": _NUMBER, "epochs": (int,), "eval_seconds": _NUMBER, "created_at": _NUMBER,
    "started_at": _NUMBER, "finished_at": _NUMBER, "run_seconds": _NUMBER, "attempts": (int,),
    "worker": (str,), "error": (str,), "learning_curve": (str,), "extras": (str,), "canonical_key": (str,),
    "told": (int,), "budget_epochs": (int,), "rung": (int,), "bracket": (int,), "continues": (int,),
    "objectives": (str,), "budget_kind": (str,),
}  # fmt: skip
"""What each column of a trial row may hold besides NULL (JSON columns are text)."""


def _connect(path: Path, *, read_only: bool, immutable: bool = False) -> sqlite3.Connection:
    """``immutable``: SQLite neither locks nor makes a shared-memory file (a read-only folder)."""
    if read_only:
        flags = "mode=ro&immutable=1" if immutable else "mode=ro"
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, isolation_level=None)
    else:
        connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # durable across process kills in WAL mode
    connection.row_factory = sqlite3.Row
    return connection


SQLITE_HEADER = b"SQLite format 3\x00"
_WAL_MAGIC = (0x377F0682, 0x377F0683)
_WAL_HEADER, _FRAME_HEADER = 32, 24


def _store_path(run_dir: str | Path) -> Path:
    path = Path(run_dir) / STORE_FILENAME
    if not path.is_file():
        raise RunError(f"no run store in {run_dir} (expected the file {path})")
    return path


def check_store_files(path: Path) -> None:
    """StoreDamagedError when the store file at ``path`` is empty, truncated or not sqlite, or its
    write-ahead log holds corrupt frames before valid ones (checked without opening it)."""
    run_dir = path.parent
    if path.is_dir():
        raise RunError(f"{path} is a folder, not a run store")
    with open(path, "rb") as handle:
        header = handle.read(100)
    size = path.stat().st_size
    if size == 0:
        raise StoreDamagedError(path, "the file is empty (0 bytes); a run store is never empty", run_dir)
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise StoreDamagedError(path, "it is not an SQLite database (its header is wrong)", run_dir)
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    (change_counter,) = struct.unpack(">I", header[24:28])
    (pages,) = struct.unpack(">I", header[28:32])
    (valid_for,) = struct.unpack(">I", header[92:96])
    if change_counter == valid_for and size < pages * page_size:
        raise StoreDamagedError(path, f"it is truncated ({size} of {pages * page_size} bytes)", run_dir)
    wal = path.with_name(path.name + "-wal")
    if wal.is_file():
        valid, damaged = wal_valid_length(wal)
        if damaged:  # read again: a reader may have caught the writer restarting the log
            time.sleep(0.1)
            valid, damaged = wal_valid_length(wal) if wal.is_file() else (0, False)
        if damaged:
            raise StoreDamagedError(wal, f"corrupt data at byte {valid} of its {wal.stat().st_size} bytes", run_dir)


def wal_valid_length(wal: Path) -> tuple[int, bool]:
    """``(valid, damaged)`` for the write-ahead log ``wal``: the bytes before its first bad frame
    (a checksum that fails, or salts of an older log), and whether frames of the current log follow
    it. Bad frames at the end are a write cut short (sqlite ignores them); bad frames followed by
    current ones are corrupt data, which sqlite would silently drop with everything after it."""
    data = wal.read_bytes()
    if len(data) < _WAL_HEADER:
        return len(data), False
    magic, _version, page_size, _seq, salt1, salt2, sum1, sum2 = struct.unpack(">8I", data[:_WAL_HEADER])
    if magic not in _WAL_MAGIC or _wal_checksum(data[:24], 0, 0, magic) != (sum1, sum2):
        return 0, True
    frame = _FRAME_HEADER + page_size
    sums, offset, bad = (sum1, sum2), _WAL_HEADER, None
    while offset + frame <= len(data):
        head = data[offset : offset + _FRAME_HEADER]
        _page, _commit, frame_salt1, frame_salt2, frame_sum1, frame_sum2 = struct.unpack(">6I", head)
        current = (frame_salt1, frame_salt2) == (salt1, salt2)
        if bad is not None:
            if current:
                return bad, True
        elif not current:
            bad = offset
        else:
            sums = _wal_checksum(head[:8] + data[offset + _FRAME_HEADER : offset + frame], *sums, magic)
            if sums != (frame_sum1, frame_sum2):
                bad = offset
        offset += frame
    return (offset if bad is None else bad), False


def _wal_checksum(data: bytes, sum1: int, sum2: int, magic: int) -> tuple[int, int]:
    """sqlite's cumulative WAL checksum over ``data`` (words big-endian when ``magic`` is odd)."""
    words = struct.unpack(f"{'>' if magic & 1 else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        sum1 = (sum1 + words[i] + sum2) & 0xFFFFFFFF
        sum2 = (sum2 + words[i + 1] + sum1) & 0xFFFFFFFF
    return sum1, sum2


def _damaged(path: Path, error: BaseException) -> StoreDamagedError:
    return StoreDamagedError(path, f"{type(error).__name__}: {error}", path.parent)


def _quick_check(connection: sqlite3.Connection, path: Path) -> None:
    """StoreDamagedError unless sqlite's check of every page passes."""
    problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise StoreDamagedError(path, "; ".join(problems[:3]), path.parent)


def _read_only(run_dir: str | Path) -> tuple[Path, sqlite3.Connection]:
    path = _store_path(run_dir)
    check_store_files(path)
    # In a read-only folder (a backup, a read-only mount) SQLite cannot make the -shm file a
    # write-ahead-logged store needs, and no run can change the store: read it as immutable, unless
    # a log holds part of it (then the error below says to copy the folder).
    log = path.with_name(path.name + "-wal")
    immutable = not os.access(path.parent, os.W_OK) and not (log.exists() and log.stat().st_size)
    connection = _connect(path, read_only=True, immutable=immutable)
    try:
        _quick_check(connection, path)
    except sqlite3.OperationalError as error:
        connection.close()
        if not os.access(path.parent, os.W_OK):
            raise RunError(f"cannot read {path} in a read-only folder ({error}); copy the folder to a writable place") from None
        raise _damaged(path, error) from None
    except sqlite3.DatabaseError as error:
        connection.close()
        raise _damaged(path, error) from None
    except BaseException:
        connection.close()
        raise
    return path, connection


def load_trials(run_dir: str | Path, *, status: str | tuple[str, ...] | None = None) -> list[Trial]:
    """The trials of the run in ``run_dir`` in id order, read-only; optionally only some statuses."""
    path, connection = _read_only(run_dir)
    try:
        return _select_trials(connection, status)
    except (sqlite3.DatabaseError, ValueError) as error:
        raise _damaged(path, error) from None
    finally:
        connection.close()


def load_config(run_dir: str | Path) -> dict[str, Any]:
    """The stored configuration record of the run in ``run_dir`` (see ``RunConfig.to_record``)."""
    path, connection = _read_only(run_dir)
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        record = None if row is None else json.loads(row[0])
    except (sqlite3.DatabaseError, ValueError) as error:
        raise _damaged(path, error) from None
    finally:
        connection.close()
    if record is None:
        raise RunError(f"the run store in {run_dir} has no configuration yet")
    return record


def remove_store(run_dir: str | Path) -> None:
    """Delete the store files of ``run_dir`` (the store, its log and shared-memory index)."""
    path = Path(run_dir) / STORE_FILENAME
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _create_store(path: Path) -> None:
    """Write a new, empty store to a temporary file and rename it to ``path`` (all or nothing)."""
    temporary = path.with_name(f".{path.name}.new")
    for suffix in ("", "-journal"):
        temporary.with_name(temporary.name + suffix).unlink(missing_ok=True)
    try:
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            connection.executescript(
                f"BEGIN; {_SCHEMA}; INSERT INTO meta (key, value) VALUES ('schema_version', {_SCHEMA_VERSION}); COMMIT;"
            )
        finally:
            connection.close()
        os.replace(temporary, path)
    except (sqlite3.Error, OSError) as error:
        temporary.unlink(missing_ok=True)
        raise RunError(f"cannot create the run store {path}: {error}") from None


def find_runs(directory: str | Path) -> list[Path]:
    """The run directories (holding a run store) under ``directory``, recursively, sorted."""
    return sorted(path.parent for path in Path(directory).rglob(STORE_FILENAME))


def done_rows(
    run_dir: str | Path, *, space_name: str | Sequence[str], objective: str | None = None
) -> list[tuple[str, float]]:
    """``(architecture, validation error)`` of the done trials of the run in ``run_dir``; none when
    the run searched another space than ``space_name`` (``load_space`` items: a registered name or
    grammar files, compared by their resolved spec, however the paths were typed) or, when given,
    used another objective. RunError when the store has no configuration (a run killed while it
    started) or is unreadable."""
    from hnas.runner.config import resolved_space

    config = load_config(run_dir)
    stored = config.get("search_space")
    if not stored or resolved_space(stored) != resolved_space(space_name):
        return []
    if objective is not None and str(config.get("objective")) != objective:
        return []
    trials = load_trials(run_dir, status=TrialStatus.DONE)
    return [(t.architecture, t.val_error) for t in trials if t.val_error is not None]


def _select_trials(connection: sqlite3.Connection, status: str | tuple[str, ...] | None) -> list[Trial]:
    if status is None:
        rows = connection.execute("SELECT * FROM trials ORDER BY id").fetchall()
    else:
        statuses = (status,) if isinstance(status, str) else tuple(status)
        marks = ",".join("?" * len(statuses))
        rows = connection.execute(f"SELECT * FROM trials WHERE status IN ({marks}) ORDER BY id", statuses).fetchall()
    return [Trial.from_row(row) for row in rows]


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class RunStore:
    """Read-write access to the store of one run directory (the driver's; see the module doc)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / STORE_FILENAME
        if not self.path.exists():
            _create_store(self.path)
        check_store_files(self.path)
        try:
            self._db = _connect(self.path, read_only=False)
            self._upgrade()
        except sqlite3.DatabaseError as error:
            raise RunError(f"cannot open the run store {self.path}: {error}") from None
        try:
            self._check()
        except BaseException:
            self._db.close()
            raise

    def _upgrade(self) -> None:
        """Add the columns newer than schema version 1 to a store of an older version."""
        present = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
        missing = {column: kind for column, kind in _ADDED_COLUMNS.items() if column not in present}
        if missing:
            with self._transaction():
                for column, kind in missing.items():
                    self._db.execute(f"ALTER TABLE trials ADD COLUMN {column} {kind}")
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (_SCHEMA_VERSION,))
        self._db.execute(_INDEXES)

    def _check(self) -> None:
        """StoreDamagedError unless every page, row, the configuration and the searcher state read back."""
        try:
            _quick_check(self._db, self.path)
            self.trials()
            self.config()
            self.searcher_state()
        except StoreDamagedError:
            raise
        except Exception as error:  # sqlite, UTF-8, JSON or unpickling errors: all damage
            raise _damaged(self.path, error) from None

    def is_empty(self) -> bool:
        """Whether the store holds no trial (a damaged one counts as not empty)."""
        try:
            return self.count() == 0
        except sqlite3.Error:
            return False

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT; any exception (Ctrl-C or SIGTERM included, even right after BEGIN or
        during COMMIT) rolls back, so the connection never stays inside a transaction."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # ----------------------------------------------------------------------------- meta
    def _meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def config(self) -> dict[str, Any] | None:
        """The stored configuration record, or ``None`` for a new store."""
        text = self._meta("config")
        return None if text is None else json.loads(text)

    def set_config(self, record: Mapping[str, Any]) -> None:
        with self._transaction():
            self._set_meta("config", json.dumps(dict(record), sort_keys=True))

    def searcher_state(self) -> dict[str, Any] | None:
        """The last committed searcher checkpoint, or ``None`` before the first trial."""
        blob = self._meta("searcher_state")
        return None if blob is None else pickle.loads(blob)

    def told_trials(self) -> list[Trial]:
        """The finished trials in the order their results were told to the searcher."""
        rows = self._db.execute("SELECT * FROM trials WHERE told IS NOT NULL ORDER BY told").fetchall()
        try:
            return [Trial.from_row(row) for row in rows]
        except ValueError as error:
            raise _damaged(self.path, error) from None

    def set_told_order(self, trial_ids: list[int]) -> None:
        """Number the results of ``trial_ids`` 1, 2, ... in that order (upgrading an older store)."""
        with self._transaction():
            self._db.executemany("UPDATE trials SET told = ? WHERE id = ?", list(enumerate(trial_ids, 1)))

    def run_seconds(self) -> float:
        """The run's active wall time committed so far (summed over all sessions)."""
        return float(self._meta("run_seconds") or 0.0)

    def set_run_seconds(self, run_seconds: float) -> None:
        """Record the run's active wall time at the end of a session (finished trials record it too)."""
        with self._transaction():
            self._set_meta("run_seconds", run_seconds)

    # ----------------------------------------------------------------------------- trials
    def trials(self, status: str | tuple[str, ...] | None = None) -> list[Trial]:
        try:
            return _select_trials(self._db, status)
        except ValueError as error:
            raise _damaged(self.path, error) from None

    def count(self, status: str | tuple[str, ...] | None = None) -> int:
        if status is None:
            return self._db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        statuses = (status,) if isinstance(status, str) else tuple(status)
        marks = ",".join("?" * len(statuses))
        return self._db.execute(f"SELECT COUNT(*) FROM trials WHERE status IN ({marks})", statuses).fetchone()[0]

    def add_trial(
        self,
        architecture: str,
        seed_of: Callable[[int], int],
        searcher_state: Mapping[str, Any],
        canonical_key: str | None = None,
        columns: Mapping[str, Any] | None = None,
    ) -> tuple[int, int]:
        """Insert a pending trial (its evaluation seed is ``seed_of(id)``) and the searcher state
        after the ``ask`` that proposed it; returns the id and the seed. ``columns``: values of
        further columns (e.g. a multi-fidelity job's)."""
        extra = dict(columns or {})
        with self._transaction():
            trial_id = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM trials").fetchone()[0]
            seed = int(seed_of(trial_id))
            self._db.execute(
                "INSERT INTO trials (id, architecture, status, seed, created_at, canonical_key"
                + "".join(f", {name}" for name in extra) + ") VALUES (?, ?, 'pending', ?, ?, ?"
                + ", ?" * len(extra) + ")",
                (trial_id, architecture, seed, time.time(), canonical_key, *extra.values()),
            )
            self._set_meta("searcher_state", pickle.dumps(dict(searcher_state), protocol=pickle.HIGHEST_PROTOCOL))
        return trial_id, seed

    def restore(self, config: Mapping[str, Any] | None, trials: list[Trial], searcher_state: Any) -> None:
        """Fill this new, empty store with salvaged content (see :mod:`hnas.runner.salvage`):
        the configuration, the trials as they were (unfinished ones pending), the searcher state."""
        names = [f.name for f in dataclasses.fields(Trial)]
        rows = []
        for trial in trials:
            values = dataclasses.asdict(trial)
            values["status"] = trial.status if trial.status in TrialStatus.FINISHED else TrialStatus.PENDING
            values["learning_curve"] = json.dumps(values["learning_curve"])
            values["extras"] = json.dumps(values["extras"])
            values["objectives"] = None if values["objectives"] is None else json.dumps(values["objectives"])
            rows.append([values[name] for name in names])
        with self._transaction():
            if config is not None:
                self._set_meta("config", json.dumps(dict(config), sort_keys=True))
            if searcher_state is not None:
                self._set_meta("searcher_state", pickle.dumps(searcher_state, protocol=pickle.HIGHEST_PROTOCOL))
            runs = [t.run_seconds for t in trials if t.run_seconds is not None]
            self._set_meta("run_seconds", max(runs, default=0.0))
            self._db.executemany(
                f"INSERT INTO trials ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows
            )

    def mark_running(self, trial_id: int, worker: str) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE trials SET status = 'running', started_at = ?, attempts = attempts + 1, worker = ?"
                " WHERE id = ?",
                (time.time(), worker, trial_id),
            )

    def requeue(self, trial_ids: list[int] | None = None) -> int:
        """Running trials (all, or those given) back to pending; returns how many."""
        with self._transaction():
            if trial_ids is None:
                cursor = self._db.execute("UPDATE trials SET status = 'pending', worker = NULL WHERE status = 'running'")
            else:
                cursor = self._db.executemany(
                    "UPDATE trials SET status = 'pending', worker = NULL WHERE id = ? AND status = 'running'",
                    [(i,) for i in trial_ids],
                )
        return cursor.rowcount

    def finish_trial(
        self,
        trial_id: int,
        outcome: Mapping[str, Any],
        objective: float | None,
        searcher_state: Mapping[str, Any],
        run_seconds: float,
        objectives: Sequence[float] | None = None,
    ) -> None:
        """Record a finished evaluation (done when ``objective`` is set, else failed) as the next
        told result, with the searcher state after its ``tell`` and the run's active time, in one
        transaction; ``objectives``: the loss vector of a run with several objectives."""
        result = outcome.get("result") or {}
        eval_seconds = outcome.get("eval_seconds")
        cost = result.get("train_time")
        with self._transaction():
            self._db.execute(
                "UPDATE trials SET status = ?, objective = ?, val_error = ?, test_error = ?, params = ?,"
                " flops = ?, cost = ?, train_time = ?, epochs = ?, eval_seconds = ?, finished_at = ?,"
                " run_seconds = ?, error = ?, learning_curve = ?, extras = ?, worker = COALESCE(?, worker),"
                " told = (SELECT COALESCE(MAX(told), 0) + 1 FROM trials) WHERE id = ?",
                (
                    TrialStatus.DONE if objective is not None else TrialStatus.FAILED,
                    objective,
                    _finite_or_none(result.get("val_error")),
                    _finite_or_none(result.get("test_error")),
                    None if result.get("params") is None else int(result["params"]),
                    _finite_or_none(result.get("flops")),
                    _finite_or_none(cost if cost is not None else eval_seconds),
                    _finite_or_none(cost),
                    None if result.get("epochs") is None else int(result["epochs"]),
                    _finite_or_none(eval_seconds),
                    time.time(),
                    run_seconds,
                    outcome.get("error"),
                    json.dumps([float(v) for v in result.get("learning_curve") or ()]),
                    json.dumps(dict(result.get("extras") or {}), default=float),
                    outcome.get("worker"),
                    trial_id,
                ),
            )
            if objectives is not None:
                vector = json.dumps([float(v) for v in objectives])
                self._db.execute("UPDATE trials SET objectives = ? WHERE id = ?", (vector, trial_id))
            self._set_meta("searcher_state", pickle.dumps(dict(searcher_state), protocol=pickle.HIGHEST_PROTOCOL))
            self._set_meta("run_seconds", run_seconds)
