"""Searcher options from the command line of experiments/optimize.py (parsed in-process)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hnas.searchers import RandomPool, UpperConfidenceBound

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "optimize.py"


@pytest.fixture(scope="module")
def optimize():
    spec = importlib.util.spec_from_file_location("optimize_cli", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_of(optimize, *argv):
    parser = optimize.build_parser()
    return optimize.config_from_args(parser.parse_args(list(argv)), parser)


def test_dedicated_flags_and_searcher_option_items_reach_the_options(optimize):
    config = config_of(
        optimize, "--acquisition", "ucb", "--pool_strategy", "random", "--pool_size", "40",
        "--searcher_option", "beta=0.5", "--n_init", "4",
    )  # fmt: skip
    cls, options = config.searcher_setup()
    assert options.acquisition == UpperConfidenceBound(beta=0.5)
    assert options.pool_strategy == RandomPool(pool_size=40) and options.n_init == 4
    evolution = config_of(optimize, "--searcher", "regularized_evolution", "--population_size", "12", "--sample_size", "4")
    _, options = evolution.searcher_setup()
    assert (options.population_size, options.sample_size) == (12, 4)


def test_flags_the_searcher_does_not_take_are_noted_and_ignored(optimize, capsys):
    config = config_of(optimize, "--searcher", "random_search", "--pool_size", "40")
    assert config.searcher_options == {}
    assert "random_search takes no --pool_size; ignored" in capsys.readouterr().err


def test_help_shows_the_defaults_of_the_options_dataclasses(optimize):
    text = optimize.build_parser().format_help()
    for flag, default in [("--n_init", 10), ("--pool_size", 200), ("--population_size", 30), ("--sample_size", 10)]:
        assert flag in text and f"(default {default})" in text
