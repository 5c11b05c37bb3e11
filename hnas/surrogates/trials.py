"""Evaluated architectures for the surrogate regression experiment, read from a working directory.

CSV files, and JSON files holding a list of objects, are read recursively under the directory:
they have an ``architecture`` column (the bracket string of the tree) and a value column:
``value`` or else ``val_error``. Optional columns filter rows: ``status`` (only ``done`` rows are
kept), ``search_space`` (a space name or its grammar paths, however typed; several separated by
spaces) and ``objective_name``. Files without an ``architecture`` column are
skipped (they are not trials). Rows read elsewhere (e.g. from the run stores of search runs, see
``hnas.runner.store.done_rows``) are passed in by the caller, with folders whose files are not
read again (a run directory's ``results.csv``).

Architectures evaluated more than once keep the mean of their values, so a held-out architecture
never also appears in a training set.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.errors import UsageError
from hnas.grammar import GrammarError, load_space
from hnas.grammar.tree import Tree

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["TrialsError", "EvaluatedArchitectures", "load_evaluations"]

VALUE_COLUMNS = ("value", "val_error")


class TrialsError(UsageError):
    """The working directory holds no usable trials, or a file in it is malformed."""


@dataclass(frozen=True)
class EvaluatedArchitectures:
    """Distinct architectures and their (mean) values, with where they were read from."""

    trees: list[Tree]
    values: np.ndarray
    sources: list[str]
    n_rows: int


def _same_space(value: str, space: SearchSpace, specs: dict[str, tuple[str, ...] | None]) -> bool:
    """Whether a table's ``search_space`` value names ``space`` (a name, or grammar paths however
    typed, several separated by spaces); ``specs`` memoises the loaded values."""
    if value == space.name:
        return True
    if value not in specs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                specs[value] = load_space(value.split() if " " in value.strip() else value).spec
        except GrammarError:
            specs[value] = None
    return specs[value] == space.spec


def _table_rows(
    path: Path, records: Sequence[Mapping[str, Any]], space: SearchSpace, objective: str | None,
    specs: dict[str, tuple[str, ...] | None],
) -> Iterator[tuple[str, float]]:
    if not records or "architecture" not in records[0]:
        return
    column = next((c for c in VALUE_COLUMNS if c in records[0]), None)
    if column is None:
        raise TrialsError(f"{path}: has an 'architecture' column but no value column ({' or '.join(VALUE_COLUMNS)})")
    for number, record in enumerate(records, start=1):
        if record.get("status", "done") != "done":
            continue
        if "search_space" in record and not _same_space(str(record["search_space"]), space, specs):
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
    """The rows of a CSV or JSON file; a TrialsError naming the file when it cannot be read."""
    try:
        if path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TrialsError(f"{path}: not valid JSON ({error})") from None
    except UnicodeDecodeError as error:
        raise TrialsError(f"{path}: not UTF-8 text (byte {error.start}); move it out of the folder") from None
    except csv.Error as error:
        raise TrialsError(f"{path}: not a valid CSV file ({error}); move it out of the folder") from None
    except OSError as error:
        raise TrialsError(f"cannot read {path}: {error.strerror}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        return []
    return data


def _tables(directory: Path, skip: Sequence[Path]) -> list[Path]:
    """CSV and JSON files under ``directory``, except those inside the folders ``skip``."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in (".csv", ".json") and p.is_file() and not any(s in p.parents for s in skip)
    )


def load_evaluations(
    directory: str | Path,
    space: SearchSpace,
    *,
    objective: str | None = None,
    rows: Iterable[tuple[str, float, str]] = (),
    skip: Sequence[str | Path] = (),
) -> EvaluatedArchitectures:
    """All evaluated architectures of ``space`` in the tables under ``directory`` and in ``rows``
    (``(architecture, value, source)`` read elsewhere); tables inside the folders ``skip`` are not
    read (see the module doc)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise TrialsError(f"working directory {directory} does not exist or is not a directory")
    rows = list(rows)
    specs: dict[str, tuple[str, ...] | None] = {}
    for path in _tables(directory, [Path(s) for s in skip]):
        records = _read_table(path)
        rows.extend((a, v, str(path)) for a, v in _table_rows(path, records, space, objective, specs))
    if not rows:
        wanted = f"search space {space.name!r}" + (f" and objective {objective!r}" if objective else "")
        raise TrialsError(
            f"no evaluated trials for {wanted} under {directory} (looked for search runs "
            "and CSV/JSON files with 'architecture' and 'value' columns)"
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
