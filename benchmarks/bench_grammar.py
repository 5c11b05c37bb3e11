"""Grammar engine benchmark: median CPU time per operation on the named spaces, printed as a table.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_grammar.py [--repeats 300] [--rounds 5] [--seed 0]

Each figure is the best (lowest) of ``--rounds`` medians of CPU time (``time.process_time``), so
that a busy machine disturbs it less. Operations: sample, mutate, crossover, self-crossover (on
fresh samples: nothing about the parents is known yet), the same three "bred" (each parent is the
previous operation's child, as in an evolving pool, where a child shares all but a few nodes with
a tree bred before), parse, print (first print of a freshly parsed tree; trees cache their string
afterwards), parse+print, and count (the exact constrained size, from a loaded grammar). Targets on
the hierarchical space: sample <= 0.1 ms, every other operation <= 2 ms, count < 0.1 s; bred
operations ~0.04 ms (issue 12: ~2,700 children per BO step).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from hnas.grammar import SearchSpace, Tree, load_space
from hnas.grammar.analysis import Analysis

SPACES = ("nb201_variable_multi_multi", "nb201_fixed_1_none")


def median_ms(operation: Callable[[int], object], repeats: int) -> float:
    times = []
    for i in range(repeats):
        started = time.process_time()
        operation(i)
        times.append(time.process_time() - started)
    return 1e3 * statistics.median(times)


def bred_ms(space: SearchSpace, first: Tree, second: Tree, rng: np.random.Generator, repeats: int) -> dict[str, float]:
    """Median ms of mutation, crossover and self-crossover where each parent is the last child."""
    parents = [first, second]

    def mutate(i: int) -> None:
        parents[0] = space.mutate(parents[0], rng)

    def crossover(i: int) -> None:
        parents[:] = space.crossover(*parents, rng) or parents

    def self_crossover(i: int) -> None:
        parents[0] = space.self_crossover(parents[0], rng) or parents[0]

    return {
        "mutate (bred)": median_ms(mutate, repeats),
        "crossover (bred)": median_ms(crossover, repeats),
        "self-crossover (bred)": median_ms(self_crossover, repeats),
    }


def bench_space(space: SearchSpace, repeats: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    trees, mutated, crossed, self_crossed = ([space.sample(rng) for _ in range(repeats + 1)] for _ in range(4))
    texts = [space.to_string(t) for t in trees]
    fresh = [space.parse(text) for text in texts]  # not yet printed: no cached strings
    return {  # each edit on parents met for the first time
        "sample": median_ms(lambda i: space.sample(rng), repeats),
        "mutate": median_ms(lambda i: space.mutate(mutated[i], rng), repeats),
        "crossover": median_ms(lambda i: space.crossover(crossed[i], crossed[i + 1], rng), repeats),
        "self-crossover": median_ms(lambda i: space.self_crossover(self_crossed[i], rng), repeats),
        **bred_ms(space, space.sample(rng), space.sample(rng), rng, repeats),
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
    print(f"median CPU ms per operation, best of {args.rounds} rounds ({args.repeats} repeats; 'nodes' = mean tree size)")
    print(f"{'operation':<22}" + "".join(f"{name:>30}" for name in SPACES))
    for column in columns:
        print(f"{column:<22}" + "".join(f"{results[name][column]:>30.3f}" for name in SPACES))


if __name__ == "__main__":
    main()
