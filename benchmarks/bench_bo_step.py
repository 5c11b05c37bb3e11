"""Time one BANAT step (GP fit + acquisition optimisation) at n = 10, 50, 100 observations.

    .venv/bin/python benchmarks/bench_bo_step.py [--search_space nb201_variable_multi_multi]
        [--sizes 10 50 100] [--pool_strategy evolution] [--pool_size N]
        [--surrogate_model gp_hierarchical] [--repeats 1] [--as_in_a_run]

The observations are random samples of the space scored by the synthetic ``op_quality``
objective (different trees for each n and repeat, so the per-tree feature cache does not help;
``--as_in_a_run``: except for the first n - 1 training trees, whose features a run's previous step
extracted);
the step is a real ``ask()`` of the searcher (random interleaving off, so that it uses the model;
``--surrogate_model gp_hierarchical_paper --target_transform none`` is the paper's BO). A small
warm-up step runs first (imports, first torch calls). Times are the best of ``--repeats`` by CPU
time. "predict s" is the time in the surrogate's ``predict`` (graphs, WL features, GP) and "ms/tree"
that per tree scored; the rest of the acquisition is breeding (mutation/crossover) and the
canonical-key checks of the searcher. Target (issue 12): n = 50 in <= 0.5 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hnas.grammar import load_space
from hnas.searchers import make_searcher
from hnas.surrogates import SURROGATE_NAMES
from hnas.searchers.synthetic import op_quality_loss


def time_step(
    space, n: int, pool_options: dict, surrogate_model: str, seed: int, target_transform: str = "rank",
    as_in_a_run: bool = False,
) -> tuple[float, ...]:
    """One BO step after ``n`` observations: seconds fitting the GP, seconds of the whole ask
    (wall clock and CPU time of this process), generations run, trees scored and seconds in the
    surrogate's predict. ``as_in_a_run``: the surrogate was fitted on the first ``n - 1``
    observations before (the previous step of a run), so the step extracts the features of one new
    training tree, not of ``n``."""
    rng = np.random.default_rng(seed)
    searcher = make_searcher(
        "bayesian_optimization", space, seed=seed, **pool_options, surrogate_model=surrogate_model,
        target_transform=target_transform, random_interleave_prob=0.0,  # every timed ask uses the model
    )  # fmt: skip
    seen: dict = {}  # tree -> loss, in the order told
    while len(seen) < n:
        tree = space.sample(rng)
        if tree not in seen:
            seen[tree] = op_quality_loss(tree)
            searcher.tell(tree, seen[tree])  # observations the searcher did not ask for
    if as_in_a_run:
        searcher.surrogate.fit(list(seen)[:-1], np.array(list(seen.values())[:-1]))
    fit, predict = searcher.surrogate.fit, searcher.surrogate.predict
    fit_seconds = predict_seconds = 0.0

    def timed_fit(*args, **kwargs):
        nonlocal fit_seconds
        start = time.perf_counter()
        fit(*args, **kwargs)
        fit_seconds += time.perf_counter() - start

    def timed_predict(*args, **kwargs):
        nonlocal predict_seconds
        start = time.perf_counter()
        out = predict(*args, **kwargs)
        predict_seconds += time.perf_counter() - start
        return out

    searcher.surrogate.fit, searcher.surrogate.predict = timed_fit, timed_predict
    start, cpu_start = time.perf_counter(), time.process_time()
    searcher.ask()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    del searcher.surrogate.fit, searcher.surrogate.predict  # back to the methods: no reference cycle
    stats = searcher.last_acquisition
    return fit_seconds, wall, cpu, stats["generations"], stats["n_scored"], predict_seconds, stats["best_score"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--search_space", default="nb201_variable_multi_multi")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--pool_strategy", default="evolution", help="BO's default; 'elite_evolution': the fast one")
    parser.add_argument("--pool_size", type=int, default=None, help="default: the pool strategy's")
    parser.add_argument("--surrogate_model", default="gp_hierarchical", choices=SURROGATE_NAMES)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--target_transform", default="rank", help="'none' with a *_paper surrogate: the paper's BO")
    parser.add_argument(
        "--as_in_a_run", action="store_true",
        help="fit on the first n - 1 observations before the timed step, as the previous step of a run did: the "
        "step extracts one new training tree's features (default: all n are new, the fit's worst case)",
    )  # fmt: skip
    args = parser.parse_args()
    space = load_space(args.search_space)
    pool = {"pool_strategy": args.pool_strategy, **({} if args.pool_size is None else {"pool_size": args.pool_size})}
    time_step(space, 10, {"pool_size": 10}, args.surrogate_model, seed=10_000)  # warm-up: imports, first torch calls
    print(f"space {args.search_space}, surrogate {args.surrogate_model}, pool {pool}, as in a run: {args.as_in_a_run}")
    print("wall-clock seconds, and the step's CPU seconds (robust to a busy machine: 1 thread)")
    header = ("n", "fit s", "acq. s", "step s", "step cpu s", "generations", "trees scored", "predict s", "ms/tree", "best EI")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (5, 7, 7, 7, 10, 11, 12, 9, 7, 8))))
    for n in args.sizes:
        runs = [
            time_step(space, n, pool, args.surrogate_model, seed=1000 * n + r,
                      target_transform=args.target_transform, as_in_a_run=args.as_in_a_run)
            for r in range(args.repeats)
        ]
        best = min(runs, key=lambda run: run[2])  # best of --repeats by CPU time (a loaded machine)
        fit, wall, cpu, generations, scored, predict, ei = best
        print(
            f"{n:>5} {fit:>7.2f} {wall - fit:>7.2f} {wall:>7.2f} {cpu:>10.2f} {generations:>11.1f} {scored:>12.0f}"
            f" {predict:>9.2f} {predict / scored * 1e3:>7.2f} {ei:>8.3f}"
        )


if __name__ == "__main__":
    main()
