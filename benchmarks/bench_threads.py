"""One digits evaluation, quiet and beside a CPU hog, with torch's default thread count and with
hnas's default for evaluations (one thread): prints the wall times and the hog/quiet ratio.

    OMP_NUM_THREADS= python benchmarks/bench_threads.py [--repeats 1] [--hogs 2] [--timeout 900]

Each evaluation runs in a fresh interpreter whose environment sets the thread count before torch
starts, as the runner's evaluation processes do. Machines shared with other jobs make the figures
noisy: the best of ``--repeats`` is reported.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time

_EVALUATE = """
import sys, time
import numpy as np
from hnas.grammar import load_space
from hnas.objectives import get_objective
from hnas.runner.evaluation import apply_thread_settings
apply_thread_settings({threads})
space = load_space("nb201_variable_multi_multi")
tree = space.sample(np.random.default_rng(0))
objective = get_objective("digits")
start = time.perf_counter()
objective.evaluate(tree, 0)
print(time.perf_counter() - start)
"""


def _hog() -> None:
    while True:
        pass


def _evaluate(threads: int | None, timeout: float) -> float:
    """Wall seconds of one evaluation (``threads=None``: torch's default), or inf past ``timeout``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OMP_", "MKL_"))}
    code = _EVALUATE.format(threads=threads)
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=timeout, check=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        return float("inf")
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--hogs", type=int, default=2, help="busy processes beside the evaluation")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before an evaluation is given up")
    args = parser.parse_args()
    for threads, label in ((None, f"torch default ({os.cpu_count()} threads)"), (1, "hnas default (1 thread)")):
        quiet = min(_evaluate(threads, args.timeout) for _ in range(args.repeats))
        hogs = [multiprocessing.Process(target=_hog, daemon=True) for _ in range(args.hogs)]
        for hog in hogs:
            hog.start()
        try:
            time.sleep(1.0)
            busy = min(_evaluate(threads, args.timeout) for _ in range(args.repeats))
        finally:
            for hog in hogs:
                hog.kill()
                hog.join()
        print(f"{label}: quiet {quiet:.1f} s, beside {args.hogs} busy processes {busy:.1f} s, "
              f"ratio {busy / quiet:.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
