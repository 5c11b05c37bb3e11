"""Hyperband vs full-budget regularized evolution: wall time to reach a target validation error.

    nice -n 10 .venv/bin/python benchmarks/bench_hyperband.py [--seeds 3] [--targets 0.2 0.1 0.06]
        [--max_epochs 6] [--eta 2] [--iterations 1] [--search_space nb201_fixed_1_none]
        [--train_subset 400] [--output results/bench_hyperband]

Both searchers run real searches (``run_search``: one worker process, 1 torch thread) on the
embedded default task (digits) with the same seeds. Hyperband (``--min_epochs 1 --max_epochs
--eta``) runs ``--iterations`` full Hyperband iterations (every bracket once); regularized
evolution trains every architecture for ``max_epochs`` (the full budget) and gets the same number
of training epochs in all (Hyperband's promoted trials continue from their checkpoints, so it
trains fewer epochs than its budgets add up to). For each run and target the time to target is
the run's active wall time when a trial first reached a validation error <= target (``any``: at
any fidelity, a trained network with that error exists; ``full``: Hyperband counts only trials
trained to ``max_epochs``); a run that never reaches it counts as its whole time (a lower bound,
marked ``>``). Prints a table per target and the ratio of the mean times (RE / Hyperband).
The runs stay under ``--output`` (one folder per searcher and seed): rerunning with other
``--targets`` reads the finished runs again instead of repeating them (delete the folder to rerun).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from hnas.grammar import load_space
from hnas.runner import RunConfig, load_trials, run_search
from hnas.searchers.multi_fidelity import Hyperband


def hyperband_shape(max_epochs: int, eta: int, iterations: int) -> tuple[int, int]:
    """(evaluations, epochs trained) of ``iterations`` Hyperband iterations, by driving the
    searcher itself with dummy results (continued trials count only the epochs they add)."""
    searcher = Hyperband(load_space("nb201_fixed_1_none"), seed=0, options=Hyperband.Options(1, max_epochs, eta))
    evaluations = epochs = 0
    while searcher.n_brackets <= iterations * len(searcher.levels):
        job = searcher.ask()
        if job.bracket == iterations * len(searcher.levels):
            break
        evaluations += 1
        epochs += job.epochs - (job.continues or 0)
        searcher.tell(job, 1.0 / (evaluations + 1))
    return evaluations, epochs


def time_to_target(trials: list, target: float, max_epochs: int, full_only: bool) -> tuple[float, bool]:
    """(seconds, reached): the run time when a trial first reached ``target``, else the run's end."""
    finished = sorted((t for t in trials if t.run_seconds is not None), key=lambda t: t.run_seconds)
    for trial in finished:
        at_full = trial.budget_epochs in (None, max_epochs)
        if trial.val_error is not None and trial.val_error <= target and (at_full or not full_only):
            return trial.run_seconds, True
    return (finished[-1].run_seconds if finished else math.nan), False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.2, 0.1, 0.06])
    parser.add_argument("--max_epochs", type=int, default=6)
    parser.add_argument("--eta", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=1, help="Hyperband iterations (all brackets once each)")
    parser.add_argument("--search_space", default="nb201_fixed_1_none")
    parser.add_argument("--train_subset", type=int, default=400, help="training images (digits has 1,000)")
    parser.add_argument("--output", type=Path, default=Path("results/bench_hyperband"))
    args = parser.parse_args()

    evaluations, epochs = hyperband_shape(args.max_epochs, args.eta, args.iterations)
    re_evaluations = math.ceil(epochs / args.max_epochs)
    print(f"hyperband: {evaluations} evaluations, {epochs} epochs trained; regularized_evolution: "
          f"{re_evaluations} evaluations x {args.max_epochs} epochs")
    common = dict(search_space=args.search_space, objective="digits", train_subset=args.train_subset)
    runs: dict[tuple[str, int], list] = {}
    for seed in range(args.seeds):
        configs = {
            "hyperband": RunConfig(searcher="hyperband", seed=seed, max_evaluations_total=evaluations,
                                   min_epochs=1, max_epochs=args.max_epochs, eta=args.eta, **common),
            "regularized_evolution": RunConfig(
                searcher="regularized_evolution", seed=seed, max_evaluations_total=re_evaluations,
                epochs=args.max_epochs, searcher_options={"population_size": 4, "sample_size": 2}, **common),
        }  # fmt: skip
        for name, config in configs.items():
            start = time.perf_counter()
            summary = run_search(config, args.output / f"{name}-seed{seed}")
            runs[name, seed] = load_trials(summary.working_directory)
            best = min(t.val_error for t in runs[name, seed] if t.val_error is not None)
            print(f"  seed {seed} {name}: {summary.n_evaluations} evaluations, {time.perf_counter() - start:.1f} s "
                  f"wall, best validation error {best:.4f}", flush=True)
    for target in args.targets:
        for full_only in (False, True):
            label = "full budget only" if full_only else "any fidelity"
            print(f"\ntarget validation error <= {target} ({label}): seconds of run time to reach it")
            means = {}
            for name in ("hyperband", "regularized_evolution"):
                cells, times = [], []
                for seed in range(args.seeds):
                    seconds, reached = time_to_target(runs[name, seed], target, args.max_epochs, full_only)
                    cells.append(f"{'' if reached else '>'}{seconds:.1f}")
                    times.append(seconds)
                means[name] = sum(times) / len(times)
                print(f"  {name:22s} " + "  ".join(cells) + f"   mean {means[name]:.1f}")
            ratio = means["regularized_evolution"] / means["hyperband"]
            print(f"  ratio regularized_evolution / hyperband: {ratio:.2f}")


if __name__ == "__main__":
    main()
