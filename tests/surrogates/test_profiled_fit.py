"""The profiled fit (``fit_profiled``) on real hWL kernel stacks: its analytic gradient, its optimum,
and candidates that are not positive definite."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import optimize

from hnas.grammar import load_space
from hnas.searchers.synthetic import op_quality_loss
from hnas.surrogates import get_surrogate
from hnas.surrogates.gp import RATIO_BOUNDS, RATIO_GRID, ProfiledObjective, fit_profiled
from hnas.surrogates.transforms import transform_targets


@pytest.fixture(scope="module")
def real_stack() -> tuple[np.ndarray, np.ndarray]:
    """What ``gp_hierarchical`` fits on: 30 random trees of the hierarchical space, one block stack
    per flattened-graph depth (0..4), each flattened graph + 6 levels, and BO's rank-transformed,
    standardised synthetic losses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hierarchical grammar warns about its weighted production
        space = load_space("nb201_variable_multi_multi")
    rng, trees = np.random.default_rng(7), {}
    while len(trees) < 30:
        trees.setdefault(space.sample(rng), None)
    trees = list(trees)
    gp = get_surrogate("gp_hierarchical", space)
    grams = gp.features.gram(trees, None, [(0, d) for d in gp.depths] + list(gp.levels))
    n_depths = len(gp.depths)
    blocks = np.stack([np.concatenate([grams[d : d + 1], grams[n_depths:]]) for d in range(n_depths)])
    y = transform_targets("rank", np.array([op_quality_loss(t) for t in trees]))
    return blocks, (y - y.mean()) / y.std()


def dense_profiled_nll(blocks: np.ndarray, weights: np.ndarray, ratio: float, y: np.ndarray) -> tuple[float, float]:
    """The profiled NLL and scale from dense numpy algebra (slogdet and solve)."""
    a = np.tensordot(weights, blocks, axes=1) + ratio * np.eye(len(y))
    scale = y @ np.linalg.solve(a, y) / len(y)
    sign, logdet = np.linalg.slogdet(scale * a)
    assert sign > 0
    return 0.5 * len(y) * (1 + math.log(2 * math.pi)) + 0.5 * logdet, scale


def test_gradient_matches_finite_differences_on_a_real_kernel_stack(real_stack) -> None:
    blocks, y = real_stack
    objective = ProfiledObjective(blocks[2], y)
    rng = np.random.default_rng(0)
    for log_r in (math.log(1e-4), math.log(0.05), math.log(0.7)):
        theta = np.append(rng.normal(0, 1.5, blocks.shape[1]), log_r)
        value, grad = objective(theta)
        expected, _ = dense_profiled_nll(blocks[2], objective.weights(theta), math.exp(log_r), y)
        assert value == pytest.approx(expected, rel=1e-10)
        step = 1e-6
        numeric = np.array(
            [(objective(theta + step * e)[0] - objective(theta - step * e)[0]) / (2 * step) for e in np.eye(len(theta))]
        )
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)
        assert abs(grad.sum() - grad[-1]) < 1e-9  # softmax: shifting every w changes nothing
    # One block: theta is log r alone.
    single = ProfiledObjective(blocks[2, :1], y)
    value, grad = single(np.array([math.log(0.05)]))
    numeric = (single(np.array([math.log(0.05) + 1e-6]))[0] - single(np.array([math.log(0.05) - 1e-6]))[0]) / 2e-6
    assert grad.shape == (1,) and grad[0] == pytest.approx(numeric, rel=1e-5)


def test_fit_reaches_the_optimum_from_the_grid_start_on_real_data(real_stack) -> None:
    blocks, y = real_stack
    fitted = fit_profiled(blocks, y)
    assert np.all(fitted.nll <= fitted.history[1]) and fitted.nll.min() < fitted.history[1].min() - 1.0
    np.testing.assert_array_equal(fitted.history[2], fitted.nll)
    for b in range(len(blocks)):
        # The reported numbers are one consistent model: dense algebra gives the same NLL and scale.
        nll, scale = dense_profiled_nll(blocks[b], fitted.weights[b], fitted.noise[b], y)
        assert fitted.nll[b] == pytest.approx(nll, rel=1e-9) and fitted.scale[b] == pytest.approx(scale, rel=1e-9)
        assert RATIO_BOUNDS[0] <= fitted.noise[b] <= RATIO_BOUNDS[1]
        # The grid (uniform weights) is reproduced independently, and row 0 is its noise_init entry.
        uniform = np.full(blocks.shape[1], 1 / blocks.shape[1])
        grid = [dense_profiled_nll(blocks[b], uniform, r, y)[0] for r in RATIO_GRID]
        assert fitted.history[1, b] == pytest.approx(min(grid), rel=1e-10)
        assert fitted.history[0, b] == pytest.approx(dense_profiled_nll(blocks[b], uniform, 1e-3, y)[0], rel=1e-10)
        # A reference optimiser without the analytic gradient (finite differences, run to a
        # standstill) from the same start finds nothing better.
        objective = ProfiledObjective(blocks[b], y)
        start = np.append(np.zeros(blocks.shape[1]), math.log(RATIO_GRID[int(np.argmin(grid))]))
        reference = optimize.minimize(
            lambda t: objective(t)[0], start, method="L-BFGS-B",
            bounds=[(None, None)] * blocks.shape[1] + [tuple(map(math.log, RATIO_BOUNDS))],
            options={"maxiter": 500, "ftol": 1e-15, "gtol": 1e-9},
        )
        assert fitted.nll[b] <= reference.fun + 1e-4


def test_candidates_that_are_not_positive_definite_count_as_infinite() -> None:
    """One block with an eigenvalue -0.01: ``K + r I`` is not positive definite for r < 0.01, so
    the grid's small ratios (and the paper's 1e-3 start) are +inf; the fit stays on the finite side."""
    rng = np.random.default_rng(1)
    n = 25
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigenvalues = np.append(np.linspace(2.0, 0.1, n - 1), -0.01)
    block = (q * eigenvalues) @ q.T
    y = rng.normal(size=n)
    y = (y - y.mean()) / y.std()
    fitted = fit_profiled(block[None, None], y)
    assert fitted.history[0, 0] == math.inf
    assert np.isfinite(fitted.nll[0]) and fitted.nll[0] <= fitted.history[1, 0]
    assert fitted.noise[0] > 0.01 and np.isfinite(fitted.scale[0])
    assert not np.isnan(fitted.history).any()
    objective = ProfiledObjective(block[None], y)
    value, grad = objective(np.array([math.log(1e-3)]))
    assert value == math.inf and np.all(grad == 0)
