"""Grammar engine benchmark: median time per operation on the named spaces, printed as a table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_grammar.py [--repeats 300] [--rounds 5] [--seed 0]

Each figure is the best (lowest) of ``--rounds`` medians, so that a busy machine disturbs it less.
Operations: sample, mutate, crossover, self-crossover, parse, print (first print of a freshly
parsed tree; trees cache their string afterwards), parse+print, and count (the exact constrained
size, from a loaded grammar). Targets on the hierarchical space: sample <= 0.1 ms, every other
operation <= 2 ms, count < 0.1 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from hnas.grammar import SearchSpace, load_space
from hnas.grammar.analysis import Analysis

SPACES = ("nb201_variable_multi_multi", "nb201_fixed_1_none")


def median_ms(operation: Callable[[int], object], repeats: int) -> float:
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        operation(i)
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def bench_space(space: SearchSpace, repeats: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    trees = [space.sample(rng) for _ in range(repeats + 1)]
    texts = [space.to_string(t) for t in trees]
    fresh = [space.parse(text) for text in texts]  # not yet printed: no cached strings
    return {
        "sample": median_ms(lambda i: space.sample(rng), repeats),
        "mutate": median_ms(lambda i: space.mutate(trees[i], rng), repeats),
        "crossover": median_ms(lambda i: space.crossover(trees[i], trees[i + 1], rng), repeats),
        "self-crossover": median_ms(lambda i: space.self_crossover(trees[i], rng), repeats),
        "parse": median_ms(lambda i: space.parse(texts[i]), repeats),
        "print": median_ms(lambda i: space.to_string(fresh[i]), repeats),
        "parse+print": median_ms(lambda i: space.to_string(space.parse(texts[i])), repeats),
        "count": median_ms(lambda i: Analysis(space.grammar).count(), max(5, repeats // 20)),
        "nodes": float(np.mean([t.size() for t in trees])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5, help="report the best median of this many rounds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    spaces = {name: load_space(name) for name in SPACES}
    results: dict[str, dict[str, float]] = {}
    for round_ in range(args.rounds):
        for name, space in spaces.items():
            figures = bench_space(space, args.repeats, args.seed + round_)
            best = results.setdefault(name, figures)
            for key, value in figures.items():
                if key != "nodes":
                    best[key] = min(best[key], value)
    columns = list(next(iter(results.values())))
    print(f"median ms per operation, best of {args.rounds} rounds ({args.repeats} repeats; 'nodes' = mean tree size)")
    print(f"{'operation':<16}" + "".join(f"{name:>30}" for name in SPACES))
    for column in columns:
        print(f"{column:<16}" + "".join(f"{results[name][column]:>30.3f}" for name in SPACES))


if __name__ == "__main__":
    main()
