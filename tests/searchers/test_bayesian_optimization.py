"""BANAT specifics: the random initial design, the kriging believer and the options' effects."""

from __future__ import annotations

import math

import numpy as np
import pytest
from searcher_helpers import drive

from hnas.searchers import OptionsError, make_searcher
from hnas.searchers.bayesian_optimization import evaluations_since_improvement
from hnas.searchers.pools import MutationPool
from hnas.searchers.synthetic import op_quality_loss
from hnas.surrogates import get_surrogate

FAST = {"n_init": 5, "pool_size": 30}


def test_the_first_n_init_asks_are_the_random_search_samples(cell_space):
    plain = {"target_transform": "none", "random_interleave_prob": 0.0}  # EI on the raw losses, every ask
    searcher = make_searcher("bayesian_optimization", cell_space, seed=6, **FAST, **plain)
    bo = drive(searcher, op_quality_loss, 6)
    rs = drive(make_searcher("random_search", cell_space, seed=6), op_quality_loss, 6)
    assert bo[:5] == rs[:5]
    # from then on the GP decides: the sixth ask's expected improvement, computed here with the
    # closed form from a GP fitted on the first five, is the one the acquisition maximised
    losses = [op_quality_loss(t) for t in bo[:5]]
    (mean,), (var,) = get_surrogate("gp_hierarchical", cell_space).fit(bo[:5], losses).predict([bo[5]])
    sigma, best = math.sqrt(var), min(losses)
    z = (best - mean) / sigma
    ei = (best - mean) * 0.5 * (1 + math.erf(z / math.sqrt(2))) + sigma * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    assert searcher.last_acquisition["best_score"] == pytest.approx(ei, rel=1e-9)
    assert ei > 0 and bo[5] not in bo[:5]


def test_kriging_believer_conditions_the_gp_on_pending_trees(cell_space):
    searcher = make_searcher("bayesian_optimization", cell_space, seed=2, **FAST)
    drive(searcher, op_quality_loss, 6)
    busy = searcher.ask()  # pending on a worker
    searcher.ask()  # this ask conditioned the GP on the believed mean at `busy`
    believer, fitted = searcher.surrogate, searcher._fitted
    assert believer is not fitted  # the fit on the observations is kept for the next asks
    mean_b, var_b = believer.predict([busy])
    mean_f, var_f = fitted.predict([busy])
    np.testing.assert_allclose(mean_b, mean_f, rtol=1e-9)  # the fantasy is the predicted mean
    # Observing f(busy) + noise shrinks the variance there exactly as one Gaussian update does.
    noise = fitted.parameters.noise * fitted.parameters.y_std**2
    np.testing.assert_allclose(var_b, var_f - var_f**2 / (var_f + noise), rtol=1e-6)
    assert believer.parameters is fitted.parameters  # no hyperparameter refit


def test_surrogate_model_option_selects_the_kernel(cell_space):
    plain = make_searcher("bayesian_optimization", cell_space, seed=0, surrogate_model="gpwl")
    hierarchical = make_searcher("bayesian_optimization", cell_space, seed=0)
    assert plain.surrogate.name == "gp" and hierarchical.surrogate.name == "gp_hierarchical"
    trees = drive(make_searcher("random_search", cell_space, seed=1), op_quality_loss, 8)
    losses = [op_quality_loss(t) for t in trees]
    plain.surrogate.fit(trees, losses)
    hierarchical.surrogate.fit(trees, losses)
    assert list(plain.surrogate.weights) == ["flattened"]
    assert len(hierarchical.surrogate.weights) > 1


def test_pool_options_change_the_proposals(cell_space):
    def asks(**options):
        searcher = make_searcher("bayesian_optimization", cell_space, seed=4, n_init=5, **options)
        return drive(searcher, op_quality_loss, 9)[5:]

    reference = asks(pool_size=30, p_self_crossover=0.5)
    assert asks(pool_size=30, p_self_crossover=0.5) == reference
    assert asks(pool_size=60, p_self_crossover=0.5) != reference
    assert asks(pool_size=30, p_self_crossover=1.0) != reference


def _told(searcher, trees, losses):
    for tree, loss in zip(trees, losses):
        searcher.tell(tree, loss)
    return searcher


def test_evaluations_since_improvement_counts_results_after_the_first_best():
    assert evaluations_since_improvement(np.array([0.5, 0.2, 0.3, 0.4])) == 2
    assert evaluations_since_improvement(np.array([0.2, 0.3, 0.2])) == 2  # a tie is no improvement
    assert evaluations_since_improvement(np.array([0.5, 0.2])) == 0
    assert evaluations_since_improvement(np.array([])) == 0


def test_stall_rule_switches_the_pool_strategy_after_patience_results_without_improvement(cell_space):
    # the best loss came first, then four worse ones: four results without improvement
    trees = drive(make_searcher("random_search", cell_space, seed=3), op_quality_loss, 5)
    losses = [0.1, 0.5, 0.6, 0.7, 0.8]

    def ask(**options):
        searcher = make_searcher("bayesian_optimization", cell_space, seed=5, **FAST, random_interleave_prob=0.0,
                                 **options)  # fmt: skip
        _told(searcher, trees, losses)
        return searcher.ask(), searcher.last_source

    patient, source = ask(stall_patience=5, stall_pool_strategy="mutation")
    assert source == "model" and (patient, source) == ask()  # not stalled yet: the plain ask
    stalled, source = ask(stall_patience=4, stall_pool_strategy="mutation")
    assert source == "stall"
    # a stalled ask is exactly an ask whose pool strategy is the stall strategy (same pool size)
    assert (stalled, "model") == ask(pool_strategy=MutationPool(pool_size=FAST["pool_size"]))
    assert stalled != patient and stalled not in trees


def test_stall_pool_strategy_must_be_a_registered_name(cell_space):
    with pytest.raises(OptionsError, match="stall_pool_strategy"):
        make_searcher("bayesian_optimization", cell_space, seed=0, stall_pool_strategy="nope")
    with pytest.raises(OptionsError, match="stall_patience"):
        make_searcher("bayesian_optimization", cell_space, seed=0, stall_patience=-1)

