"""make_searcher: names, flat options routed to components, and their values checked once."""

from __future__ import annotations

import pytest

from hnas.errors import RegistryError
from hnas.searchers import (
    EvolutionPool,
    ExpectedImprovement,
    OptionsError,
    RandomPool,
    UpperConfidenceBound,
    make_searcher,
    options_record,
    searcher_names,
)


def test_the_built_ins_are_registered_and_built_with_their_defaults(cell_space):
    # registered first (other tests may have registered their own after them)
    assert searcher_names()[:4] == ("random_search", "regularized_evolution", "bayesian_optimization", "reinforce")
    re = make_searcher("regularized_evolution", cell_space, seed=0)
    assert (re.options.population_size, re.options.sample_size) == (30, 10)
    bo = make_searcher("bayesian_optimization", cell_space, seed=0)
    assert options_record(bo.options) == {
        "n_init": 10,
        "surrogate_model": "gp_hierarchical",
        "acquisition": {"name": "ei", "xi": 0.0},
        "random_interleave_prob": 0.1,
        "target_transform": "rank",
        "stall_patience": 0,
        "stall_pool_strategy": "mutation",
        "pool_strategy": {
            "name": "evolution", "pool_size": 200, "p_self_crossover": 0.5, "n_best": 10, "min_generations": 10,
            "max_generations": 50, "patience": 5, "tournament_fraction": 0.2, "p_crossover": 0.5,
            "offspring_fraction": 0.25,
        },
    }  # fmt: skip


def test_flat_options_reach_the_searcher_and_its_components(cell_space):
    bo = make_searcher(
        "bayesian_optimization", cell_space, seed=0, surrogate_model="gpwl", pool_strategy="random",
        pool_size=17, n_init=3, acquisition="ucb", beta=3.0,
    )  # fmt: skip
    assert bo.options.n_init == 3 and bo.options.surrogate_model == "gp"  # the canonical surrogate name
    assert bo.options.pool_strategy == RandomPool(pool_size=17)
    assert bo.options.acquisition == UpperConfidenceBound(beta=3.0)
    instances = make_searcher(
        "bayesian_optimization", cell_space, seed=0, acquisition=ExpectedImprovement(xi=0.1),
        pool_strategy=EvolutionPool(pool_size=20), p_self_crossover=1.0,
    )  # fmt: skip
    assert instances.options.acquisition.xi == 0.1
    assert instances.options.pool_strategy == EvolutionPool(pool_size=20, p_self_crossover=1.0)
    re = make_searcher("regularized_evolution", cell_space, seed=0, population_size=7, sample_size=3)
    assert (re.options.population_size, re.options.sample_size) == (7, 3)


@pytest.mark.parametrize(
    ("name", "options", "error", "message"),
    [
        ("annealing", {}, RegistryError, "unknown searcher 'annealing'; registered: asha, bayesian_optimization"),
        ("random_search", {"pool_size": 10}, OptionsError, "searcher random_search takes no option 'pool_size' (its options: none)"),
        ("bayesian_optimization", {"poolsize": 10}, OptionsError, "takes no option 'poolsize' (its options: acquisition,"),
        ("bayesian_optimization", {"beta": 2.0}, OptionsError, "takes no option 'beta'"),  # EI has no beta
        ("bayesian_optimization", {"surrogate_model": "rf"}, OptionsError, "option surrogate_model: unknown surrogate model 'rf'"),
        ("bayesian_optimization", {"pool_strategy": "genetic"}, OptionsError, "option pool_strategy: unknown pool strategy 'genetic'"),
        ("bayesian_optimization", {"acquisition": "thompson"}, OptionsError, "option acquisition: unknown acquisition function 'thompson'"),
        ("bayesian_optimization", {"pool_size": 0}, OptionsError, "option pool_size must be an integer >= 1"),
        ("bayesian_optimization", {"n_init": 2.5}, OptionsError, "option n_init must be an integer >= 1"),
        ("bayesian_optimization", {"p_self_crossover": 1.5}, OptionsError, "option p_self_crossover must be a probability"),
        ("regularized_evolution", {"population_size": 5, "sample_size": 6}, OptionsError, "sample_size (6) must not exceed"),
    ],
)  # fmt: skip
def test_bad_names_and_options_are_clear_errors(cell_space, name, options, error, message):
    with pytest.raises(error) as info:
        make_searcher(name, cell_space, seed=0, **options)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_seed_must_be_an_integer(cell_space):
    with pytest.raises(OptionsError, match="seed must be an integer"):
        make_searcher("random_search", cell_space, seed="7")
