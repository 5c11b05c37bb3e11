"""Zero-cost proxy rank correlation: how well each proxy ranks trained architectures.

Scores every architecture with every zero-cost proxy (untrained network, one training batch) and
reports, per proxy, Kendall tau and Spearman rank correlation between the score and the validation
accuracy (1 - validation error), so a positive value means the proxy ranks like training does.
The proxy seed (initial weights and the batch) varies over --n_seeds seeds; the table gives the
mean and standard deviation over seeds.

Architectures come from the run stores under --working_directory (the done trials of runs of
--search_space with --objective, read-only), or from a fresh random sample this script trains
itself (--sample N: a random-search run in <output>/sample, resumable):

    python experiments/zero_cost_rank_correlation.py --sample 30 --objective digits --output zc
    python experiments/zero_cost_rank_correlation.py --working_directory runs --n_seeds 5

The proxies use --objective's data (--data_path for dataset objectives). Writes scores.csv (one
row per architecture and seed), records.csv (one row per proxy and seed), summary.csv and
correlation.png into --output and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from hnas.cli import add_plugin_argument, bounded, run_interruptibly
from hnas.errors import HnasError, UsageError
from hnas.grammar import load_space
from hnas.grammar.space import SearchSpace
from hnas.grammar.tree import Tree
from hnas.objectives import PROXIES, EvaluationError, ProxyObjective, load_task
from hnas.objectives.proxies import check_proxy_names
from hnas.plugins import load_plugins
from hnas.runner import RunConfig, RunError, run_search
from hnas.runner.folders import create_folder
from hnas.runner.store import done_rows, find_runs

PROG = "zero_cost_rank_correlation.py"
METRICS = ("kendall_tau", "spearman")


def read_architectures(
    directory: Path, space: SearchSpace, objective: str
) -> tuple[list[Tree], np.ndarray, int]:
    """Distinct architectures of the done trials under ``directory`` and their mean validation
    error; the number of runs read. An unreadable store is skipped with a warning."""
    errors: dict[str, list[float]] = {}
    runs = find_runs(directory)
    for run_dir in runs:
        try:
            for architecture, error in done_rows(run_dir, space_name=space.name, objective=objective):
                errors.setdefault(architecture, []).append(error)
        except RunError as error:
            print(f"{PROG}: warning: skipping {run_dir}: {error}", file=sys.stderr)
    trees = [space.parse(a) for a in errors]
    return trees, np.array([np.mean(v) for v in errors.values()]), len(runs)


def train_sample(args: argparse.Namespace, directory: Path) -> None:
    """Train ``args.sample`` random architectures of the space (a random-search run, resumable)."""
    config = RunConfig(
        search_space=args.search_space[0] if len(args.search_space) == 1 else args.search_space,
        objective=args.objective, searcher="random_search", seed=args.seed,
        max_evaluations_total=args.sample, data_path=args.data_path, epochs=args.epochs,
        train_subset=args.train_subset, plugins=tuple(args.plugin),
    )  # fmt: skip
    summary = run_search(config, directory)
    print(f"sample: {summary.n_done} trained, {summary.n_failed} failed in {directory}", file=sys.stderr)
    if summary.interrupted:  # not on to the scoring: rerunning the command continues the sample
        raise KeyboardInterrupt


def score_architectures(
    trees: Sequence[Tree], objectives: dict[str, ProxyObjective], seeds: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """``scores[seed, architecture, proxy]`` (NaN where the proxy failed on that network) and the
    seconds each proxy took in total."""
    scores = np.full((len(seeds), len(trees), len(objectives)), math.nan)
    seconds = np.zeros(len(objectives))
    for s, seed in enumerate(seeds):
        print(f"scoring {len(trees)} architectures with proxy seed {seed}", file=sys.stderr)
        for a, tree in enumerate(trees):
            for p, objective in enumerate(objectives.values()):
                start = time.perf_counter()
                try:
                    scores[s, a, p] = -objective.evaluate(tree, seed).val_error
                except EvaluationError:
                    pass
                seconds[p] += time.perf_counter() - start
    return scores, seconds


def rank_correlations(score: np.ndarray, val_error: np.ndarray) -> dict[str, float]:
    """Kendall tau and Spearman of ``score`` against the accuracy ``-val_error`` over the
    architectures where the score is finite; NaN when fewer than 3 remain or either is constant."""
    keep = np.isfinite(score)
    score, accuracy = score[keep], -val_error[keep]
    if len(score) < 3 or np.ptp(score) == 0 or np.ptp(accuracy) == 0:
        return {metric: math.nan for metric in METRICS}
    return {
        "kendall_tau": float(stats.kendalltau(score, accuracy)[0]),
        "spearman": float(stats.spearmanr(score, accuracy)[0]),
    }


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return float(np.mean(finite)), float(np.std(finite))


def summarise(
    records: list[dict[str, object]], names: Sequence[str], seconds: np.ndarray, n: int
) -> list[dict[str, object]]:
    """One row per proxy: mean and std over seeds of each metric, failures, seconds per network."""
    summary = []
    for p, name in enumerate(names):
        rows = [r for r in records if r["proxy"] == name]
        row: dict[str, object] = {"proxy": name, "seeds": len(rows)}
        for metric in METRICS:
            row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std([float(r[metric]) for r in rows])
        row["failed"] = sum(int(r["failed"]) for r in rows)
        row["seconds_per_network"] = float(seconds[p]) / max(1, n * len(rows))
        summary.append(row)
    return summary


def format_table(summary: list[dict[str, object]]) -> str:
    lines = [f"{'proxy':<15} {'seeds':>5} {'kendall_tau':>15} {'spearman':>15} {'failed':>6} {'s/net':>6}"]
    for row in summary:
        cells = [f"{row[f'{m}_mean']:+.3f} ± {row[f'{m}_std']:.3f}" for m in METRICS]
        lines.append(
            f"{row['proxy']:<15} {row['seeds']:>5} {cells[0]:>15} {cells[1]:>15} {row['failed']:>6} "
            f"{row['seconds_per_network']:>6.2f}"
        )
    return "\n".join(lines)


def write_csv(rows: list[dict[str, object]], path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot(summary: list[dict[str, object]], path: Path, title: str) -> Path:
    """Mean Kendall tau and Spearman per proxy (bars, best first), ± one std over seeds."""
    from matplotlib.figure import Figure  # renders with Agg, no pyplot state

    order = sorted(summary, key=lambda r: -np.nan_to_num(float(r["kendall_tau_mean"]), nan=-2))
    y = np.arange(len(order))
    fig = Figure(figsize=(7, 0.35 * len(order) + 1.4))
    ax = fig.subplots()
    for offset, metric, label in ((-0.2, "kendall_tau", "Kendall tau"), (0.2, "spearman", "Spearman")):
        ax.barh(
            y + offset, [np.nan_to_num(float(r[f"{metric}_mean"])) for r in order], height=0.4, label=label,
            xerr=[np.nan_to_num(float(r[f"{metric}_std"])) for r in order], capsize=2,
        )  # fmt: skip
    ax.set_yticks(y, [str(r["proxy"]) for r in order])
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("rank correlation with validation accuracy")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--working_directory", help="folder searched recursively for run stores")
    source.add_argument("--sample", type=bounded(int, 1), metavar="N", help="train N random architectures first (random search)")
    add("--search_space", nargs="+", default=["nb201_variable_multi_multi"],
        help="a named space, or grammar files (as for optimize.py)")
    add("--objective", default="digits", help="the training objective of the runs; the proxies use its data")
    add("--data_path", default=None, help="data folder for dataset objectives")
    add("--epochs", type=bounded(int, 1), default=None, help="--sample: training epochs (default: the protocol's)")
    add("--train_subset", type=bounded(int, 1), default=None, help="--sample: training images (default: all)")
    add("--proxies", default=",".join(PROXIES), help="comma-separated proxy names")
    add("--batch_size", type=bounded(int, 2), default=64, help="images per proxy batch")
    add("--n_seeds", type=bounded(int, 1), default=3, help="proxy seeds (initial weights and batch)")
    add("--seed", type=bounded(int, 0), default=0, help="first proxy seed, and the seed of --sample")
    add("--output", default=None,
        help="output folder (default: <working_directory>/zero_cost_rank_correlation; required with --sample)")
    add_plugin_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.sample is not None and args.output is None:
        parser.error("--sample needs --output (the sample run is stored in <output>/sample)")
    output = Path(args.output) if args.output else Path(args.working_directory) / "zero_cost_rank_correlation"
    try:
        load_plugins(args.plugin)  # a user space's topologies and primitives
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. duplicate productions of a grammar, said by load_space
            space = load_space(args.search_space[0] if len(args.search_space) == 1 else args.search_space)
        names = check_proxy_names(args.proxies)
        if not names:
            raise UsageError(f"--proxies names no proxy; known: {', '.join(PROXIES)}")
        data, _ = load_task(args.objective, args.data_path)
        if args.sample is not None:
            train_sample(args, output / "sample")
        source = output / "sample" if args.sample is not None else Path(args.working_directory)
        trees, val_error, n_runs = read_architectures(source, space, args.objective)
        if len(trees) < 3:
            raise UsageError(
                f"found {len(trees)} distinct trained architectures of {space.name} with objective "
                f"{args.objective} in {n_runs} run(s) under {source}; at least 3 are needed"
            )
        objectives = {name: ProxyObjective(name, data, batch_size=args.batch_size) for name in names}
        create_folder(output, "--output")  # before the scoring, not after it
    except HnasError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    print(f"{len(trees)} distinct architectures from {n_runs} run(s) under {source}", file=sys.stderr)
    seeds = list(range(args.seed, args.seed + args.n_seeds))
    scores, seconds = score_architectures(trees, objectives, seeds)
    records = [
        {"proxy": name, "seed": seed, **rank_correlations(scores[s, :, p], val_error),
         "failed": int(np.isnan(scores[s, :, p]).sum())}
        for p, name in enumerate(names)
        for s, seed in enumerate(seeds)
    ]  # fmt: skip
    summary = summarise(records, names, seconds, len(trees))
    print(format_table(summary))
    score_rows = [
        {"architecture": str(tree), "val_error": val_error[a], "seed": seed,
         **{name: scores[s, a, p] for p, name in enumerate(names)}}
        for s, seed in enumerate(seeds)
        for a, tree in enumerate(trees)
    ]  # fmt: skip
    paths = (
        write_csv(score_rows, output / "scores.csv"),
        write_csv(records, output / "records.csv"),
        write_csv(summary, output / "summary.csv"),
        plot(summary, output / "correlation.png", f"{space.name} on {args.objective}, {len(trees)} architectures"),
    )
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_interruptibly(PROG, main))
