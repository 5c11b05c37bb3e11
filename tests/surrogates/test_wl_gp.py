"""The WL / hWL GP surrogates on real trees of both named spaces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hnas.grammar import Tree, load_space
from hnas.kernels.hierarchical import TreeWLFeatures
from hnas.searchers.synthetic import op_quality_loss
from hnas.surrogates import get_surrogate

HIERARCHICAL = "nb201_variable_multi_multi"
CELL = "nb201_fixed_1_none"


def load(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hierarchical grammar warns about its weighted production
        return load_space(name)


def distinct_trees(name: str, n: int, seed: int) -> list[Tree]:
    space, rng, trees = load(name), np.random.default_rng(seed), {}
    while len(trees) < n:
        trees.setdefault(space.sample(rng), None)
    return list(trees)


def smooth_target(trees: list[Tree]) -> np.ndarray:
    """A known function of the trees: the mean quality of their leaf operations (searchers' synthetic loss)."""
    return np.array([op_quality_loss(t) for t in trees])


@pytest.mark.parametrize("model", ["gp", "gp_hierarchical"])
@pytest.mark.parametrize("name", [HIERARCHICAL, CELL])
def test_fit_improves_nll_and_beats_the_mean(model: str, name: str) -> None:
    trees = distinct_trees(name, 120, seed=0)
    y = smooth_target(trees)
    surrogate = get_surrogate(model, load(name)).fit(trees[:60], y[:60])
    p = surrogate.parameters
    paper = get_surrogate(f"{model}_paper", load(name)).fit(trees[:60], y[:60]).parameters
    assert paper.nll < paper.initial_nll - 1.0 and paper.scale == 1.0
    # The paper's model is the special case scale = 1: the fitted scale can only do better.
    assert p.nll <= min(p.initial_nll, paper.nll) + 1e-9
    mean, var = surrogate.predict(trees[60:])
    rmse = np.sqrt(np.mean((mean - y[60:]) ** 2))
    rmse_of_mean = np.sqrt(np.mean((y[:60].mean() - y[60:]) ** 2))
    assert rmse < 0.8 * rmse_of_mean
    assert np.corrcoef(mean, y[60:])[0, 1] > 0.6
    assert np.all(var > 0)


def test_predictions_use_exactly_the_reported_parameters() -> None:
    """An independent GP built from the reported weights, noise and depth predicts the same."""
    space = load(HIERARCHICAL)
    trees = distinct_trees(HIERARCHICAL, 70, seed=1)
    y = 3.0 * smooth_target(trees) + 0.5
    surrogate = get_surrogate("gp_hierarchical", space).fit(trees[:50], y[:50])
    p = surrogate.parameters
    assert p.components == ("flattened", *(f"level_{k}" for k in range(1, space.hierarchy_depth + 1)))

    n_levels = space.hierarchy_depth
    features = TreeWLFeatures(n_levels, (4,) + (2,) * n_levels)  # a fresh cache and label dictionary
    components = [(0, p.depth)] + [(j, 2) for j in range(1, n_levels + 1)]
    k = np.tensordot(p.weights, features.gram(trees, None, components), axes=1)
    train, test = np.arange(50), np.arange(50, 70)
    c = p.scale * k[np.ix_(train, train)] + p.noise * np.eye(50)
    ks = p.scale * k[np.ix_(test, train)]
    z = (y[:50] - y[:50].mean()) / y[:50].std()
    expected_mean = ks @ np.linalg.solve(c, z) * p.y_std + p.y_mean
    expected_var = (p.scale - np.einsum("ij,ji->i", ks, np.linalg.solve(c, ks.T))) * p.y_std**2

    mean, var = surrogate.predict(trees[50:])
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(var, expected_var, rtol=1e-6, atol=1e-9)
    _, noisy_var = surrogate.predict(trees[50:], include_noise=True)
    np.testing.assert_allclose(noisy_var, expected_var + p.noise * p.y_std**2, rtol=1e-6, atol=1e-9)
    assert surrogate.weights == dict(zip(p.components, p.weights.tolist()))
    assert (surrogate.noise, surrogate.depth) == (p.noise, p.depth)


def test_depth_selection_picks_the_likelihood_best_depth() -> None:
    space = load(HIERARCHICAL)
    trees = distinct_trees(HIERARCHICAL, 40, seed=2)
    y = smooth_target(trees)
    surrogate = get_surrogate("gp_hierarchical", space).fit(trees, y)
    p = surrogate.parameters
    assert sorted(p.depth_nll) == [0, 1, 2, 3, 4]
    assert p.depth == min(p.depth_nll, key=p.depth_nll.get)
    # The reported NLL is that of the pruned weights (negligible ones set to 0): as good or better.
    assert p.depth_nll[p.depth] - 1e-4 <= p.nll <= p.depth_nll[p.depth] + 1e-9
    # Each candidate's NLL is what a fit restricted to that depth reaches.
    for depth in (0, 4):
        alone = get_surrogate("gp_hierarchical", space, depths=(depth,)).fit(trees, y)
        assert alone.depth == depth
        assert alone.parameters.nll == pytest.approx(p.depth_nll[depth], rel=1e-7)


def test_plain_gp_uses_the_flattened_graph_at_depth_two() -> None:
    trees = distinct_trees(CELL, 30, seed=3)
    surrogate = get_surrogate("gpwl", load(CELL)).fit(trees, smooth_target(trees))
    assert surrogate.name == "gp"
    assert surrogate.depth == 2
    assert surrogate.weights == {"flattened": 1.0}
    # Only the flattened graph is built and featurised, not the hierarchy levels it would ignore.
    assert surrogate.features.n_levels == 0 and surrogate.features.n_graphs == 1


def test_predictions_are_in_the_original_scale() -> None:
    space = load(CELL)
    trees = distinct_trees(CELL, 40, seed=4)
    y = smooth_target(trees)
    a = get_surrogate("gp_hierarchical", space).fit(trees[:30], y[:30])
    b = get_surrogate("gpwl_hierarchical", space).fit(trees[:30], 1000.0 * y[:30] - 7.0)
    mean_a, var_a = a.predict(trees[30:])
    mean_b, var_b = b.predict(trees[30:])
    np.testing.assert_allclose(mean_b, 1000.0 * mean_a - 7.0, rtol=1e-6)
    np.testing.assert_allclose(var_b, 1e6 * var_a, rtol=1e-5)


def test_constant_targets_and_duplicate_trees_are_handled() -> None:
    trees = distinct_trees(CELL, 10, seed=5)
    surrogate = get_surrogate("gp", load(CELL)).fit(trees + trees[:3], np.full(13, 0.25))
    mean, var = surrogate.predict(trees[:2])
    np.testing.assert_allclose(mean, 0.25)
    assert np.all(np.isfinite(var))


def test_user_errors_are_clear() -> None:
    space = load(CELL)
    trees = distinct_trees(CELL, 5, seed=6)
    with pytest.raises(ValueError, match="unknown surrogate model 'gpr'"):
        get_surrogate("gpr", space)
    with pytest.raises(ValueError, match="unknown option.*level_depth"):
        get_surrogate("gp", space, level_depth=3)
    with pytest.raises(RuntimeError, match="not fitted"):
        get_surrogate("gp", space).predict(trees)
    with pytest.raises(ValueError, match="one target per tree"):
        get_surrogate("gp", space).fit(trees, [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        get_surrogate("gp", space).fit(trees, [1.0, 2.0, np.nan, 0.0, 1.0])


def test_negligible_weights_are_pruned_and_their_graphs_never_built_for_candidates() -> None:
    """Weights below PRUNED_WEIGHT become exactly 0 (the rest still sum to 1); predicting new
    trees builds only the graphs of the weighed components, and gives what the full kernel with
    those weights gives (test_predictions_use_exactly_the_reported_parameters)."""
    from hnas.semantics import graphs
    from hnas.surrogates.wl_gp import PRUNED_WEIGHT

    space = load(HIERARCHICAL)
    trees = distinct_trees(HIERARCHICAL, 80, seed=3)
    surrogate = get_surrogate("gp_hierarchical", space).fit(trees[:50], smooth_target(trees[:50]))
    weights = surrogate.parameters.weights
    used = np.flatnonzero(weights)
    assert np.all(weights[used] >= PRUNED_WEIGHT) and abs(weights.sum() - 1) < 1e-12
    assert 1 <= len(used) < len(weights)  # on this target most levels are weighed ~0
    candidates = trees[50:]
    assert not any(t in graphs._ARRAY_CACHE for t in candidates)  # never met before
    surrogate.predict(candidates)
    # The flattened graph at depth 0 is its label counts, composed on the tree: not built either.
    expected = set(used.tolist()) - ({0} if surrogate.depth == 0 else set())
    for tree in candidates:
        assert set(graphs._ARRAY_CACHE.get(tree, ())) == expected
