"""A search on the synthetic objective in its own process, for the SIGKILL/resume tests.

Usage: python run_synthetic_search.py WORKING_DIRECTORY LOG_PATH MAX_EVALUATIONS DELAY SEARCHER
"""

import sys

from runner_objectives import SPACE, SyntheticObjective

from hnas.runner import RunConfig, run_search


def config(log_path: str, max_evaluations: int, delay: float, searcher: str) -> RunConfig:
    return RunConfig(
        search_space=SPACE,
        objective=SyntheticObjective(log_path, delay),
        searcher=searcher,
        seed=11,
        searcher_options={"n_init": 4, "pool_size": 30} if searcher == "bayesian_optimization" else {},
        max_evaluations_total=max_evaluations,
    )


if __name__ == "__main__":
    directory, log_path, max_evaluations, delay, searcher = sys.argv[1:6]
    print(run_search(config(log_path, int(max_evaluations), float(delay), searcher), directory))
