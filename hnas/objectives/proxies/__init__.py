"""Zero-cost proxies: scores of an untrained network from one batch, higher = better.

Every proxy is a function ``proxy(model, x, y, generator) -> float`` of a network, a batch of
normalised images ``x`` with labels ``y`` and a ``torch.Generator`` for the proxies that draw
random numbers (``zen``); docs/zero_cost.md gives each definition and its source. As objectives
(lower is better) their value is ``-score``. :func:`score_proxies` gives every proxy its own copy
of the network and its own generator seeded with ``seed``, so the network passed in is left as it
was and a proxy's score does not depend on which other proxies are scored.

- data-dependent saliencies (zero-cost-nas): ``grad_norm``, ``snip``, ``plain``, ``grasp``, ``fisher``;
- data-free: ``synflow`` (logged), ``l2_norm``, ``params``, ``zen`` (Gaussian inputs);
- input Jacobians: ``jacov``, ``epe_nas``;
- activation codes: ``naswot`` (NASLib's ``nwot``), ``linear_regions``;
- trainability: ``ntk`` (minus the NTK condition number).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch
from torch import nn

from hnas.objectives.errors import ObjectiveError
from hnas.objectives.proxies.activation_patterns import linear_regions, naswot
from hnas.objectives.proxies.jacobian import epe_nas, jacov
from hnas.objectives.proxies.ntk import ntk
from hnas.objectives.proxies.saliency import fisher, grad_norm, grasp, l2_norm, params, plain, snip, synflow
from hnas.objectives.proxies.zen import zen

__all__ = ["PROXIES", "Proxy", "score_proxies", "check_proxy_names"]

Proxy = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], float]

PROXIES: dict[str, Proxy] = {
    "naswot": naswot,
    "synflow": synflow,
    "grad_norm": grad_norm,
    "jacov": jacov,
    "params": params,
    "snip": snip,
    "grasp": grasp,
    "fisher": fisher,
    "plain": plain,
    "l2_norm": l2_norm,
    "epe_nas": epe_nas,
    "zen": zen,
    "ntk": ntk,
    "linear_regions": linear_regions,
}
"""Every zero-cost proxy by name; each name is also an objective (``get_objective``)."""


def check_proxy_names(names: Iterable[str] | str) -> tuple[str, ...]:
    """Proxy names from a sequence or a comma-separated string; an unknown one is an error."""
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    names = tuple(dict.fromkeys(names))
    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise ObjectiveError(
            f"unknown zero-cost proxy {', '.join(map(repr, unknown))}; known: {', '.join(PROXIES)}"
        )
    return names


def score_proxies(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: Iterable[str], *, seed: int = 0
) -> dict[str, float]:
    """Each named proxy's score of ``model`` on the batch ``(x, y)``, each on a fresh copy of the
    network with a fresh generator seeded with ``seed``."""
    return {
        name: PROXIES[name](copy.deepcopy(model), x, y, torch.Generator().manual_seed(seed))
        for name in check_proxy_names(names)
    }
