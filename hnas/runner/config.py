"""The configuration of one search run, and how it is compared when a run is resumed."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from hnas.plugins import is_reference, load_plugins, normalise_reference
from hnas.runner.errors import RunConfigError
from hnas.searchers.factory import POOL_STRATEGIES, SEARCHER_OPTIONS
from hnas.surrogates import canonical_name

__all__ = ["RunConfig", "EXECUTION_KEYS", "RESUMABLE_KEYS", "config_differences", "resolved_space"]

EXECUTION_KEYS = frozenset({"n_workers", "dask_scheduler", "torch_threads"})
"""Keys that say where evaluations run, not what is searched: they may change between resumes."""

RESUMABLE_KEYS = frozenset({"max_evaluations_total", "plugins"})
"""Keys that may change on an existing run: raising the budget continues a finished run; the
plugins of a resumed run are the stored ones and those given now."""


@dataclass
class RunConfig:
    """Everything that defines a search run (SPEC section 7); one field per ``optimize.py`` flag.

    ``objective`` is a registered name (``None``: ``hnas.objectives.DEFAULT_OBJECTIVE``), a
    reference ``module:function`` or ``path/file.py:function`` (stored with the file's absolute
    path, so a rerun resumes and workers load it again), an object with ``evaluate(tree, seed)`` or
    a callable ``(tree) or (tree, seed) -> float | EvaluationResult | mapping``; an object or a
    callable must be picklable for worker processes. ``epochs``, ``batch_size``, ``train_subset``
    and ``objective_options`` are passed to ``get_objective`` (named objectives only) when set.
    ``plugins`` (module names or ``.py`` files, see :mod:`hnas.plugins`) are loaded when the
    config is made and stored resolved (absolute paths); workers and resumed runs load them again.
    ``n_workers``, ``dask_scheduler`` and ``torch_threads`` only choose where evaluations run.
    """

    search_space: str | Sequence[str] = "nb201_variable_multi_multi"
    objective: str | Any | None = None
    searcher: str = "bayesian_optimization"
    surrogate_model: str = "gp_hierarchical"
    seed: int = 0
    pool_strategy: str = "evolution"
    pool_size: int = 200
    n_init: int = 10
    max_evaluations_total: int = 100
    log: bool = False
    p_self_crossover: float = 0.5
    data_path: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    train_subset: int | None = None
    objective_options: Mapping[str, Any] = field(default_factory=dict)
    n_workers: int = 1
    dask_scheduler: str | None = None
    torch_threads: int | None = None
    plugins: Sequence[str] = ()

    def __post_init__(self) -> None:
        if isinstance(self.plugins, str):
            self.plugins = (self.plugins,)
        self.plugins = load_plugins(self.plugins)  # first: they may register what the rest names
        if is_reference(self.objective):
            self.objective = normalise_reference(self.objective)
        if not isinstance(self.search_space, str):
            self.search_space = tuple(self.search_space)
        if self.data_path is not None:
            self.data_path = str(self.data_path)
        self.objective_options = dict(self.objective_options)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`RunConfigError` naming the first field with a bad value."""
        _require(_is_int(self.seed) and self.seed >= 0, "seed", "an integer >= 0", self.seed)
        for name in ("pool_size", "max_evaluations_total", "n_workers"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, name, "an integer >= 1", value)
        _require(_is_int(self.n_init) and self.n_init >= 1, "n_init", "an integer >= 1", self.n_init)
        for name in ("epochs", "batch_size", "train_subset", "torch_threads"):
            value = getattr(self, name)
            _require(value is None or (_is_int(value) and value >= 1), name, "an integer >= 1", value)
        p = self.p_self_crossover
        _require(
            isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) and 0 <= p <= 1,
            "p_self_crossover",
            "a probability in [0, 1]",
            p,
        )
        strategies = ", ".join(POOL_STRATEGIES)
        _require(self.pool_strategy in POOL_STRATEGIES, "pool_strategy", f"one of {strategies}", self.pool_strategy)
        _require(bool(self.search_space), "search_space", "a space name or grammar paths", self.search_space)
        _require(isinstance(self.searcher, str) and bool(self.searcher), "searcher", "a searcher name", self.searcher)
        if self.objective is not None and not isinstance(self.objective, str):
            _require(
                hasattr(self.objective, "evaluate") or callable(self.objective),
                "objective",
                "a name, an object with evaluate(tree, seed) or a callable (tree, seed)",
                self.objective,
            )
        if self.dask_scheduler is not None:
            _require(
                isinstance(self.dask_scheduler, str) and "://" in self.dask_scheduler,
                "dask_scheduler",
                "an address such as tcp://HOST:PORT",
                self.dask_scheduler,
            )

    @property
    def objective_name(self) -> str:
        """The objective's name as stored in the run directory (a reference as
        ``module:function``, a file's absolute path included)."""
        if isinstance(self.objective, str):
            return self.objective
        if self.objective is None:
            from hnas.objectives import DEFAULT_OBJECTIVE

            return DEFAULT_OBJECTIVE
        name = getattr(self.objective, "name", None)
        if isinstance(name, str):
            return name
        kind = self.objective if hasattr(self.objective, "__qualname__") else type(self.objective)
        return f"{kind.__module__}.{kind.__qualname__}"

    @property
    def objective_label(self) -> str:
        """A short name of the objective for directory names (``file:function`` -> ``file.function``)."""
        if is_reference(self.objective_name):
            module, _, function = self.objective_name.rpartition(":")
            return f"{_stem(module)}.{function}"
        return self.objective_name

    @property
    def space_label(self) -> str:
        """A short name of the search space for directory names."""
        if isinstance(self.search_space, str):
            return _stem(self.search_space)
        return "+".join(_stem(part) for part in self.search_space)

    def objective_kwargs(self) -> dict[str, Any]:
        """Options for ``get_objective``: the set ones of epochs, batch_size, train_subset, extras."""
        kwargs = {
            name: getattr(self, name)
            for name in ("epochs", "batch_size", "train_subset")
            if getattr(self, name) is not None
        }
        kwargs.update(self.objective_options)
        return kwargs

    def to_record(self) -> dict[str, Any]:
        """The JSON-able record stored in the run directory: execution keys and the options of
        other searchers left out, the surrogate model under its canonical name."""
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in EXECUTION_KEYS}
        record["objective"] = self.objective_name
        record["search_space"] = resolved_space(self.search_space)
        record["plugins"] = list(self.plugins)
        record["objective_options"] = json.loads(json.dumps(dict(self.objective_options), default=repr))
        return searcher_record(record)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (validated)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return RunConfig(**values)


_SEARCHER_KEYS = frozenset(key for options in SEARCHER_OPTIONS.values() for key in options)


def searcher_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with only the options of its own searcher, and the canonical surrogate name (a
    record stored by an older version, with every searcher's options, compares equal to it)."""
    own = SEARCHER_OPTIONS.get(record.get("searcher"), {})
    kept = {key: value for key, value in record.items() if key not in _SEARCHER_KEYS or key in own}
    surrogate = kept.get("surrogate_model")
    if isinstance(surrogate, str):
        try:
            kept["surrogate_model"] = canonical_name(surrogate)
        except ValueError:
            pass  # left as given: make_searcher names the bad value
    return kept


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between a stored and a current record, with (stored, current);
    options the searcher does not take are not compared."""
    stored, current = searcher_record(stored), searcher_record(current)
    stored, current = (
        {**record, "search_space": resolved_space(record["search_space"])} if "search_space" in record else record
        for record in (stored, current)
    )
    keys = (set(stored) | set(current)) - RESUMABLE_KEYS - EXECUTION_KEYS
    return {
        key: (stored.get(key), current.get(key))
        for key in sorted(keys)
        if _normalise(stored.get(key)) != _normalise(current.get(key))
    }


def resolved_space(search_space: str | Sequence[str]) -> Any:
    """The space's resolved spec (a registered name, or its grammar files' absolute paths), which
    identifies a run's space however its paths were typed; the value as given if it does not load."""
    from hnas.grammar import GrammarError, load_space

    try:
        with warnings.catch_warnings():  # the space's own warnings are for the commands that load it
            warnings.simplefilter("ignore")
            spec = load_space(search_space).spec
    except GrammarError:
        return search_space if isinstance(search_space, str) else list(search_space)
    return spec[0] if len(spec) == 1 else list(spec)


def _normalise(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


def _stem(text: str) -> str:
    from pathlib import PurePath

    return PurePath(text.split("=")[-1]).stem if ("/" in text or text.endswith((".cfg", ".py"))) else text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(ok: bool, name: str, expected: str, value: Any) -> None:
    if not ok:
        raise RunConfigError(f"{name} must be {expected}, got {value!r}", field=name)

