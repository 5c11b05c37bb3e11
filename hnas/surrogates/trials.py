"""Evaluated architectures for the surrogate regression experiment, read from a working directory.

Two sources are read, recursively under the directory:

- run stores of finished search runs (a directory holding ``trials.sqlite``, see
  :mod:`hnas.runner.store`): the ``done`` trials whose run used the same search space (and the
  same objective, when one is asked for); the value is the trial's validation error. Other files
  inside a run directory (e.g. its ``results.csv``) are not read again.
- CSV files, and JSON files holding a list of objects, with an ``architecture`` column (the
  bracket string of the tree) and a value column: ``value`` or else ``val_error``. Optional
  columns filter rows: ``status`` (only ``done`` rows are kept), ``search_space`` and
  ``objective_name``. Files without an ``architecture`` column are skipped (they are not trials).

Architectures evaluated more than once keep the mean of their values, so a held-out architecture
never also appears in a training set.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.grammar.tree import Tree

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["TrialsError", "EvaluatedArchitectures", "load_evaluations"]

VALUE_COLUMNS = ("value", "val_error")


class TrialsError(ValueError):
    """The working directory holds no usable trials, or a file in it is malformed."""


@dataclass(frozen=True)
class EvaluatedArchitectures:
    """Distinct architectures and their (mean) values, with where they were read from."""

    trees: list[Tree]
    values: np.ndarray
    sources: list[str]
    n_rows: int


def _store_rows(run_dir: Path, space_name: str, objective: str | None) -> Iterator[tuple[str, float]]:
    from hnas.runner.store import load_config, load_trials

    config = load_config(run_dir)
    if _space_name(config.get("search_space")) != space_name:
        return
    if objective is not None and str(config.get("objective")) != objective:
        return
    for trial in load_trials(run_dir, status="done"):
        if trial.val_error is not None:
            yield trial.architecture, trial.val_error


def _space_name(spec: object) -> str | None:
    """The name of the space a run record describes (a registered name, or grammar files)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list) and spec:
        from hnas.grammar import load_space

        return load_space(spec).name
    return None


def _table_rows(path: Path, records: Sequence[Mapping[str, Any]], space_name: str, objective: str | None) -> Iterator[tuple[str, float]]:
    if not records or "architecture" not in records[0]:
        return
    column = next((c for c in VALUE_COLUMNS if c in records[0]), None)
    if column is None:
        raise TrialsError(f"{path}: has an 'architecture' column but no value column ({' or '.join(VALUE_COLUMNS)})")
    for number, record in enumerate(records, start=1):
        if record.get("status", "done") != "done":
            continue
        if record.get("search_space", space_name) != space_name:
            continue
        if objective is not None and record.get("objective_name", objective) != objective:
            continue
        raw = record.get(column)
        if raw is None or raw == "":
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise TrialsError(f"{path}: row {number}: {column} {raw!r} is not a number") from None
        yield str(record["architecture"]), value


def _read_table(path: Path) -> list[Mapping[str, Any]]:
    if path.suffix == ".csv":
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle))
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise TrialsError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        return []
    return data


def _sources(directory: Path) -> tuple[list[Path], list[Path]]:
    """Run directories and table files under ``directory`` (files inside run directories excluded)."""
    # The run store is the runner's (a layer above this one): imported only when trials are read.
    from hnas.runner.store import STORE_FILENAME

    runs = sorted(p.parent for p in directory.rglob(STORE_FILENAME))
    tables = sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in (".csv", ".json") and p.is_file() and not any(r in p.parents for r in runs)
    )
    return runs, tables


def load_evaluations(
    directory: str | Path, space: SearchSpace, *, objective: str | None = None
) -> EvaluatedArchitectures:
    """All evaluated architectures of ``space`` under ``directory`` (see the module doc)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise TrialsError(f"working directory {directory} does not exist or is not a directory")
    runs, tables = _sources(directory)
    rows: list[tuple[str, float, str]] = []
    for run_dir in runs:
        rows.extend((a, v, str(run_dir)) for a, v in _store_rows(run_dir, space.name, objective))
    for path in tables:
        records = _read_table(path)
        rows.extend((a, v, str(path)) for a, v in _table_rows(path, records, space.name, objective))
    if not rows:
        wanted = f"search space {space.name!r}" + (f" and objective {objective!r}" if objective else "")
        raise TrialsError(
            f"no evaluated trials for {wanted} under {directory} (looked for run stores "
            "'trials.sqlite' and CSV/JSON files with 'architecture' and 'value' columns)"
        )
    sums: dict[Tree, list[float]] = {}
    sources: dict[Tree, str] = {}
    parsed: dict[str, Tree] = {}
    for text, value, source in rows:
        if not math.isfinite(value):
            continue
        tree = parsed.get(text)
        if tree is None:
            try:
                tree = parsed[text] = space.parse(text)
            except ValueError as error:
                raise TrialsError(f"{source}: architecture {text[:80]!r}: {error}") from None
        sums.setdefault(tree, []).append(value)
        sources.setdefault(tree, source)
    trees = list(sums)
    return EvaluatedArchitectures(
        trees=trees,
        values=np.array([np.mean(sums[t]) for t in trees]),
        sources=sorted(set(sources.values())),
        n_rows=len(rows),
    )
