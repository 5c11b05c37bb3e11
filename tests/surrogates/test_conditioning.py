"""Fantasy conditioning (pending trials) equals an exact GP on all points with the same parameters;
the profiled fit; target transforms; the surrogate registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hnas.errors import RegistryError
from hnas.grammar import load_space
from hnas.searchers.synthetic import op_quality_loss
from hnas.surrogates import (
    Surrogate,
    canonical_name,
    get_surrogate,
    register_surrogate,
    surrogate_names,
)
from hnas.surrogates.gp import BlockPosterior, fit_profiled
from hnas.surrogates.transforms import transform_targets

CELL = "nb201_fixed_1_none"


def distinct_trees(n: int, seed: int) -> list:
    space, rng, trees = load_space(CELL), np.random.default_rng(seed), {}
    while len(trees) < n:
        trees.setdefault(space.sample(rng), None)
    return list(trees)


def rbf_blocks(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(rng.uniform(0, 10, n))
    d2 = (x[:, None] - x[None, :]) ** 2
    return x, np.stack([np.exp(-0.5 * d2 / ell**2) for ell in (0.5, 2.0)])


def test_block_posterior_condition_equals_the_posterior_on_all_points() -> None:
    rng = np.random.default_rng(0)
    x, blocks = rbf_blocks(rng, 40)
    y = np.sin(x) + 0.1 * rng.standard_normal(40)
    old, new, test = np.arange(0, 20), np.arange(20, 27), np.arange(27, 40)
    weights, noise, scale = np.array([0.3, 0.7]), 0.05, 1.7
    first = BlockPosterior(blocks[:, old][:, :, old], weights, noise, y[old], scale)
    grown = first.condition(blocks[:, new][:, :, old], blocks[:, new][:, :, new], y[new])
    both = np.concatenate([old, new])
    exact = BlockPosterior(blocks[:, both][:, :, both], weights, noise, y[both], scale)
    cross = blocks[:, test][:, :, both]
    ones = np.ones((2, len(test)))
    for a, b in zip(grown.predict(cross, ones), exact.predict(cross, ones)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    assert grown.nll == pytest.approx(exact.nll, rel=1e-10)
    # and the exact posterior is the textbook formula: scale * (K + noise I)
    k = scale * np.tensordot(weights, blocks, axes=1)
    c = k[np.ix_(both, both)] + scale * noise * np.eye(len(both))
    ks = k[np.ix_(test, both)]
    np.testing.assert_allclose(grown.predict(cross, ones)[0], ks @ np.linalg.solve(c, y[both]), atol=1e-8)


@pytest.mark.parametrize("model", ["gp", "gp_hierarchical", "gp_paper"])
def test_surrogate_condition_equals_an_exact_gp_with_fixed_parameters(model: str) -> None:
    space = load_space(CELL)
    trees = distinct_trees(60, seed=1)
    y = np.array([op_quality_loss(t) for t in trees]) + 0.01 * np.random.default_rng(1).standard_normal(60)
    fitted = get_surrogate(model, space).fit(trees[:30], y[:30])
    pending, test = trees[30:36], trees[36:]
    believed = fitted.predict(pending)[0]
    conditioned = fitted.condition(pending, believed)
    assert conditioned.parameters is fitted.parameters  # no refit
    p = fitted.parameters
    # An exact GP on the 36 points with these parameters, from dense numpy algebra.
    components = [(0, p.depth), *((j, 2) for j in range(1, len(p.weights)))]
    k = p.scale * np.tensordot(p.weights, fitted.features.gram(trees, None, components), axes=1)
    both, t = np.arange(36), np.arange(36, 60)
    c = k[np.ix_(both, both)] + p.noise * np.eye(36)
    z = (np.concatenate([y[:30], believed]) - p.y_mean) / p.y_std
    ks = k[np.ix_(t, both)]
    mean = ks @ np.linalg.solve(c, z) * p.y_std + p.y_mean
    var = (np.diag(k)[t] - np.einsum("ij,ji->i", ks, np.linalg.solve(c, ks.T))) * p.y_std**2
    got_mean, got_var = conditioned.predict(test)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got_var, var, rtol=1e-8, atol=1e-10)
    # The believed mean is unchanged at the pending trees; the fitted model itself is untouched.
    np.testing.assert_allclose(conditioned.predict(pending)[0], believed, rtol=1e-8)
    np.testing.assert_allclose(fitted.predict(pending)[0], believed, rtol=0)


def test_profiled_fit_finds_the_likelihood_optimum_of_scale_and_noise() -> None:
    """Against a brute-force grid over (scale, noise) of the exact NLL on one kernel."""
    rng = np.random.default_rng(3)
    x, blocks = rbf_blocks(rng, 30)
    y = np.sin(x) + 0.3 * rng.standard_normal(30)
    y = (y - y.mean()) / y.std()
    fitted = fit_profiled(blocks[:1][None], y)
    scale, ratio = fitted.scale[0], fitted.noise[0]

    def nll(s: float, noise: float) -> float:
        c = s * blocks[0] + noise * np.eye(30)
        return 0.5 * y @ np.linalg.solve(c, y) + 0.5 * np.linalg.slogdet(c)[1] + 15 * math.log(2 * math.pi)

    assert fitted.nll[0] == pytest.approx(nll(scale, scale * ratio), rel=1e-9)
    grid = min(nll(s, n) for s in np.geomspace(0.05, 20, 60) for n in np.geomspace(1e-4, 2, 60))
    assert fitted.nll[0] <= grid + 1e-6
    assert 0.02 < scale * ratio < 0.5  # the noise added (0.3 of an O(1) signal) is found


def test_rank_transform_is_the_gaussian_copula_of_the_order() -> None:
    y = np.array([0.3, 0.1, 0.9, 0.1, 0.2])
    z = transform_targets("rank", y)
    np.testing.assert_allclose(z, stats.norm.ppf((stats.rankdata(y) - 0.5) / 5))
    assert z[1] == z[3] and np.argmin(z) in (1, 3) and np.argmax(z) == 2
    np.testing.assert_allclose(transform_targets("log", y), np.log(y))
    with pytest.raises(ValueError, match="positive"):
        transform_targets("log", np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="unknown target transform 'sqrt'"):
        transform_targets("sqrt", y)


class MeanOfTargets:
    """The simplest surrogate: predicts the training mean with unit variance."""

    def __init__(self, space: object, offset: float = 0.0) -> None:
        self.offset = offset

    def fit(self, trees: list, y: np.ndarray) -> MeanOfTargets:
        self.mean = float(np.mean(y)) + self.offset
        return self

    def predict(self, trees: list) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(trees), self.mean), np.ones(len(trees))


def test_register_surrogate_uses_the_registry_rules() -> None:
    space = load_space(CELL)
    register_surrogate("mean_of_targets_test", MeanOfTargets)
    built = get_surrogate("mean_of_targets_test", space, offset=1.0)
    assert isinstance(built, Surrogate) and isinstance(get_surrogate("gp", space), Surrogate)
    assert built.fit(distinct_trees(3, 0), [1.0, 2.0, 3.0]).predict(distinct_trees(2, 9))[0].tolist() == [3.0, 3.0]
    assert "mean_of_targets_test" in surrogate_names()
    assert canonical_name("gpwl_hierarchical") == "gp_hierarchical"
    with pytest.raises(RegistryError, match="already registered"):
        register_surrogate("gp", MeanOfTargets)
    with pytest.raises(RegistryError, match="alias"):
        register_surrogate("gpwl", MeanOfTargets, replace=True)
    register_surrogate("mean_of_targets_test", MeanOfTargets, replace=True)
    with pytest.raises(RegistryError, match="unknown surrogate model 'nope'; registered: gp, "):
        get_surrogate("nope", space)
