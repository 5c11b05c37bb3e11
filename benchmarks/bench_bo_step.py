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
canonical-key checks of the searcher. "WL s" is the time in WL relabelling rounds on built graphs,
"Gram/GP s" in cross-Gram products and the GP's posterior algebra, and "other s" the step without
both: the Python that builds, breeds and keeps the trees and their graphs, i.e. what a step would
still cost if WL and the Gram were free (docs/surrogates.md, seventh round). Target (issue 12):
n = 50 in <= 0.5 s.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import numpy as np

from hnas.grammar import load_space
from hnas.kernels.hierarchical import _Reference
from hnas.searchers import make_searcher
from hnas.surrogates import SURROGATE_NAMES
from hnas.searchers.synthetic import op_quality_loss
from hnas.surrogates.gp import BlockPosterior


def time_step(
    space, n: int, pool_options: dict, surrogate_model: str, seed: int, target_transform: str = "rank",
    as_in_a_run: bool = False,
) -> StepTimes:
    """One BO step after ``n`` observations (:class:`StepTimes`): seconds fitting the GP, seconds of
    the whole ask (wall clock and CPU time of this process), generations run, trees scored, seconds
    in the surrogate's predict, of it in WL rounds and in cross Grams and GP algebra, and the best
    EI. ``as_in_a_run``: the surrogate was fitted on the first ``n - 1``
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
    timers = [
        _Timer(searcher.surrogate, "fit"), _Timer(searcher.surrogate, "predict"),
        _Timer(searcher.surrogate.features._featurizer, "features"),  # WL rounds on built graphs
        _Timer(_Reference, "gram"), _Timer(BlockPosterior, "predict"),  # cross Grams, GP algebra
    ]  # fmt: skip
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        searcher.ask()
    finally:
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        for timer in timers:
            timer.remove()
    fit_s, predict_s, wl_s, gram_s, gp_s = (timer.seconds for timer in timers)
    stats = searcher.last_acquisition
    return StepTimes(
        fit_s, wall, cpu, stats["generations"], stats["n_scored"], predict_s, wl_s, gram_s + gp_s,
        stats["best_score"],
    )  # fmt: skip


class StepTimes(NamedTuple):
    """What :func:`time_step` measured (seconds; ``wl`` in WL rounds, ``gram_gp`` in cross Grams and
    the GP's posterior algebra: the numeric kernels, against the Python around them)."""

    fit: float
    wall: float
    cpu: float
    generations: int
    n_scored: int
    predict: float
    wl: float
    gram_gp: float
    best_ei: float


class _Timer:
    """Wraps ``owner.name`` (an object's or a class's method) to add up the wall-clock seconds spent
    in it (outermost calls only); :meth:`remove` puts the method back."""

    def __init__(self, owner: object, name: str) -> None:
        self.owner, self.name, self.seconds, self._depth = owner, name, 0.0, 0
        self._own = vars(owner).get(name)  # what to put back (None: the class's method shows again)
        method = getattr(owner, name) if not isinstance(owner, type) else vars(owner)[name]

        def timed(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.seconds += time.perf_counter() - start

        setattr(owner, name, timed)

    def remove(self) -> None:
        if self._own is None:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self._own)


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
    header = (
        "n", "fit s", "acq. s", "step s", "step cpu s", "generations", "trees scored", "predict s", "ms/tree",
        "WL s", "Gram/GP s", "other s", "best EI",
    )  # fmt: skip
    widths = (5, 7, 7, 7, 10, 11, 12, 9, 7, 6, 9, 7, 8)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths)))
    for n in args.sizes:
        runs = [
            time_step(space, n, pool, args.surrogate_model, seed=1000 * n + r,
                      target_transform=args.target_transform, as_in_a_run=args.as_in_a_run)
            for r in range(args.repeats)
        ]
        t = min(runs, key=lambda run: run.cpu)  # best of --repeats by CPU time (a loaded machine)
        print(
            f"{n:>5} {t.fit:>7.2f} {t.wall - t.fit:>7.2f} {t.wall:>7.2f} {t.cpu:>10.2f} {t.generations:>11.1f}"
            f" {t.n_scored:>12.0f} {t.predict:>9.2f} {t.predict / t.n_scored * 1e3:>7.2f} {t.wl:>6.2f}"
            f" {t.gram_gp:>9.2f} {t.wall - t.wl - t.gram_gp:>7.2f} {t.best_ei:>8.3f}"
        )


if __name__ == "__main__":
    main()
