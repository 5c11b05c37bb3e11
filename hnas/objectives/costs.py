"""The values a multi-objective search can minimise (``--objectives``), and the costs of a network
that need no training: parameters, FLOPs and the measured latency.

Names (:func:`check_objective_names`):

- ``val_error``: the objective's value (its validation error; its log with ``--log``);
- ``params``, ``flops``: of the network compiled from the tree, counted without training
  (:func:`network_costs`; FLOPs by one forward pass of one input, see
  :func:`hnas.semantics.count_flops`);
- ``latency``: seconds per forward pass of one input, measured on the device that evaluates the
  trial (:func:`measure_latency`; it depends on that device and its load, so compare it only
  between trials measured on the same kind of machine);
- a zero-cost proxy name (``ntk``, ``linear_regions``, ``jacov``, ...): minus the proxy's score as
  the objective reports it in ``extras`` (e.g. a proxy objective, or a training objective with
  ``proxies``); so ``ntk`` minimises the NTK condition number, ``linear_regions`` maximises the
  number of linear regions;
- ``extras.NAME``: any figure the objective reports in ``extras`` under NAME, minimised as it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hnas.grammar.tree import Tree
from hnas.objectives.errors import ObjectiveError
from hnas.objectives.proxies import PROXIES

__all__ = [
    "COST_NAMES",
    "EXTRAS_PREFIX",
    "LATENCY_REPEATS",
    "check_objective_names",
    "available_objective_names",
    "network_for",
    "network_costs",
    "measure_latency",
    "objective_value",
]

COST_NAMES = ("val_error", "params", "flops", "latency")
"""The built-in names; zero-cost proxy names and ``extras.NAME`` are accepted too."""
EXTRAS_PREFIX = "extras."
LATENCY_REPEATS = 10
"""Timed forward passes per latency measurement (after one warm-up); the median is reported."""
DEFAULT_SHAPE = (10, (3, 32, 32))
"""Classes and input shape a tree is compiled for when the objective declares none."""


def available_objective_names() -> str:
    """The accepted names, for messages."""
    return f"{', '.join(COST_NAMES)}, a zero-cost proxy ({', '.join(PROXIES)}) or {EXTRAS_PREFIX}NAME"


def check_objective_names(names: str | Sequence[str]) -> tuple[str, ...]:
    """The names of ``names`` (a sequence or a comma-separated string), checked: an unknown or
    repeated name is an :class:`ObjectiveError` listing the available ones."""
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    names = tuple(names)
    for name in names:
        known = name in COST_NAMES or name in PROXIES
        extra = isinstance(name, str) and name.startswith(EXTRAS_PREFIX) and len(name) > len(EXTRAS_PREFIX)
        if not (known or extra):
            raise ObjectiveError(f"unknown objective {name!r}; available: {available_objective_names()}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ObjectiveError(f"objective {', '.join(repeated)} is given more than once")
    return names


def network_for(objective: Any, tree: Tree, seed: int = 0) -> tuple[Any, tuple[int, int, int]]:
    """The untrained network of ``tree`` as ``objective`` builds it (its ``build``, else the tree's
    compiler for the objective's ``num_classes`` and ``input_shape``, else 10 classes of 3x32x32
    images) and the input shape of one image."""
    from hnas.semantics import compile_tree

    classes = getattr(objective, "num_classes", DEFAULT_SHAPE[0])
    shape = tuple(getattr(objective, "input_shape", DEFAULT_SHAPE[1]))
    if hasattr(objective, "build"):
        return objective.build(tree, seed), shape
    return compile_tree(tree, num_classes=classes, in_channels=shape[0], rng=np.random.default_rng(seed)), shape


def network_costs(model: Any, input_shape: tuple[int, int, int]) -> dict[str, float]:
    """``{"params": ..., "flops": ...}`` of ``model`` (no training; FLOPs of one input)."""
    from hnas.semantics import count_flops, count_parameters

    return {"params": count_parameters(model), "flops": float(count_flops(model, input_shape))}


def measure_latency(model: Any, input_shape: tuple[int, int, int], repeats: int = LATENCY_REPEATS) -> float:
    """Median seconds of a forward pass of one input through ``model`` in eval mode, on the device
    its parameters are on (after one warm-up pass; CUDA synchronised around each pass)."""
    import torch

    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    x = torch.zeros((1, *map(int, input_shape)), device=device)
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:  # the first pass warms up
                times.append(time.perf_counter() - start)
    return float(np.median(times))


def objective_value(name: str, loss: float, result: Mapping[str, Any]) -> float:
    """The value of objective ``name`` for one evaluated trial: ``loss`` is its (possibly logged)
    validation error, ``result`` the evaluation's record (``params``, ``flops``, ``extras``).
    ObjectiveError when the result lacks it or it is not finite."""
    extras = result.get("extras") or {}
    if name == "val_error":
        value = loss
    elif name in ("params", "flops"):
        value = result.get(name)
    elif name.startswith(EXTRAS_PREFIX) or name == "latency":
        key = name.removeprefix(EXTRAS_PREFIX)
        value = extras.get(key)
    else:  # a zero-cost proxy: minus its score
        value = None if extras.get(name) is None else -float(extras[name])
    if value is None:
        where = "extras" if name not in ("params", "flops") else "its result"
        raise ObjectiveError(
            f"objective {name}: the evaluation reported no {name.removeprefix(EXTRAS_PREFIX)} in {where}"
            + (f" (extras: {', '.join(extras) or 'none'})" if where == "extras" else "")
        )
    value = float(value)
    if not math.isfinite(value):
        raise ObjectiveError(f"objective {name} is {value}")
    return value
