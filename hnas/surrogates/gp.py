"""An exact GP over precomputed kernel blocks: the kernel is a softmax-weighted sum of Gram matrices.

The training covariance is ``K = sum_c softmax(w)_c K_c + noise * I`` where the ``K_c`` are fixed,
precomputed Gram matrices (e.g. WL kernels of the flattened graph and of each hierarchy level).
:func:`fit_hyperparameters` fits ``w`` and the noise on the negative log marginal likelihood with
gpytorch (an :class:`~gpytorch.models.ExactGP` whose inputs are integer indices into the blocks),
for a batch of candidate block stacks at once (one per WL depth of the flattened graph), and keeps
each candidate's best step. :class:`BlockPosterior` then holds one candidate's parameters and
predicts from cross blocks only: the training Cholesky factor is computed once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch

__all__ = [
    "BlockKernel",
    "BlockGP",
    "FittedHyperparameters",
    "fit_hyperparameters",
    "fit_profiled",
    "BlockPosterior",
]

NOISE_BOUNDS = (1e-5, 0.5)
"""Interval the (standardised-scale) noise variance is kept in."""


class BlockKernel(gpytorch.kernels.Kernel):
    """``k(i, j) = sum_c softmax(w)_c blocks[c, i, j]`` for integer inputs ``i, j`` (as floats).

    ``blocks`` has shape ``(*batch, C, n, n)``; ``w`` starts uniform (all zero).
    """

    has_lengthscale = False

    def __init__(self, blocks: torch.Tensor) -> None:
        super().__init__(batch_shape=blocks.shape[:-3])
        self.register_buffer("blocks", blocks)
        self.register_parameter(
            "raw_weights", torch.nn.Parameter(torch.zeros(blocks.shape[:-2], dtype=blocks.dtype))
        )

    @property
    def weights(self) -> torch.Tensor:
        """Softmax of the raw weights, shape ``(*batch, C)``."""
        return torch.softmax(self.raw_weights, dim=-1)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: object
    ) -> torch.Tensor:
        # Inputs are the same indices in every batch member: take the first.
        i1 = x1[..., 0].long().reshape(-1, x1.shape[-2])[0]
        i2 = x2[..., 0].long().reshape(-1, x2.shape[-2])[0]
        combined = torch.einsum("...c,...cij->...ij", self.weights, self.blocks)
        if diag:
            return combined.diagonal(dim1=-2, dim2=-1)[..., i1]
        return combined.index_select(-2, i1).index_select(-1, i2)


class BlockGP(gpytorch.models.ExactGP):
    """Zero-mean exact GP on indices ``0..n-1`` into precomputed blocks (targets standardised)."""

    def __init__(
        self, blocks: torch.Tensor, y: torch.Tensor, likelihood: gpytorch.likelihoods.GaussianLikelihood
    ) -> None:
        batch_shape = blocks.shape[:-3]
        n = blocks.shape[-1]
        x = torch.arange(n, dtype=blocks.dtype).unsqueeze(-1).expand(*batch_shape, n, 1)
        super().__init__(x, y.expand(*batch_shape, n), likelihood)
        self.mean_module = gpytorch.means.ZeroMean(batch_shape=batch_shape)
        self.covar_module = BlockKernel(blocks)

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


@dataclass(frozen=True)
class FittedHyperparameters:
    """Best step of each candidate: ``weights (B, C)``, ``noise (B,)``, ``nll (B,)``; ``history``
    ``(n_steps + 1, B)`` holds the NLL at the initial parameters (row 0, uniform weights and the
    initial noise) and after each Adam step."""

    weights: np.ndarray
    noise: np.ndarray
    nll: np.ndarray
    history: np.ndarray
    scale: np.ndarray | None = None  # fit_profiled's output scale per candidate (None: 1)

    @property
    def initial_nll(self) -> np.ndarray:
        return self.history[0]


def fit_hyperparameters(
    blocks: np.ndarray,
    y: np.ndarray,
    *,
    n_steps: int = 20,
    lr: float = 0.1,
    noise_init: float = 1e-3,
) -> FittedHyperparameters:
    """Minimise the negative log marginal likelihood of each candidate block stack with Adam.

    ``blocks`` has shape ``(B, C, n, n)`` (B candidates, each a stack of C Gram matrices), ``y``
    shape ``(n,)`` (standardised). Candidates are optimised as one gpytorch batch: their
    parameters are independent and Adam works per element, so this is B separate fits. Each
    candidate's NLL is evaluated at the start and after every step; the best step's parameters
    are returned together with their NLL (summed over the n points, not divided by n).
    """
    if blocks.ndim != 4 or blocks.shape[-1] != blocks.shape[-2] or blocks.shape[-1] != len(y):
        raise ValueError(f"blocks must have shape (B, C, n, n) with n = len(y) = {len(y)}, got {blocks.shape}")
    if not NOISE_BOUNDS[0] <= noise_init <= NOISE_BOUNDS[1]:
        raise ValueError(f"noise_init must lie in {NOISE_BOUNDS}, got {noise_init}")
    n_batch, n = blocks.shape[0], blocks.shape[-1]
    blocks_t = torch.as_tensor(blocks, dtype=torch.float64)
    y_t = torch.as_tensor(y, dtype=torch.float64)
    likelihood = gpytorch.likelihoods.GaussianLikelihood(
        batch_shape=torch.Size([n_batch]),
        noise_constraint=gpytorch.constraints.Interval(*NOISE_BOUNDS),
    ).double()
    likelihood.noise = torch.full((n_batch, 1), noise_init, dtype=torch.float64)
    model = BlockGP(blocks_t, y_t, likelihood).double()
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    x = model.train_inputs[0]
    targets = model.train_targets

    best_nll = np.full(n_batch, np.inf)
    best_weights = np.empty(blocks.shape[:2])
    best_noise = np.empty(n_batch)
    history = np.empty((n_steps + 1, n_batch))
    with gpytorch.settings.max_cholesky_size(10**6):
        for step in range(n_steps + 1):
            optimiser.zero_grad()
            nll = -mll(model(x), targets) * n
            values = history[step] = nll.detach().numpy()
            better = values < best_nll
            if better.any():
                best_nll[better] = values[better]
                best_weights[better] = model.covar_module.weights.detach().numpy()[better]
                best_noise[better] = likelihood.noise.detach().numpy()[better, 0]
            if step == n_steps:
                break
            nll.sum().backward()
            optimiser.step()
    return FittedHyperparameters(best_weights, best_noise, best_nll, history)


def _profiled_nll(chol: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NLL of ``y ~ N(0, s A)`` at the best scale ``s = y' A^-1 y / n`` (``chol``: Cholesky of A,
    batched), and that scale."""
    n = y.shape[-1]
    z = torch.linalg.solve_triangular(chol, y.expand(*chol.shape[:-1]).unsqueeze(-1), upper=False)
    scale = ((z * z).sum((-2, -1)) / n).clamp_min(MIN_SCALE)
    logdet = 2.0 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return 0.5 * n * (1.0 + torch.log(2 * math.pi * scale)) + 0.5 * logdet, scale


MIN_SCALE = 1e-8
"""Smallest output scale (all-equal targets would give 0)."""
RATIO_BOUNDS = (1e-6, 1.0)
"""Interval of the noise-to-signal ratio ``r`` of :func:`fit_profiled` (noise = scale * r)."""
RATIO_GRID = tuple(float(r) for r in np.logspace(-5, 0, 11))
"""Initial ratios tried (with uniform weights) before L-BFGS refines the best one."""


def fit_profiled(
    blocks: np.ndarray, y: np.ndarray, *, n_steps: int = 30, noise_init: float = 1e-3
) -> FittedHyperparameters:
    """Fit ``K = s (sum_c softmax(w)_c K_c + r I)`` by marginal likelihood, with the scale ``s``
    profiled out in closed form: a grid over the ratio ``r`` (:data:`RATIO_GRID`, uniform
    weights) picks the start, then L-BFGS (``n_steps`` iterations) refines ``w`` and ``log r``.

    Same shapes and result as :func:`fit_hyperparameters`, plus ``scale (B,)``; ``noise`` is the
    *ratio* r (the noise variance is ``scale * r``). ``history`` row 0 is the NLL at uniform weights
    and r = ``noise_init`` (the paper's starting point), row 1 at the grid's best ratio, row 2 at
    the result.
    """
    if blocks.ndim != 4 or blocks.shape[-1] != blocks.shape[-2] or blocks.shape[-1] != len(y):
        raise ValueError(f"blocks must have shape (B, C, n, n) with n = len(y) = {len(y)}, got {blocks.shape}")
    n_batch, n_comp, n = blocks.shape[0], blocks.shape[1], blocks.shape[-1]
    blocks_t = torch.as_tensor(blocks, dtype=torch.float64)
    y_t = torch.as_tensor(np.asarray(y, dtype=np.float64))
    eye = torch.eye(n, dtype=torch.float64)
    lo, hi = math.log(RATIO_BOUNDS[0]), math.log(RATIO_BOUNDS[1])

    def nll_of(raw_w: torch.Tensor, log_r: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = torch.einsum("c,cij->ij", torch.softmax(raw_w, -1), blocks_t[b])
        ratio = log_r.clamp(lo, hi).exp()
        chol, info = torch.linalg.cholesky_ex(k + ratio[..., None, None] * eye)
        nll, scale = _profiled_nll(chol, y_t)
        return torch.where(info == 0, nll, torch.full_like(nll, math.inf)), scale

    with torch.no_grad():
        grid = torch.log(torch.tensor((noise_init, *RATIO_GRID), dtype=torch.float64))
        mean_k = blocks_t.mean(1)  # uniform weights
        chol, info = torch.linalg.cholesky_ex(mean_k[:, None] + grid.exp()[None, :, None, None] * eye)
        grid_nll = torch.where(info == 0, _profiled_nll(chol, y_t)[0], torch.full(info.shape, math.inf))
        start = grid[grid_nll.argmin(1)]
    history = [grid_nll[:, 0].numpy(), grid_nll.min(1).values.numpy()]
    weights = np.full((n_batch, n_comp), 1.0 / n_comp)
    ratio = start.exp().numpy()
    # One L-BFGS per candidate: a shared line search would couple them.
    for b in range(n_batch if n_steps > 0 else 0):
        raw_w = torch.zeros(n_comp, dtype=torch.float64, requires_grad=True)
        log_r = start[b].clone().requires_grad_(True)
        optimiser = torch.optim.LBFGS(
            [raw_w, log_r] if n_comp > 1 else [log_r], max_iter=n_steps, line_search_fn="strong_wolfe"
        )

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            nll = nll_of(raw_w, log_r, b)[0]
            if torch.isfinite(nll):
                nll.backward()
            return nll

        optimiser.step(closure)
        with torch.no_grad():
            if nll_of(raw_w, log_r, b)[0].item() < history[1][b]:
                weights[b] = torch.softmax(raw_w, -1).numpy()
                ratio[b] = log_r.clamp(lo, hi).exp().item()
    with torch.no_grad():
        chol = torch.linalg.cholesky(
            torch.einsum("bc,bcij->bij", torch.as_tensor(weights), blocks_t)
            + torch.as_tensor(ratio)[:, None, None] * eye
        )
        best_nll, best_scale = _profiled_nll(chol, y_t)
    history.append(best_nll.numpy())
    return FittedHyperparameters(
        weights, ratio, best_nll.numpy(), np.stack(history), scale=best_scale.numpy()
    )


class BlockPosterior:
    """GP posterior for fixed parameters: Cholesky of the training block computed once.

    ``train_blocks (C, n, n)``, ``weights (C,)``, ``noise`` and standardised targets ``y``; the
    covariance is ``scale * (sum_c weights_c K_c + noise I)`` (``scale`` 1: the paper's model).
    :meth:`condition` adds observations without refitting (a rank-k update of the factor).
    """

    def __init__(
        self, train_blocks: np.ndarray, weights: np.ndarray, noise: float, y: np.ndarray, scale: float = 1.0
    ) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.noise = float(noise)
        self.scale = float(scale)
        k = np.tensordot(self.weights, train_blocks, axes=1)
        k[np.diag_indices_from(k)] += self.noise
        self._set(torch.linalg.cholesky(torch.as_tensor(k)), np.asarray(y, dtype=np.float64))

    def _set(self, chol: torch.Tensor, y: np.ndarray) -> None:
        self._chol = chol
        self._y = y
        y_t = torch.as_tensor(y).unsqueeze(-1)
        self._alpha = torch.cholesky_solve(y_t, chol)
        n = len(y)
        self.nll = float(
            0.5 * (y_t * self._alpha).sum() / self.scale
            + chol.diagonal().log().sum()
            + 0.5 * n * math.log(self.scale)
            + 0.5 * n * math.log(2 * math.pi)
        )
        """Negative log marginal likelihood of the training targets under these parameters."""

    def condition(self, cross_blocks: np.ndarray, new_blocks: np.ndarray, y_new: np.ndarray) -> BlockPosterior:
        """The posterior with k more observations ``y_new`` (standardised) at new points, same
        parameters: ``cross_blocks (C, k, n)`` against the training points, ``new_blocks (C, k, k)``
        among the new points. The factor grows by a block row (O(n^2 k)); equal to building the
        posterior on all n + k points."""
        k_cross = torch.as_tensor(np.tensordot(self.weights, cross_blocks, axes=1))
        k_new = np.tensordot(self.weights, new_blocks, axes=1)
        k_new[np.diag_indices_from(k_new)] += self.noise
        b = torch.linalg.solve_triangular(self._chol, k_cross.T, upper=False).T  # (k, n)
        corner = torch.linalg.cholesky(torch.as_tensor(k_new) - b @ b.T)
        n, m = self._chol.shape[0], corner.shape[0]
        chol = torch.zeros((n + m, n + m), dtype=torch.float64)
        chol[:n, :n] = self._chol
        chol[n:, :n] = b
        chol[n:, n:] = corner
        out = object.__new__(BlockPosterior)
        out.weights, out.noise, out.scale = self.weights, self.noise, self.scale
        out._set(chol, np.concatenate([self._y, np.asarray(y_new, dtype=np.float64)]))
        return out

    def predict(self, cross_blocks: np.ndarray, prior_var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and variance at m new points from ``cross_blocks (C, m, n)`` and the
        points' prior variances per block ``prior_var (C, m)``."""
        k_cross = torch.as_tensor(np.tensordot(self.weights, cross_blocks, axes=1))
        mean = (k_cross @ self._alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(self._chol, k_cross.T, upper=False)
        var = torch.as_tensor(self.weights @ prior_var) - (v * v).sum(0)
        return mean.numpy(), (self.scale * var.clamp_min(0.0)).numpy()
