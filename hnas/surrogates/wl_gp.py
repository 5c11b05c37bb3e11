"""GP surrogates with WL kernels on architectures: ``gp`` (WL) and ``gp_hierarchical`` (hWL).

``gp_hierarchical`` uses ``k(t, t') = sum_j softmax(w)_j k_WL(G_j(t), G_j(t'))`` over the flattened
graph (j = 0) and each hierarchy level (j = 1..n), every ``k_WL`` cosine-normalised; the levels use
WL depth 2 and the flattened graph's depth is chosen from 0..4 by marginal likelihood at each fit.
``gp`` is the WL kernel of the flattened graph alone at depth 2. Targets are standardised;
predictions come back in the original scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hnas.grammar.tree import Tree
from hnas.kernels.hierarchical import Component, TreeWLFeatures
from hnas.surrogates.gp import BlockPosterior, fit_hyperparameters

__all__ = ["GPParameters", "WLGaussianProcess"]


@dataclass(frozen=True)
class GPParameters:
    """The parameters a fitted surrogate predicts with.

    ``weights[c]`` weighs ``components[c]`` (``"flattened"``, ``"level_1"``, ...); ``noise`` is the
    noise variance on the standardised scale; ``depth`` the WL depth of the flattened graph;
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
        n_steps: int = 20,
        lr: float = 0.1,
        noise_init: float = 1e-3,
    ) -> None:
        if not depths or len(set(depths)) != len(depths) or min(depths) < 0:
            raise ValueError(f"depths must be distinct non-negative WL depths, got {list(depths)}")
        if n_steps < 0 or lr <= 0:
            raise ValueError(f"need n_steps >= 0 and lr > 0, got n_steps={n_steps}, lr={lr}")
        self.name = name
        self.features = features
        self.depths = tuple(int(d) for d in depths)
        self.levels: tuple[Component, ...] = tuple((j, level_depth) for j in range(1, n_levels + 1))
        self.n_steps = n_steps
        self.lr = lr
        self.noise_init = noise_init
        self._train: list[Tree] = []
        self._posterior: BlockPosterior | None = None
        self._params: GPParameters | None = None

    def _components(self, depth: int) -> list[Component]:
        return [(0, depth), *self.levels]

    def fit(self, trees: Sequence[Tree], y: Sequence[float] | np.ndarray) -> WLGaussianProcess:
        """Fit weights, noise and the flattened graph's WL depth on ``(trees, y)``."""
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
        fitted = fit_hyperparameters(
            blocks, y_standard, n_steps=self.n_steps, lr=self.lr, noise_init=self.noise_init
        )
        best = int(np.argmin(fitted.nll))
        posterior = BlockPosterior(blocks[best], fitted.weights[best], fitted.noise[best], y_standard)
        self._train = trees
        self._posterior = posterior
        self._params = GPParameters(
            components=("flattened", *(f"level_{j}" for j, _ in self.levels)),
            weights=posterior.weights.copy(),
            noise=posterior.noise,
            depth=self.depths[best],
            nll=posterior.nll,
            initial_nll=float(fitted.initial_nll[best]),
            depth_nll={d: float(v) for d, v in zip(self.depths, fitted.nll)},
            y_mean=y_mean,
            y_std=y_std,
        )
        return self

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
        components = self._components(p.depth)
        cross = self.features.gram(trees, self._train, components)
        prior_var = self.features.self_similarity(trees, components)
        mean, var = self._posterior.predict(cross, prior_var)
        if include_noise:
            var = var + p.noise
        return mean * p.y_std + p.y_mean, var * p.y_std**2
