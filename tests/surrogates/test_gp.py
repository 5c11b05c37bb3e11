"""The exact GP over precomputed kernel blocks: gpytorch's likelihood vs closed forms, best step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hnas.surrogates.gp import NOISE_BOUNDS, BlockPosterior, fit_hyperparameters


def rbf_blocks(rng: np.random.Generator, n: int, lengthscales: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """RBF Gram matrices of random 1-d inputs at several lengthscales (unit diagonal, PSD)."""
    x = np.sort(rng.uniform(0, 10, n))
    d2 = (x[:, None] - x[None, :]) ** 2
    return x, np.stack([np.exp(-0.5 * d2 / ell**2) for ell in lengthscales])


def closed_form_nll(k: np.ndarray, noise: float, y: np.ndarray) -> float:
    c = k + noise * np.eye(len(y))
    sign, logdet = np.linalg.slogdet(c)
    assert sign > 0
    return float(0.5 * y @ np.linalg.solve(c, y) + 0.5 * logdet + 0.5 * len(y) * math.log(2 * math.pi))


def standardised(y: np.ndarray) -> np.ndarray:
    return (y - y.mean()) / y.std()


def test_nll_history_matches_closed_form_and_best_step_is_kept() -> None:
    rng = np.random.default_rng(0)
    x, blocks = rbf_blocks(rng, 30, (0.3, 1.0, 3.0))
    y = standardised(np.sin(x) + 0.05 * rng.standard_normal(30))
    fitted = fit_hyperparameters(blocks[None], y, n_steps=20, lr=0.1)
    # Row 0: uniform weights, initial noise 1e-3.
    assert fitted.initial_nll[0] == pytest.approx(closed_form_nll(blocks.mean(0), 1e-3, y), rel=1e-8)
    assert fitted.nll[0] == pytest.approx(fitted.history[:, 0].min())
    assert fitted.nll[0] < fitted.initial_nll[0]
    k = np.tensordot(fitted.weights[0], blocks, axes=1)
    assert fitted.nll[0] == pytest.approx(closed_form_nll(k, fitted.noise[0], y), rel=1e-8)
    np.testing.assert_allclose(fitted.weights.sum(), 1.0)


def test_an_overshooting_optimiser_still_reports_its_best_step() -> None:
    """With a large learning rate the last step is worse than the best: the best is reported."""
    rng = np.random.default_rng(1)
    x, blocks = rbf_blocks(rng, 25, (0.5, 2.0))
    y = standardised(np.sin(x) + 0.3 * rng.standard_normal(25))  # interior optimum of the noise
    fitted = fit_hyperparameters(blocks[None], y, n_steps=15, lr=1.0)
    history = fitted.history[:, 0]
    assert history[-1] > history.min() + 1.0
    assert fitted.nll[0] == history.min()
    k = np.tensordot(fitted.weights[0], blocks, axes=1)
    assert closed_form_nll(k, fitted.noise[0], y) == pytest.approx(history.min(), rel=1e-8)


def test_batched_candidates_are_independent_fits() -> None:
    rng = np.random.default_rng(2)
    x, blocks = rbf_blocks(rng, 20, (0.3, 1.0, 3.0, 10.0))
    y = standardised(np.cos(x) + 0.1 * rng.standard_normal(20))
    stacks = np.stack([blocks[[0, 3]], blocks[[1, 3]], blocks[[2, 3]]])  # (3 candidates, 2 blocks)
    batched = fit_hyperparameters(stacks, y)
    for b in range(3):
        alone = fit_hyperparameters(stacks[b : b + 1], y)
        np.testing.assert_allclose(batched.history[:, b], alone.history[:, 0], rtol=1e-9)
        np.testing.assert_allclose(batched.weights[b], alone.weights[0], rtol=1e-9)


def test_noise_stays_in_bounds_and_grows_on_pure_noise() -> None:
    rng = np.random.default_rng(3)
    _, blocks = rbf_blocks(rng, 40, (0.05,))
    y = standardised(rng.standard_normal(40))
    fitted = fit_hyperparameters(blocks[None], y, n_steps=30)
    assert NOISE_BOUNDS[0] <= fitted.noise[0] <= NOISE_BOUNDS[1]
    assert fitted.noise[0] > 1e-2


def test_posterior_interpolates_and_matches_dense_formulas() -> None:
    rng = np.random.default_rng(4)
    x_all, blocks_all = rbf_blocks(rng, 30, (0.5, 2.0))
    train, test = np.arange(0, 30, 2), np.arange(1, 30, 2)
    y = np.sin(x_all[train])
    weights, noise = np.array([0.3, 0.7]), 1e-4
    posterior = BlockPosterior(blocks_all[:, train][:, :, train], weights, noise, y)
    cross = blocks_all[:, test][:, :, train]
    mean, var = posterior.predict(cross, np.ones((2, len(test))))
    k = np.tensordot(weights, blocks_all, axes=1)
    c = k[np.ix_(train, train)] + noise * np.eye(len(train))
    ks = k[np.ix_(test, train)]
    np.testing.assert_allclose(mean, ks @ np.linalg.solve(c, y), atol=1e-9)
    np.testing.assert_allclose(var, 1 - np.einsum("ij,ji->i", ks, np.linalg.solve(c, ks.T)), atol=1e-9)
    assert posterior.nll == pytest.approx(closed_form_nll(k[np.ix_(train, train)], noise, y), rel=1e-9)
    assert np.abs(mean - np.sin(x_all[test])).max() < 0.1


def test_bad_shapes_and_noise_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"shape \(B, C, n, n\)"):
        fit_hyperparameters(np.ones((1, 1, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="noise_init"):
        fit_hyperparameters(np.eye(3)[None, None], np.zeros(3), noise_init=1.0)
