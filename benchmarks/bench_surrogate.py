"""Timings of the hWL kernel and the GP surrogate on the hierarchical NAS-Bench-201 space.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_surrogate.py [--repeats 3] [--seed 0]

Measures, each as the best of ``--repeats`` runs (wall clock, or process CPU time with
``--clock cpu``, which a shared, loaded machine disturbs less):

- hWL Gram (flattened graph at depth 2 + every hierarchy level at depth 2) for n = 50/100/200:
  cold (fresh feature cache and label dictionary; the graphs themselves built by
  ``hnas.semantics`` are timed separately, since they are cached per tree), with cached features,
  and the same Gram computed with grakel (``WeisfeilerLehman(n_iter=2)`` on each graph, fit from
  the networkx graphs) for comparison;
- GP fit (gp_hierarchical: five flattened-graph depths, the profiled fit, features cached) at
  n_train = 10/50/100;
- prediction on a pool of 200 trees after a fit on 100, with cached pool features, and for a
  pool never seen (its graphs and features built during the call);
- prediction on 50 new trees (fit on 50) before and after ``--history`` random trees were scored
  and dropped, as a BO run does with its candidate pools: the label dictionary must not grow with
  them, nor the cost of a prediction.

Targets (issue 5): Gram 200x200 <= 0.5 s cold, <= 20 ms cached; fit at 100 <= 1 s; predict 200 <= 50 ms.
Issue 12: Gram 200x200 cold <= 0.1 s.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from hnas.grammar import load_space
from hnas.kernels.hierarchical import TreeWLFeatures
from hnas.semantics import hierarchical_graph_arrays, hierarchical_graphs
from hnas.surrogates import get_surrogate
from hnas.surrogates.wl_gp import WLGaussianProcess

SPACE = "nb201_variable_multi_multi"


CLOCK: Callable[[], float] = time.perf_counter


def best_of(repeats: int, fn: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
    """Smallest time of ``fn`` over ``repeats`` runs (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return min(times)


def grakel_hwl_gram(trees: list, n_levels: int) -> np.ndarray:
    """The same (uniformly weighted) hWL Gram with grakel: one WL kernel per graph."""
    from grakel.kernels import VertexHistogram, WeisfeilerLehman
    from grakel.utils import graph_from_networkx

    graphs = [hierarchical_graphs(t, n_levels) for t in trees]
    total = np.zeros((len(trees), len(trees)))
    for j in range(n_levels + 1):
        kernel = WeisfeilerLehman(n_iter=2, base_graph_kernel=VertexHistogram, normalize=True)
        total += kernel.fit_transform(list(graph_from_networkx([g[j] for g in graphs], node_labels_tag="label")))
    return total / (n_levels + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--history", type=int, default=20_000, help="random trees scored before the last predictions")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="cpu: process CPU time (less sensitive to other load on a shared machine; run single-threaded)",
    )  # fmt: skip
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the grammar's weighted-production warning
        space = load_space(SPACE)
    n_levels = space.hierarchy_depth
    rng = np.random.default_rng(args.seed)
    pool: dict = {}
    while len(pool) < 850:
        pool.setdefault(space.sample(rng), None)
    trees = list(pool)
    depths = (4,) + (2,) * n_levels
    components = [(0, 2)] + [(j, 2) for j in range(1, n_levels + 1)]
    r = args.repeats
    print(f"space {SPACE} ({n_levels} levels), best of {r} runs, {args.clock} clock, 1 torch thread")

    print("\nhWL Gram n x n          ours cold   ours cached   grakel    graphs (semantics, uncached)")
    unseen = iter([trees[500:550], trees[550:650], trees[650:850]])  # for graph timings only
    for n in (50, 100, 200):
        subset = trees[:n]
        graph_trees = next(unseen)
        graphs = best_of(1, lambda: [hierarchical_graph_arrays(t, n_levels) for t in graph_trees])
        [hierarchical_graph_arrays(t, n_levels) for t in subset]  # our timings exclude graph building
        holder: dict = {}
        cold = best_of(
            r,
            lambda: holder["f"].gram(subset, None, components),
            setup=lambda: holder.update(f=TreeWLFeatures(n_levels, depths)),
        )
        cached = best_of(r, lambda: holder["f"].gram(subset, None, components))
        ours = np.mean(holder["f"].gram(subset, None, components), axis=0)
        reference = grakel_hwl_gram(subset, n_levels)
        assert np.abs(ours - reference).max() < 1e-6, "grakel disagrees"
        grakel = best_of(1 if n == 200 else r, lambda: grakel_hwl_gram(subset, n_levels))
        print(f"  n = {n:3d}            {cold * 1e3:8.1f} ms {cached * 1e3:9.1f} ms {grakel * 1e3:9.1f} ms {graphs * 1e3:9.1f} ms")

    y = rng.random(len(trees))  # timings do not depend on the targets' values
    print("\nGP fit (gp_hierarchical, features cached)")
    get_surrogate("gp_hierarchical", space).fit(trees[:20], y[:20])  # one-off torch/gpytorch warm-up
    for n in (10, 50, 100):
        surrogate = get_surrogate("gp_hierarchical", space)
        surrogate.fit(trees[:n], y[:n])
        seconds = best_of(r, lambda: surrogate.fit(trees[:n], y[:n]))
        print(f"  n_train = {n:3d}   {seconds * 1e3:8.1f} ms   (chosen depth {surrogate.depth})")

    print("\nPredict on a pool of 200 (fit on 100)")
    surrogate = get_surrogate("gp_hierarchical", space).fit(trees[:100], y[:100])
    candidates = trees[100:300]
    surrogate.predict(candidates)
    warm = best_of(r, lambda: surrogate.predict(candidates))
    print(f"  cached pool features   {warm * 1e3:8.1f} ms")
    fresh = WLGaussianProcess("gp_hierarchical", TreeWLFeatures(n_levels, depths), depths=range(5), n_levels=n_levels)
    fresh.fit(trees[:100], y[:100])
    cold = best_of(1, lambda: fresh.predict(trees[300:500]))
    print(f"  new pool (graphs built, features extracted)   {cold * 1e3:8.1f} ms")

    print(f"\nPredict on 50 new trees (fit on 50) before/after {args.history} random trees were scored")
    model = WLGaussianProcess("gp_hierarchical", TreeWLFeatures(n_levels, depths), depths=range(5), n_levels=n_levels)
    model.fit(trees[:50], y[:50])
    new: dict = {}
    draw = lambda: new.update(trees=[space.sample(rng) for _ in range(50)])  # noqa: E731
    for label in ("before", "after"):
        if label == "after":
            for start in range(0, args.history, 1000):
                model.features.features([space.sample(rng) for _ in range(min(1000, args.history - start))])
        seconds = best_of(r, lambda: model.predict(new["trees"]), setup=draw)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  {label:6s} {seconds * 1e3:8.1f} ms   {model.features.n_labels:9d} labels   peak RSS {rss:6.0f} MB")

if __name__ == "__main__":
    main()
