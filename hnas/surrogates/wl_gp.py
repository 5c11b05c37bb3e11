"""GP surrogates with WL kernels on architectures: ``gp`` (WL) and ``gp_hierarchical`` (hWL).

``gp_hierarchical`` uses ``k(t, t') = s * sum_j softmax(w)_j k_WL(G_j(t), G_j(t'))`` over the
flattened graph (j = 0) and each hierarchy level (j = 1..n), every ``k_WL`` cosine-normalised; the
levels use WL depth 2 and the flattened graph's depth is chosen from 0..4 by marginal likelihood
at each fit. ``gp`` is the WL kernel of the flattened graph alone at depth 2. Targets are
standardised; predictions come back in the original scale.

Two fits (``fit=``): ``"profiled"`` (the default of ``gp``/``gp_hierarchical``) fits an output
scale ``s`` (in closed form), the noise and the weights by marginal likelihood (a grid over the
noise ratio, then L-BFGS-B: :func:`hnas.surrogates.gp.fit_profiled`); ``"paper"`` (``gp_paper``,
``gp_hierarchical_paper``) is the paper's: no output scale (s = 1), noise from 1e-3 and 20 Adam
steps (:func:`hnas.surrogates.gp.fit_hyperparameters`). :meth:`WLGaussianProcess.condition` adds
observations (e.g. fantasies of pending trials) with the fitted parameters kept. Fits, conditioning
and predictions run with one BLAS thread (:func:`hnas.blas_threads.single_threaded_blas`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hnas.blas_threads import single_threaded_blas
from hnas.grammar.tree import Tree
from hnas.kernels.hierarchical import Component, TreeWLFeatures
from hnas.surrogates.gp import BlockPosterior, fit_hyperparameters, fit_profiled

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = ["GPParameters", "WLGaussianProcess", "make_wl_gp", "FITS"]

FITS = ("profiled", "paper")
"""Hyperparameter fits: see the module."""
FLAT_DEPTHS = (0, 1, 2, 3, 4)
"""Candidate WL depths of the flattened graph for ``gp_hierarchical`` (chosen by likelihood)."""
PLAIN_DEPTH = 2
"""WL depth of ``gp`` and of every hierarchy level."""
PRUNED_WEIGHT = 1e-6
"""Fitted kernel weights below this are set to 0 and the others rescaled to sum to 1 (the posterior
is built with these): a graph weighed 0 is never built nor featurised for a candidate."""


@dataclass(frozen=True)
class GPParameters:
    """The parameters a fitted surrogate predicts with.

    ``weights[c]`` weighs ``components[c]`` (``"flattened"``, ``"level_1"``, ...); ``scale`` is the
    kernel's output scale and ``noise`` the noise variance, both on the standardised scale;
    ``depth`` the WL depth of the flattened graph;
    ``nll`` the negative log marginal likelihood of the standardised targets, ``initial_nll`` the
    same at the initial parameters (uniform weights, initial noise) and the chosen depth;
    ``depth_nll`` the best NLL reached for each candidate depth.
    """

    components: tuple[str, ...]
    weights: np.ndarray
    noise: float
    depth: int
    nll: float
    initial_nll: float
    depth_nll: dict[int, float]
    y_mean: float
    y_std: float
    scale: float = 1.0


class WLGaussianProcess:
    """Exact GP on trees with a (hierarchical) WL kernel; ``fit(trees, y)``, ``predict(trees)``."""

    def __init__(
        self,
        name: str,
        features: TreeWLFeatures,
        *,
        depths: Sequence[int],
        n_levels: int,
        level_depth: int = 2,
        fit: str = "profiled",
        n_steps: int | None = None,
        lr: float = 0.1,
        noise_init: float = 1e-3,
    ) -> None:
        if fit not in FITS:
            raise ValueError(f"unknown fit {fit!r}; choose one of {', '.join(FITS)}")
        n_steps = (20 if fit == "paper" else 40) if n_steps is None else n_steps
        if not depths or len(set(depths)) != len(depths) or min(depths) < 0:
            raise ValueError(f"depths must be distinct non-negative WL depths, got {list(depths)}")
        if n_steps < 0 or lr <= 0:
            raise ValueError(f"need n_steps >= 0 and lr > 0, got n_steps={n_steps}, lr={lr}")
        self.name = name
        self.features = features
        self.depths = tuple(int(d) for d in depths)
        self.levels: tuple[Component, ...] = tuple((j, level_depth) for j in range(1, n_levels + 1))
        self.fit_kind = fit
        self.n_steps = n_steps
        self.lr = lr
        self.noise_init = noise_init
        self._train: list[Tree] = []
        self._posterior: BlockPosterior | None = None
        self._params: GPParameters | None = None

    def _components(self, depth: int) -> list[Component]:
        return [(0, depth), *self.levels]

    def _weighed(self) -> list[Component]:
        """The fitted components of nonzero weight: the posterior's blocks."""
        p = self.parameters
        return [c for c, w in zip(self._components(p.depth), p.weights) if w > 0]

    @single_threaded_blas()
    def fit(self, trees: Sequence[Tree], y: Sequence[float] | np.ndarray) -> WLGaussianProcess:
        """Fit weights, noise and the flattened graph's WL depth on ``(trees, y)``.

        Weights below :data:`PRUNED_WEIGHT` are then set to 0 (the others rescaled to sum to 1), and
        the posterior (and ``nll``) is that of these weights, so predictions never build the graphs
        weighed 0 (at n = 50 on the hierarchical space most levels are); docs/surrogates.md has the
        measured effect."""
        trees = list(trees)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1 or len(trees) != len(y):
            raise ValueError(f"need one target per tree: {len(trees)} trees, targets of shape {y.shape}")
        if not trees:
            raise ValueError("cannot fit a surrogate on no trees")
        if not np.all(np.isfinite(y)):
            raise ValueError("targets must be finite (leave failed trials out)")
        y_mean, y_std = float(y.mean()), float(y.std())
        y_std = y_std if y_std > 0 else 1.0
        y_standard = (y - y_mean) / y_std

        n_depths = len(self.depths)
        grams = self.features.gram(trees, None, [(0, d) for d in self.depths] + list(self.levels))
        blocks = np.empty((n_depths, 1 + len(self.levels), len(trees), len(trees)))
        blocks[:, 0] = grams[:n_depths]
        blocks[:, 1:] = grams[n_depths:]
        if self.fit_kind == "paper":
            fitted = fit_hyperparameters(
                blocks, y_standard, n_steps=self.n_steps, lr=self.lr, noise_init=self.noise_init
            )
        else:
            fitted = fit_profiled(blocks, y_standard, n_steps=self.n_steps, noise_init=self.noise_init)
        best = int(np.argmin(fitted.nll))
        scale = 1.0 if fitted.scale is None else float(fitted.scale[best])
        weights = np.where(fitted.weights[best] < PRUNED_WEIGHT, 0.0, fitted.weights[best])
        weights /= weights.sum()  # still a softmax: the largest of C weights is at least 1 / C
        used = np.flatnonzero(weights)
        posterior = BlockPosterior(blocks[best][used], weights[used], fitted.noise[best], y_standard, scale)
        self._train = trees
        self._posterior = posterior
        self._params = GPParameters(
            components=("flattened", *(f"level_{j}" for j, _ in self.levels)),
            weights=weights,
            noise=posterior.noise * scale,
            depth=self.depths[best],
            nll=posterior.nll,
            initial_nll=float(fitted.initial_nll[best]),
            depth_nll={d: float(v) for d, v in zip(self.depths, fitted.nll)},
            y_mean=y_mean,
            y_std=y_std,
            scale=scale,
        )
        return self

    @single_threaded_blas()
    def condition(self, trees: Sequence[Tree], y: Sequence[float] | np.ndarray) -> WLGaussianProcess:
        """A copy conditioned on ``k`` more observations (e.g. pending trials at their predicted
        mean), with every parameter kept (weights, noise, scale, depth, standardisation): the
        training Cholesky factor grows by one block row, no refit. The same as a fit whose
        parameters were fixed to these, on the training trees plus ``trees``."""
        p = self.parameters
        trees = list(trees)
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (len(trees),) or not np.all(np.isfinite(y)):
            raise ValueError(f"need one finite target per tree: {len(trees)} trees, targets of shape {y.shape}")
        out = copy.copy(self)
        if not trees:
            return out
        weighed = self._weighed()
        cross = self.features.gram(trees, self._train, weighed)
        new = self.features.gram(trees, None, weighed)
        out._posterior = self._posterior.condition(cross, new, (y - p.y_mean) / p.y_std)
        out._train = self._train + trees
        return out

    @property
    def parameters(self) -> GPParameters:
        """The fitted parameters (raises before :meth:`fit`)."""
        if self._params is None:
            raise RuntimeError(f"surrogate {self.name!r} is not fitted: call fit(trees, y) first")
        return self._params

    @property
    def weights(self) -> dict[str, float]:
        """Kernel weight of each graph (``flattened``, ``level_1``, ...)."""
        p = self.parameters
        return dict(zip(p.components, p.weights.tolist()))

    @property
    def noise(self) -> float:
        """Noise variance on the standardised scale."""
        return self.parameters.noise

    @property
    def depth(self) -> int:
        """WL depth of the flattened graph."""
        return self.parameters.depth

    @single_threaded_blas()
    def predict(
        self, trees: Sequence[Tree], *, include_noise: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the objective at ``trees`` (original scale).

        The variance is the latent function's; ``include_noise=True`` adds the noise variance
        (the predictive distribution of a new observation).
        """
        p = self.parameters
        trees = list(trees)
        if not trees:
            return np.empty(0), np.empty(0)
        weighed = self._weighed()
        cross = self.features.gram(trees, self._train, weighed)
        prior_var = self.features.self_similarity(trees, weighed)
        mean, var = self._posterior.predict(cross, prior_var)
        if include_noise:
            var = var + p.noise
        return mean * p.y_std + p.y_mean, var * p.y_std**2


def make_wl_gp(
    space: SearchSpace,
    *,
    hierarchical: bool,
    name: str,
    fit: str = "profiled",
    depths: int | Sequence[int] | None = None,
    level_depth: int = PLAIN_DEPTH,
    **options: Any,
) -> WLGaussianProcess:
    """A WL (``hierarchical=False``) or hWL GP for trees of ``space``.

    Options: ``depths`` (WL depths of the flattened graph to choose from; WL: ``(2,)``, hWL:
    ``(0, 1, 2, 3, 4)``), ``level_depth`` (2, hWL only), ``fit`` (``profiled`` or ``paper``),
    ``n_steps`` (L-BFGS-B iterations, 40; paper: Adam steps, 20), ``lr`` (0.1) and ``noise_init``
    (1e-3) of the paper's fit. Features are cached per tree in a process-wide cache shared by
    surrogates of the same kind.
    """
    from hnas.kernels.hierarchical import shared_tree_features

    allowed = {"n_steps", "lr", "noise_init"}
    unknown = sorted(set(options) - allowed)
    if unknown or (not hierarchical and level_depth != PLAIN_DEPTH):
        unknown += [] if hierarchical or level_depth == PLAIN_DEPTH else ["level_depth"]
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for surrogate {name!r}; allowed: "
            f"{', '.join(sorted(allowed | {'depths', 'fit'} | ({'level_depth'} if hierarchical else set())))}"
        )
    n_levels = int(space.hierarchy_depth)
    if depths is None:
        depths = FLAT_DEPTHS if hierarchical else (PLAIN_DEPTH,)
    depths = (int(depths),) if isinstance(depths, int) else tuple(int(d) for d in depths)
    level_depth = int(level_depth)
    if not depths or min(depths) < 0 or level_depth < 0:
        raise ValueError(f"WL depths must be non-negative, got depths={list(depths)}, level_depth={level_depth}")
    # gp uses the flattened graph only: building the hierarchy levels would be wasted work.
    levels = n_levels if hierarchical else 0
    features = shared_tree_features(levels, (max(depths), *([level_depth] * levels)))
    return WLGaussianProcess(
        name, features, depths=depths, n_levels=levels, level_depth=level_depth, fit=fit, **options
    )
