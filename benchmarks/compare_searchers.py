"""Random search vs regularized evolution vs BANAT on a cheap synthetic objective.

    .venv/bin/python benchmarks/compare_searchers.py [--seeds 10] [--budget 60]
        [--objective op_quality] [--search_space nb201_variable_multi_multi]
        [--searchers random_search regularized_evolution bayesian_optimization]
        [--output results/compare_searchers]

Each searcher runs ``--seeds`` seeds (0, 1, ...) for ``--budget`` evaluations with its default
options (BO: ``--pool_size``, ``--n_init``). Writes ``incumbents.csv`` (one row per searcher, seed
and evaluation), ``incumbents.png`` (mean incumbent +- standard error against evaluations) and
prints a table of the mean incumbent at a few budgets.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hnas.grammar import load_space  # noqa: E402
from hnas.searchers import get_searcher_class, make_searcher, searcher_names  # noqa: E402
from hnas.searchers.multi_fidelity import MultiFidelitySearcher  # noqa: E402
from hnas.searchers.synthetic import SYNTHETIC_OBJECTIVES  # noqa: E402


def incumbent_curve(searcher, objective, budget: int) -> np.ndarray:
    """Best loss after each of ``budget`` sequential evaluations."""
    best, curve = np.inf, np.empty(budget)
    for i in range(budget):
        tree = searcher.ask()
        loss = objective(tree)
        searcher.tell(tree, loss)
        best = min(best, loss)
        curve[i] = best
    return curve


def mean_and_se(runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds (rows) of incumbent curves."""
    se = runs.std(0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else np.zeros(runs.shape[1])
    return runs.mean(0), se


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds, 0..seeds-1")
    parser.add_argument("--budget", type=int, default=60, help="evaluations per run")
    parser.add_argument("--objective", default="op_quality", choices=sorted(SYNTHETIC_OBJECTIVES))
    parser.add_argument("--search_space", default="nb201_variable_multi_multi")
    single = [n for n in searcher_names() if not issubclass(get_searcher_class(n), MultiFidelitySearcher)]
    parser.add_argument("--searchers", nargs="+", default=single, choices=single,
                        help="single-fidelity searchers (bench_hyperband.py compares a multi-fidelity one)")
    parser.add_argument("--pool_size", type=int, default=None, help="BO acquisition pool (default: the pool strategy's)")
    parser.add_argument("--n_init", type=int, default=10, help="BO random initial points")
    parser.add_argument("--output", type=Path, default=Path("results/compare_searchers"))
    args = parser.parse_args()
    if args.seeds < 1 or args.budget < 1:
        parser.error("--seeds and --budget must be >= 1")
    space = load_space(args.search_space)
    objective = SYNTHETIC_OBJECTIVES[args.objective]
    args.output.mkdir(parents=True, exist_ok=True)

    curves: dict[str, np.ndarray] = {}
    for name in args.searchers:
        options = {"n_init": args.n_init, **({} if args.pool_size is None else {"pool_size": args.pool_size})}
        options = options if name == "bayesian_optimization" else {}
        runs = []
        for seed in range(args.seeds):
            start = time.perf_counter()
            runs.append(incumbent_curve(make_searcher(name, space, seed=seed, **options), objective, args.budget))
            print(f"{name} seed {seed}: incumbent {runs[-1][-1]:.4f} ({time.perf_counter() - start:.1f} s)", flush=True)
        curves[name] = np.stack(runs)

    with (args.output / "incumbents.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["searcher", "seed", "evaluation", "incumbent"])
        for name, runs in curves.items():
            for seed, curve in enumerate(runs):
                writer.writerows([name, seed, i + 1, f"{v:.6g}"] for i, v in enumerate(curve))

    checkpoints = sorted({c for c in (10, 25, 50, 100, 200, args.budget) if c <= args.budget})
    print(f"\n{args.objective} on {args.search_space}, {args.seeds} seeds: mean incumbent +- s.e.")
    print(f"{'searcher':<24}" + "".join(f"{f'@{c}':>18}" for c in checkpoints))
    for name, runs in curves.items():
        mean, se = mean_and_se(runs)
        print(f"{name:<24}" + "".join(f"{mean[c - 1]:>10.4f} +- {se[c - 1]:.4f}" for c in checkpoints))

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(1, args.budget + 1)
    for name, runs in curves.items():
        mean, se = mean_and_se(runs)
        ax.plot(x, mean, label=name)
        ax.fill_between(x, mean - se, mean + se, alpha=0.25)
    ax.set(xlabel="evaluations", ylabel=f"incumbent loss ({args.objective})",
           title=f"{args.search_space}, {args.seeds} seeds (mean +- s.e.)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output / "incumbents.png", dpi=120)
    print(f"\nwrote {args.output / 'incumbents.csv'} and {args.output / 'incumbents.png'}")


if __name__ == "__main__":
    main()
