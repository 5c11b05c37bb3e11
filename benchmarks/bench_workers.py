"""Throughput of parallel evaluation: evaluations per minute with 1 and 2 workers on the embedded
offline objective (random search, so every worker count evaluates the same architectures).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_workers.py [--evaluations 12] [--workers 1 2]

1 worker evaluates in the driver process, more use the local pool of spawned processes (their
start-up is included in the wall time). Every evaluation uses 1 torch thread.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hnas.runner import RunConfig, load_trials, run_search


def measure(n_workers: int, args: argparse.Namespace, root: Path) -> dict[str, float]:
    config = RunConfig(
        search_space=args.search_space,
        objective=args.objective,
        searcher="random_search",
        seed=args.seed,
        max_evaluations_total=args.evaluations,
        epochs=args.epochs,
        train_subset=args.train_subset,
        n_workers=n_workers,
        torch_threads=1,
    )
    start = time.perf_counter()
    summary = run_search(config, root / f"workers{n_workers}")
    wall = time.perf_counter() - start
    trials = load_trials(summary.working_directory)
    mean_eval = sum(t.eval_seconds or 0.0 for t in trials) / len(trials)
    return {"workers": n_workers, "wall_s": wall, "per_minute": 60 * len(trials) / wall, "mean_eval_s": mean_eval}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--evaluations", type=int, default=12)
    parser.add_argument("--search_space", default="nb201_variable_multi_multi")
    parser.add_argument("--objective", default=None, help="default: hnas.objectives.DEFAULT_OBJECTIVE")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--train_subset", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        rows = [measure(n, args, Path(root)) for n in args.workers]
    print(f"{args.evaluations} evaluations, {args.search_space}, objective {args.objective or 'default'}")
    print(f"{'workers':>7} {'wall [s]':>9} {'evals/min':>10} {'mean eval [s]':>14} {'speed-up':>9}")
    for row in rows:
        print(f"{row['workers']:>7} {row['wall_s']:>9.1f} {row['per_minute']:>10.2f} {row['mean_eval_s']:>14.2f}"
              f" {row['per_minute'] / rows[0]['per_minute']:>9.2f}")


if __name__ == "__main__":
    main()
