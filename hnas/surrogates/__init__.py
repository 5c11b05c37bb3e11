"""Surrogate models of the objective over architectures: GPs with (hierarchical) WL kernels.

``get_surrogate(name, space)`` returns an object with ``fit(trees, y)`` and
``predict(trees) -> (mean, variance)``; see :mod:`hnas.surrogates.wl_gp`. torch and gpytorch are
imported when a surrogate is built, not with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace
    from hnas.surrogates.wl_gp import GPParameters, WLGaussianProcess

__all__ = ["SURROGATE_NAMES", "GPParameters", "WLGaussianProcess", "canonical_name", "get_surrogate"]

_ALIASES = {"gpwl": "gp", "gpwl_hierarchical": "gp_hierarchical"}
SURROGATE_NAMES = ("gp", "gp_hierarchical", *_ALIASES)
"""Accepted surrogate names (``gpwl`` and ``gpwl_hierarchical`` are aliases)."""

FLAT_DEPTHS = (0, 1, 2, 3, 4)
"""Candidate WL depths of the flattened graph for ``gp_hierarchical`` (chosen by likelihood)."""
PLAIN_DEPTH = 2
"""WL depth of ``gp`` and of every hierarchy level."""


def canonical_name(name: str) -> str:
    """``gp`` or ``gp_hierarchical`` for any accepted spelling; ValueError for an unknown name."""
    canonical = _ALIASES.get(name, name)
    if canonical not in ("gp", "gp_hierarchical"):
        raise ValueError(f"unknown surrogate model {name!r}; choose one of {', '.join(SURROGATE_NAMES)}")
    return canonical


def __getattr__(name: str) -> Any:
    if name in ("GPParameters", "WLGaussianProcess"):
        from hnas.surrogates import wl_gp

        return getattr(wl_gp, name)
    raise AttributeError(f"module 'hnas.surrogates' has no attribute {name!r}")


def get_surrogate(name: str, space: SearchSpace | str, **options: Any) -> WLGaussianProcess:
    """A fresh, unfitted surrogate for trees of ``space`` (a SearchSpace or a registered name).

    Options: ``depths`` (WL depths of the flattened graph to choose from; ``gp``: ``(2,)``,
    ``gp_hierarchical``: ``(0, 1, 2, 3, 4)``), ``level_depth`` (2, hierarchical only),
    ``n_steps`` (20 Adam steps), ``lr`` (0.1), ``noise_init`` (1e-3).
    Features are cached per tree in a process-wide cache shared by surrogates of the same kind.
    """
    canonical = canonical_name(name)
    hierarchical = canonical == "gp_hierarchical"
    allowed = {"depths", "n_steps", "lr", "noise_init"} | ({"level_depth"} if hierarchical else set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for surrogate {name!r}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    from hnas.kernels.hierarchical import shared_tree_features
    from hnas.surrogates.wl_gp import WLGaussianProcess

    if isinstance(space, str):
        from hnas.grammar import load_space

        space = load_space(space)
    n_levels = int(space.hierarchy_depth)
    depths = options.pop("depths", FLAT_DEPTHS if hierarchical else (PLAIN_DEPTH,))
    depths = (int(depths),) if isinstance(depths, int) else tuple(int(d) for d in depths)
    level_depth = int(options.pop("level_depth", PLAIN_DEPTH))
    if not depths or min(depths) < 0 or level_depth < 0:
        raise ValueError(f"WL depths must be non-negative, got depths={list(depths)}, level_depth={level_depth}")
    # gp uses the flattened graph only: building the hierarchy levels would be wasted work.
    levels = n_levels if hierarchical else 0
    features = shared_tree_features(levels, (max(depths), *([level_depth] * levels)))
    return WLGaussianProcess(
        canonical, features, depths=depths, n_levels=levels, level_depth=level_depth, **options
    )
