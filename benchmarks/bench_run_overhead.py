"""The driver's overhead per trial, which must not grow with the number of trials (issue 16).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_run_overhead.py [--sizes 100 1000 10000]
        [--searchers random_search regularized_evolution] [--search_space nb201_variable_multi_multi]

Each (searcher, size) is a fresh run of ``run_search`` on the objective ``debug`` in the driver
process. Overhead = wall time of the whole run (start-up, asks, canonical keys, store writes, the
final results file and plots) minus the time spent evaluating (the trials' ``eval_seconds``),
divided by the number of trials; a 5-trial warm-up run first keeps imports out of the figures.
Also reported: the run store's size on disk (with its WAL).
The default space is the hierarchical one: the NAS-Bench-201 cell space has only 5,424
architectures that differ under its canonical key, too few for 10,000 trials.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hnas.runner import RunConfig, load_trials, run_search
from hnas.runner.store import STORE_FILENAME


def store_bytes(directory: Path) -> int:
    """The store and its write-ahead log and shared-memory files."""
    return sum(path.stat().st_size for path in directory.glob(f"{STORE_FILENAME}*"))


def measure(searcher: str, n: int, search_space: str, root: Path) -> dict[str, float]:
    directory = root / f"{searcher}-{n}"
    config = RunConfig(search_space=search_space, objective="debug", searcher=searcher, max_evaluations_total=n)
    start = time.perf_counter()
    summary = run_search(config, directory)
    wall = time.perf_counter() - start
    assert summary.n_evaluations == n, summary
    evaluation = sum(t.eval_seconds or 0.0 for t in load_trials(directory))
    return {
        "wall_s": wall,
        "eval_s": evaluation,
        "overhead_ms": 1000 * (wall - evaluation) / n,
        "store_mib": store_bytes(directory) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 1000, 10000])
    parser.add_argument("--searchers", nargs="+", default=["random_search", "regularized_evolution"])
    parser.add_argument("--search_space", default="nb201_variable_multi_multi")
    args = parser.parse_args()
    print(f"space {args.search_space}, objective debug, one process (evaluations in the driver)")
    print("searcher                trials    wall s    eval s  overhead ms/trial  store MiB  vs smallest")
    with tempfile.TemporaryDirectory() as tmp:
        measure("random_search", 5, args.search_space, Path(tmp) / "warm-up")  # imports, first compiles
        for searcher in args.searchers:
            first = None
            for n in args.sizes:
                row = measure(searcher, n, args.search_space, Path(tmp))
                first = first or row["overhead_ms"]
                print(
                    f"{searcher:22s} {n:7d} {row['wall_s']:9.1f} {row['eval_s']:9.1f} "
                    f"{row['overhead_ms']:18.2f} {row['store_mib']:10.2f} {row['overhead_ms'] / first:11.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
