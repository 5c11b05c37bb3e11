"""The configuration of one search run, and how it is compared when a run is resumed."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from hnas.plugins import is_reference, load_plugins, normalise_reference
from hnas.runner.errors import RunConfigError
from hnas.runner.fidelity import fidelity_options, is_multi_fidelity
from hnas.searchers import (
    OptionsError,
    Searcher,
    accepted_options,
    get_searcher_class,
    options_record,
    build_searcher_options,
)
from hnas.searchers.options import option_defaults
from hnas.searchers.registry import name_of

__all__ = ["RunConfig", "EXECUTION_KEYS", "RESUMABLE_KEYS", "config_differences", "upgrade_record", "resolved_space"]

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
    ``min_epochs``, ``max_epochs`` and ``eta`` set the options of a multi-fidelity searcher
    (``None``: its defaults; see :mod:`hnas.runner.fidelity`). ``fidelity``: what its levels count,
    ``epochs`` or ``train_subset`` (training images, from ``min_train_subset`` to ``max_train_subset``).

    ``objectives``: the values to minimise (names of :mod:`hnas.objectives.costs`, e.g.
    ``("val_error", "params")``; a comma-separated string is split): a multi-objective searcher
    is told their vector; a single-objective searcher takes at most one (empty: ``val_error``).
    ``max_params`` / ``max_flops``: hard limits checked on the untrained network before any
    evaluation; a tree over them is a failed trial, never trained.

    ``searcher`` is a registered name, a :class:`~hnas.searchers.Searcher` subclass, or an
    instance (its class and options are used; the run's searcher is seeded with ``seed``).
    ``searcher_options`` are the searcher's options, flat (``{"n_init": 5, "pool_size": 50,
    "acquisition": "ucb", "beta": 3.0}``, see :func:`hnas.searchers.make_searcher`); their
    defaults live in the searcher's ``Options`` dataclass. ``canonical_key``: ``auto`` (the key
    registered for the space, e.g. the built-in graph key on the shipped spaces), ``none`` or a
    registered key name (:func:`hnas.searchers.register_canonical_key`).
    """

    search_space: str | Sequence[str] = "nb201_variable_multi_multi"
    objective: str | Any | None = None
    searcher: str | type[Searcher] | Searcher = "bayesian_optimization"
    searcher_options: Mapping[str, Any] = field(default_factory=dict)
    canonical_key: str = "auto"
    seed: int = 0
    max_evaluations_total: int = 100
    log: bool = False
    data_path: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    train_subset: int | None = None
    objective_options: Mapping[str, Any] = field(default_factory=dict)
    min_epochs: int | None = None
    max_epochs: int | None = None
    eta: int | None = None
    fidelity: str = "epochs"
    min_train_subset: int | None = None
    max_train_subset: int | None = None
    n_workers: int = 1
    dask_scheduler: str | None = None
    torch_threads: int | None = None
    plugins: Sequence[str] = ()
    objectives: Sequence[str] = ()
    max_params: int | None = None
    max_flops: float | None = None

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
        if isinstance(self.searcher, Searcher):  # an instance stands for its class and options
            instance = self.searcher
            self.searcher = type(instance)
            self.searcher_options = {**_flat(instance.options), **dict(self.searcher_options)}
        self.searcher_options = dict(self.searcher_options)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`RunConfigError` naming the first field with a bad value."""
        _require(_is_int(self.seed) and self.seed >= 0, "seed", "an integer >= 0", self.seed)
        for name in ("max_evaluations_total", "n_workers"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, name, "an integer >= 1", value)
        for name in ("epochs", "batch_size", "train_subset", "torch_threads", "min_train_subset", "max_train_subset"):
            value = getattr(self, name)
            _require(value is None or (_is_int(value) and value >= 1), name, "an integer >= 1", value)
        _require(bool(self.search_space), "search_space", "a space name or grammar paths", self.search_space)
        self.searcher_setup()
        self._validate_objectives()
        _require(isinstance(self.canonical_key, str) and bool(self.canonical_key), "canonical_key",
                 "auto, none or a registered key name", self.canonical_key)  # fmt: skip
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

    def _validate_objectives(self) -> None:
        """``objectives`` are known names that fit the searcher; the cost limits are positive."""
        from hnas.objectives.costs import check_objective_names
        from hnas.objectives.errors import ObjectiveError

        try:
            names = self.objectives
            self.objectives = check_objective_names(names if isinstance(names, str) else [str(n).strip() for n in names])
        except ObjectiveError as error:
            raise RunConfigError(f"objectives: {error}", field="objectives") from None
        cls = self.searcher_setup()[0]
        if cls.multi_objective and not self.objectives:
            raise RunConfigError(
                f"searcher {self.searcher_name} is multi-objective: name the objectives, e.g. val_error,params",
                field="objectives",
            )
        if not cls.multi_objective and len(self.objectives) > 1:
            raise RunConfigError(
                f"searcher {self.searcher_name} minimises one objective, got {len(self.objectives)}; use a "
                "multi-objective searcher (mo_random_search, mo_regularized_evolution, mo_bayesian_optimization)",
                field="objectives",
            )
        _require(self.max_params is None or (_is_int(self.max_params) and self.max_params >= 1), "max_params",
                 "an integer >= 1", self.max_params)  # fmt: skip
        flops = self.max_flops
        _require(flops is None or (isinstance(flops, int | float) and not isinstance(flops, bool) and flops > 0),
                 "max_flops", "a number > 0", flops)  # fmt: skip

    def searcher_setup(self) -> tuple[type[Searcher], Any]:
        """The searcher class and its options (RunConfigError naming a bad searcher or option)."""
        if isinstance(self.searcher, type) and issubclass(self.searcher, Searcher):
            cls = self.searcher
        else:
            _require(isinstance(self.searcher, str) and bool(self.searcher), "searcher", "a searcher name", self.searcher)
            try:
                cls = get_searcher_class(self.searcher)
            except ValueError as error:
                raise RunConfigError(str(error), field="searcher") from None
        try:
            return cls, build_searcher_options(cls, {**self.searcher_options, **fidelity_options(self, cls)})
        except OptionsError as error:
            raise RunConfigError(str(error), field=error.option or "searcher_options") from None

    @property
    def random_initial_trials(self) -> int | None:
        """How many first asks are random before a model-based searcher uses its model (its
        ``n_init`` option), or ``None`` for a searcher without such a phase."""
        cls, options = self.searcher_setup()
        n_init = None if is_multi_fidelity(cls) else getattr(options, "n_init", None)
        return None if n_init is None else int(n_init)

    @property
    def searcher_name(self) -> str:
        """The searcher's registered name (its qualified class name if it is not registered)."""
        if isinstance(self.searcher, str):
            return self.searcher
        try:
            return name_of(self.searcher, "searcher")
        except ValueError:
            return f"{self.searcher.__module__}.{self.searcher.__qualname__}"

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
        """The JSON-able record stored in the run directory: execution keys left out, the searcher
        by name with all its options (defaults filled in, components as name and options)."""
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in EXECUTION_KEYS}
        record["objective"] = self.objective_name
        record["search_space"] = resolved_space(self.search_space)
        record["plugins"] = list(self.plugins)
        record["objective_options"] = json.loads(json.dumps(dict(self.objective_options), default=repr))
        record["searcher"] = self.searcher_name
        record["searcher_options"] = options_record(self.searcher_setup()[1])
        return record

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed (validated)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return RunConfig(**values)


_OLD_OPTION_KEYS = ("surrogate_model", "pool_strategy", "pool_size", "n_init", "p_self_crossover")
"""Searcher options that records of older versions held as top-level keys."""


def upgrade_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record stored by an older version (searcher options as top-level keys, no canonical key)
    in today's form; today's records are returned unchanged."""
    record = dict(record)
    if "searcher_options" not in record:
        old = {key: record.pop(key) for key in _OLD_OPTION_KEYS if key in record}
        try:
            cls = get_searcher_class(record.get("searcher"))
            own = build_searcher_options(cls, {k: v for k, v in old.items() if k in option_defaults(cls.Options)})
            taken = accepted_options(cls, own)  # e.g. p_self_crossover only with the evolution pool
            options = build_searcher_options(cls, {k: v for k, v in old.items() if k in taken})
            record["searcher_options"] = options_record(options)
        except ValueError:
            record["searcher_options"] = old  # compared as stored: the difference is reported
    else:  # options added since the record was stored take their defaults
        try:
            defaults = options_record(get_searcher_class(record.get("searcher")).Options())
        except (ValueError, TypeError):  # a searcher not registered here: compared as stored
            defaults = {}
        record["searcher_options"] = _with_defaults(record["searcher_options"], defaults)
    record.setdefault("canonical_key", "auto")
    for key, default in (("objectives", []), ("max_params", None), ("max_flops", None), ("fidelity", "epochs"),
                         ("min_train_subset", None), ("max_train_subset", None)):  # fmt: skip
        record.setdefault(key, default)
    return record


def _with_defaults(stored: Any, defaults: Mapping[str, Any]) -> Any:
    """``stored`` options with the keys it lacks taken from ``defaults``, also inside components of
    the same name (a component stored under another name keeps exactly its stored options)."""
    if not isinstance(stored, Mapping):
        return stored
    merged = dict(stored)
    for key, default in defaults.items():
        if key not in merged:
            merged[key] = default
        elif isinstance(default, Mapping) and isinstance(merged[key], Mapping):
            if merged[key].get("name") == default.get("name"):
                merged[key] = _with_defaults(merged[key], default)
    return merged


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between a stored and a current record, with (stored, current);
    the searchers' options are not compared when the searchers differ."""
    stored, current = upgrade_record(stored), upgrade_record(current)
    stored, current = (
        {**record, "search_space": resolved_space(record["search_space"])} if "search_space" in record else record
        for record in (stored, current)
    )
    keys = (set(stored) | set(current)) - RESUMABLE_KEYS - EXECUTION_KEYS
    if stored.get("searcher") != current.get("searcher"):
        keys.discard("searcher_options")
    return {
        key: (stored.get(key), current.get(key))
        for key in sorted(keys)
        if _normalise(stored.get(key)) != _normalise(current.get(key))
    }


def _flat(options: Any) -> dict[str, Any]:
    """The fields of an options dataclass as flat ``searcher_options`` (components as instances)."""
    return {name: getattr(options, name) for name in options.__dataclass_fields__}


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

