"""Search runs: the resumable run store (sqlite), the ask/evaluate/tell loop, and where evaluations
run (the driver process, a local pool of worker processes, or a Dask cluster).

>>> from hnas.runner import RunConfig, run_search
>>> summary = run_search(RunConfig(searcher="bayesian_optimization", max_evaluations_total=20), "runs/bo")
>>> print(summary)
"""

from hnas.runner.config import RunConfig
from hnas.runner.driver import RunSummary, default_working_directory, run_search
from hnas.runner.errors import ConfigMismatchError, RunConfigError, RunError, RunLockedError, StoreDamagedError
from hnas.runner.store import Trial, TrialStatus, load_config, load_trials

__all__ = [
    "RunConfig",
    "RunSummary",
    "run_search",
    "default_working_directory",
    "Trial",
    "TrialStatus",
    "load_trials",
    "load_config",
    "RunError",
    "RunConfigError",
    "ConfigMismatchError",
    "RunLockedError",
    "StoreDamagedError",
]
