"""A multi-fidelity search on the synthetic fidelity objective in its own process (SIGKILL tests).

Usage: python run_fidelity_search.py WORKING_DIRECTORY LOG_PATH MAX_EVALUATIONS DELAY SEARCHER
"""

import sys

from fidelity_objectives import FidelityObjective
from runner_objectives import SPACE

from hnas.runner import RunConfig, run_search


def config(log_path: str, max_evaluations: int, delay: float, searcher: str) -> RunConfig:
    return RunConfig(search_space=SPACE, objective=FidelityObjective(log_path, delay), searcher=searcher, seed=4,
                     max_evaluations_total=max_evaluations, min_epochs=1, max_epochs=9, eta=3)  # fmt: skip


if __name__ == "__main__":
    directory, log_path, max_evaluations, delay, searcher = sys.argv[1:6]
    print(run_search(config(log_path, int(max_evaluations), float(delay), searcher), directory))
