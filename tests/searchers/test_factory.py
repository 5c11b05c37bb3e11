"""make_searcher: names, options and their values are checked with clear messages."""

from __future__ import annotations

import pytest

from hnas.searchers import SEARCHER_OPTIONS, SEARCHERS, make_searcher


def test_every_searcher_is_built_with_its_defaults(cell_space):
    for name in SEARCHERS:
        searcher = make_searcher(name, cell_space, seed=0)
        assert searcher.name == name
        assert searcher.options() == SEARCHER_OPTIONS[name]


def test_options_take_effect(cell_space):
    bo = make_searcher(
        "bayesian_optimization", cell_space, seed=0, surrogate_model="gp", pool_strategy="mutation",
        pool_size=17, n_init=3, p_self_crossover=0.25, random_interleave_prob=0.3, target_transform="log",
    )
    assert bo.options() == {
        "surrogate_model": "gp", "pool_strategy": "mutation", "pool_size": 17, "n_init": 3,
        "p_self_crossover": 0.25, "random_interleave_prob": 0.3, "target_transform": "log",
    }
    re = make_searcher("regularized_evolution", cell_space, seed=0, population_size=7, sample_size=3)
    assert re.options() == {"population_size": 7, "sample_size": 3}


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("annealing", {}, "unknown searcher 'annealing'"),
        ("random_search", {"pool_size": 10}, "takes no option 'pool_size' (it belongs to bayesian_optimization)"),
        ("bayesian_optimization", {"poolsize": 10}, "takes no option 'poolsize' (no searcher takes it)"),
        ("bayesian_optimization", {"surrogate_model": "rf"}, "surrogate_model: unknown value 'rf'"),
        ("bayesian_optimization", {"pool_strategy": "genetic"}, "pool_strategy: unknown value 'genetic'"),
        ("bayesian_optimization", {"pool_size": 0}, "pool_size must be an integer >= 1"),
        ("bayesian_optimization", {"n_init": 2.5}, "n_init must be an integer >= 1"),
        ("bayesian_optimization", {"p_self_crossover": 1.5}, "p_self_crossover must be a probability"),
        ("bayesian_optimization", {"random_interleave_prob": -0.1}, "random_interleave_prob must be a probability"),
        ("bayesian_optimization", {"target_transform": "sqrt"}, "target_transform: unknown value 'sqrt'"),
        ("regularized_evolution", {"population_size": 5, "sample_size": 6}, "sample_size (6) must not exceed"),
    ],
)
def test_bad_names_and_options_raise_value_error(cell_space, name, options, message):
    with pytest.raises(ValueError) as info:
        make_searcher(name, cell_space, seed=0, **options)
    assert message in str(info.value)


def test_seed_must_be_an_integer(cell_space):
    with pytest.raises(ValueError, match="seed must be an integer"):
        make_searcher("random_search", cell_space, seed="7")
