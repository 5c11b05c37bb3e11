"""Objectives by name or reference: ``get_objective(name, data_path=None, **options)``, and
``register_objective(name, factory)`` for a user's (e.g. a plugin's) own objectives."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnas.objectives import activation, darts, embedded, loaders
from hnas.objectives.data import ImageData
from hnas.objectives.errors import ObjectiveError
from hnas.objectives.function import FunctionObjective
from hnas.objectives.objective import DebugObjective, Objective, ProxyObjective, TrainingObjective
from hnas.objectives.protocols import EMBEDDED, NB201, NB201_IMAGENET16, NB360, TrainingProtocol
from hnas.objectives.proxies import PROXIES
from hnas.plugins import is_reference, resolve_reference
from hnas.registry import Registry

__all__ = [
    "OBJECTIVES",
    "TASKS",
    "DEFAULT_OBJECTIVE",
    "ObjectiveFactory",
    "get_objective",
    "load_task",
    "objective_names",
    "register_objective",
    "task_shape",
]


@dataclass(frozen=True)
class _Task:
    """A dataset and the protocol it is trained with; ``layout`` says what ``--data_path`` holds."""

    load: Callable[[Path | None], ImageData]
    protocol: TrainingProtocol
    layout: str | None  # None: embedded, no data path
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W) of the dataset as published


_TASKS: dict[str, _Task] = {
    "digits": _Task(lambda _: embedded.load_digits_task(), EMBEDDED, None, 10, (1, 8, 8)),
    "addnist_mini": _Task(lambda _: embedded.load_addnist_mini(), EMBEDDED, None, 20, (3, 8, 8)),
    "nb201_cifar10": _Task(loaders.load_cifar10, NB201, loaders.CIFAR10_LAYOUT, 10, (3, 32, 32)),
    "nb201_cifar100": _Task(loaders.load_cifar100, NB201, loaders.CIFAR100_LAYOUT, 100, (3, 32, 32)),
    "nb201_ImageNet16-120": _Task(
        loaders.load_imagenet16_120, NB201_IMAGENET16, loaders.IMAGENET16_LAYOUT, 120, (3, 16, 16)
    ),
    "nb201_cifarTile": _Task(
        lambda path: loaders.load_npy_task(path, "cifarTile", "cifarTile", 4), NB360,
        loaders.NPY_LAYOUT.format(last=3, sub="cifarTile"), 4, (3, 64, 64),
    ),
    "nb201_addNIST": _Task(
        lambda path: loaders.load_npy_task(path, "addNIST", "addNIST", 20), NB360,
        loaders.NPY_LAYOUT.format(last=19, sub="addNIST"), 20, (3, 28, 28),
    ),
}

TASKS: tuple[str, ...] = tuple(_TASKS)
"""The training objectives (a dataset and its protocol)."""

DEFAULT_OBJECTIVE = "digits"
"""Runs offline in seconds per architecture: the runner's objective when none is named."""

_SPACE_OBJECTIVES = {**activation.FACTORIES, **darts.FACTORIES}  # factory(data_path=None, **options)

OBJECTIVES: tuple[str, ...] = (*_TASKS, *PROXIES, "debug", *_SPACE_OBJECTIVES)
"""The built-in objective names (:func:`objective_names` adds the registered ones)."""

ObjectiveFactory = Callable[..., Any]
"""``factory(data_path=None, **options)``: an object with ``evaluate(tree, seed)`` or a plain
function ``tree -> float | EvaluationResult | mapping`` (``(tree, seed)`` also accepted)."""

_PROTOCOL_FIELDS = {f.name: f.type for f in dataclasses.fields(TrainingProtocol)}
_TRAINING_OPTIONS = {**_PROTOCOL_FIELDS, "train_subset": "int", "eval_subset": "int",
                     "proxies": "str", "proxy_batch_size": "int", "device": "str"}
_PROXY_OPTIONS = {"dataset": "str", "batch_size": "int", "proxies": "str", "device": "str"}
_DEBUG_OPTIONS = {"target_params": "int", "num_classes": "int", "input_shape": "tuple"}


def _canonical(name: str, names: tuple[str, ...], hint: str = "") -> str:
    """``name`` as registered: an exact match first, else the one match ignoring case."""
    if isinstance(name, str) and name in names:
        return name
    by_lower = {n.lower(): n for n in names}
    if not isinstance(name, str) or name.lower() not in by_lower:
        raise ObjectiveError(f"unknown objective {name!r}; known: {', '.join(names)}{hint}")
    return by_lower[name.lower()]


def _coerce(name: str, value: Any, kind: str) -> Any:
    """Option values from a command line arrive as strings: convert numbers and booleans."""
    if not isinstance(value, str) or kind in ("str", "tuple"):
        return value
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        article = "an" if kind == "int" else "a"
        raise ObjectiveError(f"option {name} must be {article} {kind}, got {value!r}") from None
    if kind == "bool" and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    return value


def _checked_options(objective: str, options: dict[str, Any], known: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ObjectiveError(
            f"objective {objective} has no option {', '.join(unknown)}; options: {', '.join(sorted(known))}"
        )
    return {key: _coerce(key, value, known[key]) for key, value in options.items() if value is not None}


def task_shape(name: str) -> tuple[int, tuple[int, int, int]]:
    """``(classes, (C, H, W))`` of a training objective's dataset, without loading any data."""
    task = _TASKS[_canonical(name, TASKS)]
    return task.num_classes, task.input_shape


def load_task(name: str, data_path: str | Path | None = None) -> tuple[ImageData, TrainingProtocol]:
    """The dataset and default protocol of a training objective (``digits``, ``nb201_cifar10``, ...)."""
    name = _canonical(name, tuple(_TASKS))
    task = _TASKS[name]
    if task.layout is None:
        return task.load(None), task.protocol
    if data_path is None:
        raise ObjectiveError(f"objective {name} needs a data path (--data_path) holding {task.layout}")
    if not Path(data_path).is_dir():
        raise ObjectiveError(
            f"data path {data_path} is not a folder; objective {name} expects it to hold {task.layout}"
        )
    return task.load(Path(data_path)), task.protocol


def register_objective(name: str, factory: ObjectiveFactory, replace: bool = False) -> ObjectiveFactory:
    """Make ``get_objective(name, data_path, **options)`` return ``factory(data_path=..., **options)``.

    ``factory`` returns an object with ``evaluate(tree, seed)`` or a plain function ``tree ->
    float | EvaluationResult | mapping`` (or ``(tree, seed) -> ...``); ``data_path`` is passed only
    when one is given. An existing name (built-ins included) needs ``replace=True``. Returns
    ``factory`` (so it works as a decorator: ``register_objective("acc", factory)``).
    """
    if not callable(factory):
        raise ObjectiveError(f"objective {name!r}: the factory must be callable, got {factory!r}")
    if isinstance(name, str) and ":" in name:
        raise ObjectiveError(f"objective name {name!r} must not contain ':' (that marks a module:function reference)")
    return _REGISTRY.register(name, factory, replace=replace)


def objective_names() -> tuple[str, ...]:
    """Every registered objective name: the built-ins, then the user's in registration order."""
    return _REGISTRY.names()


def _debug_factory(data_path: str | Path | None = None, **options: Any) -> Objective:
    return DebugObjective(**_checked_options("debug", options, _DEBUG_OPTIONS))


def _proxy_factory(name: str, data_path: str | Path | None = None, **options: Any) -> Objective:
    options = _checked_options(name, options, _PROXY_OPTIONS)
    data, _ = load_task(options.pop("dataset", DEFAULT_OBJECTIVE), data_path)
    return ProxyObjective(name, data, **options)


def _training_factory(name: str, data_path: str | Path | None = None, **options: Any) -> Objective:
    options = _checked_options(name, options, _TRAINING_OPTIONS)
    data, protocol = load_task(name, data_path)
    data = data.subsets(options.pop("train_subset", None), options.pop("eval_subset", None))
    protocol = protocol.replace(**{k: options.pop(k) for k in list(options) if k in _PROTOCOL_FIELDS})
    return TrainingObjective(name, data, protocol, **options)


_REGISTRY: Registry[ObjectiveFactory] = Registry("objective")
for _task in _TASKS:
    _REGISTRY.register(_task, functools.partial(_training_factory, _task))
for _proxy in PROXIES:
    _REGISTRY.register(_proxy, functools.partial(_proxy_factory, _proxy))
_REGISTRY.register("debug", _debug_factory)
for _task, _factory in _SPACE_OBJECTIVES.items():
    _REGISTRY.register(_task, _factory)
del _task, _proxy, _factory


def _from_factory(name: str, factory: ObjectiveFactory, data_path: str | Path | None, options: dict[str, Any]) -> Any:
    kwargs = dict(options)
    if data_path is not None:
        kwargs["data_path"] = data_path
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as error:
        raise ObjectiveError(f"objective {name}: {error} (options given: {', '.join(kwargs) or 'none'})") from None
    except ValueError:
        pass  # no signature to check (a builtin): let the call say
    built = factory(**kwargs)
    if hasattr(built, "evaluate"):
        return built
    if callable(built):
        return FunctionObjective(built, name)
    raise ObjectiveError(f"objective {name}: the factory returned {type(built).__name__}, "
                         "not an object with evaluate(tree, seed) nor a function")


def get_objective(name: str, data_path: str | Path | None = None, **options: Any) -> Any:
    """The objective ``name``, its data loaded from ``data_path``: an object with
    ``evaluate(tree, seed) -> EvaluationResult``.

    ``name`` is a registered objective (:func:`objective_names`: the built-ins of :data:`OBJECTIVES`
    and those of :func:`register_objective`; built-in names ignore case) or a reference
    ``module:function`` / ``path/file.py:function`` to a function ``tree -> float |
    EvaluationResult | mapping`` (or ``(tree, seed) -> ...``), which takes no options.

    Training objectives take the :class:`TrainingProtocol` fields as options (``epochs``,
    ``batch_size``, ``learning_rate``, ...) plus ``train_subset`` / ``eval_subset`` (sizes of fixed
    random subsets of the training / validation and test images), ``proxies`` (zero-cost proxies to
    record in ``extras``), ``proxy_batch_size`` and ``device``. Proxy objectives take ``dataset``
    (a training objective's name, default :data:`DEFAULT_OBJECTIVE`), ``batch_size``, ``proxies``
    and ``device``; ``debug`` takes ``target_params``, ``num_classes`` and ``input_shape``.
    Options set to None are ignored. Raises :class:`ObjectiveError` for an unknown name or option,
    :class:`DataFileError` for a missing or malformed data file and
    :class:`hnas.plugins.PluginError` for a reference that does not load.
    """
    names = objective_names()
    options = {key: value for key, value in options.items() if value is not None}
    if is_reference(name) and name not in names:
        if options:
            raise ObjectiveError(f"objective {name} is a function reference: it takes no options (got {', '.join(options)})")
        function = resolve_reference(name, "objective")
        if hasattr(function, "evaluate"):
            return function
        if not callable(function):
            raise ObjectiveError(f"objective {name} is {type(function).__name__}, not a function")
        return FunctionObjective(function, name)
    name = _canonical(name, names, " (or a function as module:function or file.py:function)")
    return _from_factory(name, _REGISTRY.get(name), data_path, options)
