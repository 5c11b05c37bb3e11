"""Salvage a damaged run store: copy every readable trial and the configuration into a new store.

In place (the default), the damaged files are kept beside it as ``trials.sqlite.damaged`` (and
``-wal``/``-shm``) and the new store takes their place, so the same ``optimize.py`` command
resumes the run; with ``output``, the new store goes to that directory and the damaged one is left
untouched. The source is read from a copy (never changed); a write-ahead log is used up to its
first corrupt frame. A trial is kept when its row reads back, its text decodes and its
architecture parses in the run's space. The searcher state is kept when it unpickles and no trial
was lost; otherwise only finished trials are kept and the searcher learns them again on resume.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import struct
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnas.runner.errors import RunError
from hnas.runner.folders import create_folder
from hnas.runner.store import SQLITE_HEADER, STORE_FILENAME, RunStore, Trial, TrialStatus, wal_valid_length

__all__ = ["SalvageReport", "salvage_store", "DAMAGED_SUFFIX"]

DAMAGED_SUFFIX = ".damaged"
"""Suffix of the damaged store files that an in-place salvage keeps."""

_STORE_FILES = ("", "-wal", "-shm")


@dataclass(frozen=True)
class SalvageReport:
    """What a salvage kept and lost."""

    source: Path
    output: Path
    kept: int
    skipped: tuple[str, ...]
    config_kept: bool
    state_kept: bool
    unchecked: str | None = None
    """Why the architectures could not be parsed in the run's space (kept unchecked), or None."""

    def __str__(self) -> str:
        total = self.kept + len(self.skipped)
        lines = [f"salvaged {self.kept} of {total} trials of {self.source} into {self.output / STORE_FILENAME}"]
        lines += [f"  lost {reason}" for reason in self.skipped]
        if not self.config_kept:
            lines.append("  the configuration was unreadable: the next run stores its own")
        if self.unchecked is not None:
            lines.append(f"  architectures kept unchecked: {self.unchecked}")
        lines.append(
            "  searcher state kept" if self.state_kept
            else "  searcher state not kept: the searcher learns the finished trials again on resume"
        )  # fmt: skip
        return "\n".join(lines)


def salvage_store(run_dir: str | Path, output: str | Path | None = None) -> SalvageReport:
    """Copy the readable trials, configuration and (when consistent) searcher state of the store in
    ``run_dir`` into a new store: in place keeping the damaged files, or into ``output``."""
    from hnas.runner.driver import lock_run_directory

    run_dir = Path(run_dir).resolve()
    source = run_dir / STORE_FILENAME
    if not source.is_file():
        raise RunError(f"no run store in {run_dir} (expected the file {source})")
    target = run_dir if output is None else Path(output).resolve()
    if target != run_dir and (target / STORE_FILENAME).exists():
        raise RunError(f"{target} already holds a run store; name a new --output directory")
    if target != run_dir:
        create_folder(target, "--output")
    else:
        taken = [p for p in _files(source, DAMAGED_SUFFIX) if p.exists()]
        if taken:
            raise RunError(f"{taken[0]} exists (an earlier salvage); move it away first")
    read_only = target != run_dir and not os.access(run_dir, os.W_OK)  # e.g. a backup: no run can write it
    with nullcontext() if read_only else lock_run_directory(run_dir):
        config, state, trials, skipped, unchecked = _read(source)
        if config is None and not trials:
            raise RunError(f"nothing of {source} could be read (no configuration, no trial); nothing was changed")
        state_kept = state is not None and not skipped
        if not state_kept:
            dropped = [t for t in trials if t.status not in TrialStatus.FINISHED]
            skipped += [f"trial {t.id}: unfinished, and the searcher state is not kept" for t in dropped]
            trials = [t for t in trials if t.status in TrialStatus.FINISHED]
        with tempfile.TemporaryDirectory(dir=target) as scratch:
            store = RunStore(scratch)
            try:
                store.restore(config, trials, state if state_kept else None)
            finally:
                store.close()
            if target == run_dir:
                for path in _files(source, ""):
                    if path.exists():
                        path.rename(path.with_name(path.name + DAMAGED_SUFFIX))
            shutil.move(Path(scratch) / STORE_FILENAME, target / STORE_FILENAME)
    return SalvageReport(source, target, len(trials), tuple(skipped), config is not None, state_kept, unchecked)


def _files(store: Path, suffix: str) -> list[Path]:
    return [store.with_name(store.name + part + suffix) for part in _STORE_FILES]


def _read(source: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[Trial], list[str], str | None]:
    """The configuration, searcher state, readable trials, reasons for lost ones of ``source`` and
    why the architectures were not parsed (None: they were) (read from a copy; its write-ahead log
    up to the first corrupt frame)."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / STORE_FILENAME
        shutil.copyfile(source, copy)
        wal = source.with_name(source.name + "-wal")
        if wal.is_file():
            valid, _damaged = wal_valid_length(wal)
            copy.with_name(copy.name + "-wal").write_bytes(wal.read_bytes()[:valid])
        _repair_header(copy, wal.is_file())
        connection = sqlite3.connect(copy, isolation_level=None)
        connection.text_factory = bytes
        connection.row_factory = sqlite3.Row
        try:
            config = _meta(connection, "config", lambda blob: json.loads(blob))
            state = _meta(connection, "searcher_state", pickle.loads)
            parse, unchecked = _parser(config)
            trials, skipped = [], []
            for trial_id in _trial_ids(connection):
                try:
                    row = connection.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
                    if row is None:
                        continue
                    trial = _trial(row)
                    if parse is not None:
                        parse(trial.architecture)
                except Exception as error:  # sqlite, UTF-8, JSON or parse errors: the row is lost
                    skipped.append(f"trial {trial_id}: {type(error).__name__}: {error}")
                else:
                    trials.append(trial)
        finally:
            connection.close()
    return config, state, trials, skipped, unchecked


_PAGE_SIZES = (4096, 1024, 2048, 8192, 16384, 32768, 65536, 512)
"""SQLite's page sizes, its default first: the candidates when a damaged header lost it."""


def _repair_header(copy: Path, wal: bool) -> None:
    """Give a store whose 100-byte header was overwritten a fresh one (SQLite's defaults and the
    first page size under which its schema reads back); any other store is left alone."""
    data = bytearray(copy.read_bytes())
    if len(data) < 512 or data.startswith(SQLITE_HEADER):
        return
    original = bytes(data[:100])
    version = 2 if wal else 1  # 2: write-ahead logging, so the log is read too
    for page_size in _PAGE_SIZES:
        if len(data) % page_size:
            continue
        # magic, page size (1 means 65536), write/read versions, no reserved bytes, payload fractions;
        # counters, sizes and freelist zero (SQLite then trusts the file size); schema format 4; UTF-8
        size_field = 1 if page_size == 65536 else page_size
        data[:100] = (SQLITE_HEADER + struct.pack(">HBBBBBB", size_field, version, version, 0, 64, 32, 32)
                      + bytes(20) + struct.pack(">I", 4) + bytes(8) + struct.pack(">I", 1) + bytes(40))
        copy.write_bytes(data)
        try:
            connection = sqlite3.connect(copy)
            try:
                if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'trials'").fetchone():
                    return
            finally:
                connection.close()
        except sqlite3.DatabaseError:
            pass
    data[:100] = original
    copy.write_bytes(data)


def _meta(connection: sqlite3.Connection, key: str, decode: Any) -> Any:
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else decode(row[0])
    except Exception:  # unreadable: salvaged without it
        return None


def _parser(config: dict[str, Any] | None) -> tuple[Any, str | None]:
    """``parse(text)`` of the run's space (its recorded plugins loaded first, as a resumed run
    loads them), or ``(None, why)`` when the space cannot be loaded."""
    if config is None:
        return None, "the configuration, which names the search space, was unreadable"
    try:
        from hnas.grammar import load_space
        from hnas.plugins import load_plugins

        load_plugins(config.get("plugins") or ())
        return load_space(config["search_space"]).parse, None
    except Exception as error:  # a missing grammar or plugin file: architectures are kept unchecked
        return None, f"the search space could not be loaded ({error})"


def _trial_ids(connection: sqlite3.Connection) -> list[int]:
    """Every trial id that may exist: those a scan reaches, and all up to the largest id."""
    ids: set[int] = set()
    try:
        for (trial_id,) in connection.execute("SELECT id FROM trials ORDER BY id"):
            ids.add(int(trial_id))
    except sqlite3.DatabaseError:
        pass
    try:
        largest = connection.execute("SELECT MAX(id) FROM trials").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        largest = 0
    return sorted(ids | set(range(1, max([largest, *ids]) + 1)))


def _trial(row: sqlite3.Row) -> Trial:
    return Trial.from_row({key: row[key].decode("utf-8") if isinstance(row[key], bytes) else row[key] for key in row.keys()})
