"""The cost of evaluating in a worker process (the default for named objectives, so that a dying
evaluation cannot take the driver with it) against evaluating in the driver process: the worker's
one-off start-up, and the overhead per evaluation, on the cheap ``debug`` objective.

    OMP_NUM_THREADS=1 python benchmarks/bench_isolation.py [--evaluations 50] [--repeats 3]

Machines shared with other jobs make the figures noisy: the best of ``--repeats`` is reported.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hnas.grammar import load_space
from hnas.runner.evaluation import ObjectiveSpec, resolve_objective
from hnas.runner.executors import InProcessExecutor, LocalPoolExecutor, Task


def evaluate_all(executor, tasks: list[Task]) -> float:
    """Seconds to evaluate ``tasks`` one after the other on ``executor``."""
    start = time.perf_counter()
    for task in tasks:
        executor.submit(task)
        _, outcome = executor.next_event()
        assert outcome["error"] is None, outcome
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--search_space", default="nb201_fixed_1_none")
    args = parser.parse_args()
    space = load_space(args.search_space)
    rng = np.random.default_rng(0)
    tasks = [Task(i, space.sample(rng), i) for i in range(args.evaluations)]
    objective = ObjectiveSpec("debug")
    resolve_objective(objective)  # the driver builds it too (as run_search does), and warms up
    in_driver, in_worker, start_up = [], [], []
    for _ in range(args.repeats):
        in_driver.append(evaluate_all(InProcessExecutor(objective, 1), tasks))
        start = time.perf_counter()
        pool = LocalPoolExecutor(objective, 1, 1)
        start_up.append(time.perf_counter() - start)
        try:
            evaluate_all(pool, tasks[:1])  # the worker's first evaluation builds the objective there
            in_worker.append(evaluate_all(pool, tasks))
        finally:
            pool.close()
    n = args.evaluations
    print(f"debug objective, {n} evaluations, best of {args.repeats}:")
    print(f"  in the driver: {min(in_driver) / n * 1000:.1f} ms per evaluation")
    print(f"  in a worker:   {min(in_worker) / n * 1000:.1f} ms per evaluation "
          f"(+{(min(in_worker) - min(in_driver)) / n * 1000:.1f} ms), start-up {min(start_up):.1f} s once per run")  # fmt: skip


if __name__ == "__main__":
    main()
