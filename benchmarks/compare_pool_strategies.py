"""EI reached per tree scored by BO's acquisition optimisers (pool strategies), paired by seed.

    .venv/bin/python benchmarks/compare_pool_strategies.py [--search_space nb201_variable_multi_multi]
        [--strategies evolution sampled_elite elite_evolution] [--seeds 10] [--n 50] [--budgets 500 800 1000]

For each seed, ``--n`` random trees of the space are told with the synthetic ``op_quality`` loss;
then one model-based ask (random interleaving off) of BO with each pool strategy runs on the same
observations. A strategy is a registered name (its default options) or ``LABEL=NAME:key=value,...``
(options of that strategy, e.g. ``evo12=evolution:max_generations=12``). Printed per strategy: the
best EI met after each budget of scored trees and at the end (mean over seeds), the paired difference of the final EI to the first
strategy's (mean ± standard error), the trees scored, CPU seconds of the ask, and in how many seeds
its final EI is at least the first strategy's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.nasbench_graph.regret import parse_searcher
from hnas.grammar import load_space
from hnas.searchers import AcquisitionProblem, make_searcher
from hnas.searchers.synthetic import op_quality_loss


def trajectory(space, strategy: str, options: dict, seed: int, n: int) -> tuple[list[tuple[int, float]], float]:
    """(trees scored, best EI so far) after each scoring batch of one ask, and its CPU seconds."""
    rng = np.random.default_rng(seed)
    searcher = make_searcher("bayesian_optimization", space, seed=seed, pool_strategy=strategy,
                             random_interleave_prob=0.0, **options)  # fmt: skip
    seen: set = set()
    while len(seen) < n:
        tree = space.sample(rng)
        if tree not in seen:
            seen.add(tree)
            searcher.tell(tree, op_quality_loss(tree))
    points: list[tuple[int, float]] = []
    scores = AcquisitionProblem.scores

    def recording(problem, trees):
        out = scores(problem, trees)
        points.append((problem.n_scored, problem.best_fresh_score()))
        return out

    AcquisitionProblem.scores = recording
    try:
        start = time.process_time()
        searcher.ask()
        seconds = time.process_time() - start
    finally:
        AcquisitionProblem.scores = scores
    return points, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--search_space", default="nb201_variable_multi_multi")
    parser.add_argument("--strategies", nargs="+", default=["evolution", "sampled_elite", "elite_evolution"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--budgets", type=int, nargs="+", default=[500, 800, 1000])
    args = parser.parse_args()
    space = load_space(args.search_space)
    final = {}
    print(f"space {args.search_space}, n = {args.n}, seeds 0..{args.seeds - 1} (op_quality targets)")
    header = ["strategy", *(f"EI@{b}" for b in args.budgets), "EI end", "end - first", "trees", "cpu s", ">= first"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for spec in args.strategies:
        strategy, name, options = parse_searcher(spec) if "=" in spec else (spec, spec, {})
        rows = [trajectory(space, name, options, seed, args.n) for seed in range(args.seeds)]
        at = [[max((ei for k, ei in points if k <= b), default=np.nan) for points, _ in rows] for b in args.budgets]
        final[strategy] = np.array([points[-1][1] for points, _ in rows])
        difference = final[strategy] - next(iter(final.values()))
        wins = int(np.sum(difference >= 0))
        error = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else np.nan
        cells = [strategy, *(f"{np.nanmean(v):.2f}" for v in at), f"{final[strategy].mean():.2f}",
                 f"{difference.mean():+.2f} ± {error:.2f}",
                 f"{np.mean([p[-1][0] for p, _ in rows]):.0f}", f"{np.mean([s for _, s in rows]):.2f}",
                 f"{wins}/{args.seeds}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
