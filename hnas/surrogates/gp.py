"""An exact GP over precomputed kernel blocks: the kernel is a softmax-weighted sum of Gram matrices.

The training covariance is ``K = sum_c softmax(w)_c K_c + noise * I`` where the ``K_c`` are fixed,
precomputed Gram matrices (e.g. WL kernels of the flattened graph and of each hierarchy level).
:func:`fit_hyperparameters` (the paper's fit) fits ``w`` and the noise on the negative log marginal
likelihood with gpytorch (an :class:`~gpytorch.models.ExactGP` whose inputs are integer indices into
the blocks), for a batch of candidate block stacks at once (one per WL depth of the flattened
graph), and keeps each candidate's best step. :func:`fit_profiled` (the default) also fits an
output scale, in closed form, and refines ``w`` and the noise ratio with scipy's L-BFGS-B on an
analytic gradient (:class:`ProfiledObjective`). :class:`BlockPosterior` then holds one candidate's
parameters and predicts from cross blocks only: the training Cholesky factor is computed once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch
from scipy import linalg, optimize
from scipy.linalg import lapack

__all__ = [
    "BlockKernel",
    "BlockGP",
    "FittedHyperparameters",
    "fit_hyperparameters",
    "fit_profiled",
    "ProfiledObjective",
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


MIN_SCALE = 1e-8
"""Smallest output scale (all-equal targets would give 0)."""
RATIO_BOUNDS = (1e-6, 1.0)
"""Interval of the noise-to-signal ratio ``r`` of :func:`fit_profiled` (noise = scale * r)."""
RATIO_GRID = tuple(float(r) for r in np.logspace(-5, 0, 11))
"""Initial ratios tried (with uniform weights) before L-BFGS-B refines the best one."""
FTOL = 1e-12
"""L-BFGS-B stops when an iteration lowers the NLL by less than this, relative (scipy's default,
2.2e-9, stopped some fits ~0.01 above the optimum while a weight was still sliding to 0)."""


def _cholesky(a: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of the symmetric ``a``, or None where ``a`` is not numerically positive
    definite. Only one triangle of ``a`` is read; a Fortran-ordered ``a`` is factored in place, and
    the factor's upper triangle is left as it was (not zeroed)."""
    chol, info = lapack.dpotrf(a, lower=1, clean=0, overwrite_a=1)
    return chol if info == 0 else None


def _profiled_nll(chol: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """NLL of ``y ~ N(0, s A)`` at the best scale ``s = y' A^-1 y / n`` (``chol``: :func:`_cholesky`
    of A), that scale (at least :data:`MIN_SCALE`) and ``alpha = A^-1 y``."""
    n = len(y)
    alpha = lapack.dpotrs(chol, y, lower=1)[0]
    scale = max(float(y @ alpha) / n, MIN_SCALE)
    logdet = 2.0 * float(np.log(chol.diagonal()).sum())
    return 0.5 * n * (1.0 + math.log(2 * math.pi * scale)) + 0.5 * logdet, scale, alpha


class ProfiledObjective:
    """The profiled NLL of :func:`fit_profiled` for one block stack ``(C, n, n)`` as a function of
    ``theta = (w_1..w_C, log r)`` (only ``log r`` when C = 1), with its analytic gradient.

    With ``A = sum_c p_c K_c + r I``, ``p = softmax(w)``, ``alpha = A^-1 y`` and ``s = y' alpha / n``:
    ``d nll = 0.5 tr(A^-1 dA) - 0.5 alpha' dA alpha / s`` (the scale's own term vanishes at its
    optimum; where ``s`` sits at :data:`MIN_SCALE` it is constant and the second term drops), with
    ``dA / dp_c = K_c`` and ``dA / d log r = r I``, then the softmax's Jacobian. A matrix that is not
    positive definite gives ``(inf, 0)``.
    """

    def __init__(self, blocks: np.ndarray, y: np.ndarray) -> None:
        self.y = np.asarray(y, dtype=np.float64)
        self.n_comp, self.n = blocks.shape[0], blocks.shape[-1]
        self._blocks = np.ascontiguousarray(blocks, dtype=np.float64)
        self._flat = self._blocks.reshape(self.n_comp, -1)
        # <M, K_c> for a symmetric M from M's upper triangle alone: off-diagonal entries count twice.
        self._upper_flat = (self._blocks * (2.0 * np.triu(np.ones((self.n, self.n)), 1) + np.eye(self.n))).reshape(
            self.n_comp, -1
        )

    def weights(self, theta: np.ndarray) -> np.ndarray:
        """The softmax weights ``p`` at ``theta``."""
        if self.n_comp == 1:
            return np.ones(1)
        w = np.exp(theta[:-1] - theta[:-1].max())
        return w / w.sum()

    def matrix(self, theta: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """``A = sum_c p_c K_c + r I`` at ``theta`` (a new array; ``weights``: ``p`` if known)."""
        a = ((self.weights(theta) if weights is None else weights) @ self._flat).reshape(self.n, self.n)
        a.flat[:: self.n + 1] += math.exp(theta[-1])
        return a.T  # symmetric; Fortran order lets LAPACK factor it in place

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """NLL and its gradient at ``theta``."""
        p = self.weights(theta)
        chol = _cholesky(self.matrix(theta, p))
        grad = np.zeros_like(theta)
        if chol is None:
            return math.inf, grad
        nll, scale, alpha = _profiled_nll(chol, self.y)
        inv = lapack.dpotri(chol, lower=1, overwrite_c=1)[0].T  # A^-1 in the upper triangle only
        coef = 1.0 / scale if scale > MIN_SCALE else 0.0
        grad[-1] = 0.5 * math.exp(theta[-1]) * (inv.trace() - coef * (alpha @ alpha))
        if self.n_comp > 1:
            g_p = 0.5 * (self._upper_flat @ inv.ravel() - coef * ((self._blocks @ alpha) @ alpha))
            grad[:-1] = p * (g_p - p @ g_p)
        return nll, grad


def fit_profiled(
    blocks: np.ndarray, y: np.ndarray, *, n_steps: int = 40, noise_init: float = 1e-3
) -> FittedHyperparameters:
    """Fit ``K = s (sum_c softmax(w)_c K_c + r I)`` by marginal likelihood, with the scale ``s``
    profiled out in closed form: a grid over the ratio ``r`` (:data:`RATIO_GRID`, uniform
    weights) picks the start, then L-BFGS-B (at most ``n_steps`` iterations, analytic gradient:
    :class:`ProfiledObjective`) refines ``w`` and ``log r`` within :data:`RATIO_BOUNDS`; its result
    is kept only where it beats the grid's best.

    Same shapes and result as :func:`fit_hyperparameters`, plus ``scale (B,)``; ``noise`` is the
    *ratio* r (the noise variance is ``scale * r``). ``history`` row 0 is the NLL at uniform weights
    and r = ``noise_init`` (the paper's starting point), row 1 at the grid's best ratio, row 2 at
    the result. Block stacks that are not positive definite at a ratio count as NLL +inf there.
    """
    if blocks.ndim != 4 or blocks.shape[-1] != blocks.shape[-2] or blocks.shape[-1] != len(y):
        raise ValueError(f"blocks must have shape (B, C, n, n) with n = len(y) = {len(y)}, got {blocks.shape}")
    n_batch, n_comp = blocks.shape[:2]
    y = np.asarray(y, dtype=np.float64)
    bounds = [(None, None)] * (n_comp if n_comp > 1 else 0) + [tuple(math.log(b) for b in RATIO_BOUNDS)]
    grid = np.log((noise_init, *RATIO_GRID))
    history = np.full((3, n_batch), math.inf)
    weights = np.full((n_batch, n_comp), 1.0 / n_comp)
    ratio = np.empty(n_batch)
    scale = np.ones(n_batch)
    for b in range(n_batch):
        objective = ProfiledObjective(blocks[b], y)
        theta = np.zeros(len(bounds))
        grid_nll = np.empty(len(grid))
        for i, log_r in enumerate(grid):
            theta[-1] = log_r
            chol = _cholesky(objective.matrix(theta))
            grid_nll[i] = math.inf if chol is None else _profiled_nll(chol, y)[0]
        history[0, b], history[1, b] = grid_nll[0], grid_nll.min()
        theta[-1] = grid[int(np.argmin(grid_nll))]
        if n_steps > 0 and np.isfinite(history[1, b]):
            result = optimize.minimize(
                objective, theta, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": n_steps, "ftol": FTOL}
            )
            if result.fun < history[1, b]:  # else (no gain, or inf/NaN) keep the grid's best
                theta = result.x
        weights[b] = objective.weights(theta)
        ratio[b] = math.exp(theta[-1])
        chol = _cholesky(objective.matrix(theta))
        if chol is not None:
            history[2, b], scale[b], _ = _profiled_nll(chol, y)
    return FittedHyperparameters(weights, ratio, history[2].copy(), history, scale=scale)


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
        self._set(np.linalg.cholesky(k), np.asarray(y, dtype=np.float64))

    def _set(self, chol: np.ndarray, y: np.ndarray) -> None:
        self._chol = chol
        self._y = y
        self._alpha = linalg.cho_solve((chol, True), y, check_finite=False)
        n = len(y)
        self.nll = float(
            0.5 * (y @ self._alpha) / self.scale
            + np.log(chol.diagonal()).sum()
            + 0.5 * n * math.log(self.scale)
            + 0.5 * n * math.log(2 * math.pi)
        )
        """Negative log marginal likelihood of the training targets under these parameters."""

    def _solve_lower(self, rhs: np.ndarray) -> np.ndarray:
        return linalg.solve_triangular(self._chol, rhs, lower=True, check_finite=False)

    def condition(self, cross_blocks: np.ndarray, new_blocks: np.ndarray, y_new: np.ndarray) -> BlockPosterior:
        """The posterior with k more observations ``y_new`` (standardised) at new points, same
        parameters: ``cross_blocks (C, k, n)`` against the training points, ``new_blocks (C, k, k)``
        among the new points. The factor grows by a block row (O(n^2 k)); equal to building the
        posterior on all n + k points."""
        k_cross = np.tensordot(self.weights, cross_blocks, axes=1)
        k_new = np.tensordot(self.weights, new_blocks, axes=1)
        k_new[np.diag_indices_from(k_new)] += self.noise
        b = self._solve_lower(k_cross.T).T  # (k, n)
        corner = np.linalg.cholesky(k_new - b @ b.T)
        n, m = self._chol.shape[0], corner.shape[0]
        chol = np.zeros((n + m, n + m))
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
        k_cross = np.tensordot(self.weights, cross_blocks, axes=1)
        mean = k_cross @ self._alpha
        v = self._solve_lower(k_cross.T)
        var = self.weights @ prior_var - (v * v).sum(0)
        return mean, self.scale * np.maximum(var, 0.0)
