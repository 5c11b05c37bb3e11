"""Surrogate regression (SPEC section 7): how well GP surrogates predict held-out architectures.

Fits each model on n_train evaluated architectures and scores it on held-out ones (Pearson,
Spearman, Kendall tau, NLL) over many seeds:

    python experiments/surrogate_regression.py --working_directory runs --search_space nb201_variable_multi_multi \
        --surrogate_model gp gp_hierarchical --n_train 10 25 50 100 --n_seeds 20 --log

Without --n_train it uses the paper's training-set sizes that the data allows, so the folder of one
default search (20 trials) works as it is.

Trials are read from the run stores of search runs under --working_directory (the done trials of
runs of the same search space; a store without a configuration, from a run killed as it started,
is skipped with a warning), and from CSV or JSON files of (architecture, value) rows such as
experiments/generate_surrogate_data.py writes.
Writes records.csv (one row per fit), summary.csv and metrics.png into --output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hnas.cli import add_plugin_argument, bounded, run_interruptibly
from hnas.errors import HnasError, UsageError
from hnas.grammar import load_space
from hnas.plugins import load_plugins
from hnas.grammar.space import SearchSpace
from hnas.runner import RunError
from hnas.runner.folders import create_folder
from hnas.runner.store import done_rows, find_runs
from hnas.surrogates import SURROGATE_NAMES
from hnas.surrogates.regression import (
    N_TRAIN_CHOICES,
    format_table,
    plot_metrics,
    run_regression,
    summarise,
    write_records,
    write_summary,
)
from hnas.surrogates.trials import EvaluatedArchitectures, load_evaluations

PROG = "surrogate_regression.py"
MIN_N_TRAIN = 2
MIN_HELD_OUT = 10
"""Without --n_train and --n_test, the paper's sizes are used that leave at least this many
architectures to score the fits on."""


def read_evaluations(directory: str | Path, space: SearchSpace, objective: str | None) -> EvaluatedArchitectures:
    """The evaluated architectures of ``space`` in the run stores and the CSV/JSON files under
    ``directory``; a run store that cannot be read is skipped with a warning."""
    runs = find_runs(directory)
    rows: list[tuple[str, float, str]] = []
    for run_dir in runs:
        try:
            rows.extend((a, v, str(run_dir)) for a, v in done_rows(run_dir, space_name=space.spec, objective=objective))
        except RunError as error:
            print(f"{PROG}: warning: skipping {run_dir}: {error}", file=sys.stderr)
    return load_evaluations(directory, space, objective=objective, rows=rows, skip=runs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--working_directory", required=True,
        help="folder searched recursively for run stores (e.g. a run of optimize.py) and CSV/JSON trials")
    add("--search_space", nargs="+", default=["nb201_variable_multi_multi"],
        help="a named space, or grammar files (as for optimize.py); only its trials are read"
        " (default nb201_variable_multi_multi)")
    add("--objective", default=None,
        help="only trials of this objective (a run's configuration, a CSV's objective_name; default: all)")
    add("--surrogate_model", nargs="+", choices=SURROGATE_NAMES, default=["gp", "gp_hierarchical"],
        metavar="MODEL", help=f"the surrogates to compare: {', '.join(SURROGATE_NAMES)}; gp is a GP with a WL kernel "
        "on the flattened graph, gp_hierarchical the hierarchical WL kernel; gpwl and gpwl_hierarchical are"
        " their aliases (default: gp gp_hierarchical)")
    add("--n_train", nargs="+", type=bounded(int, MIN_N_TRAIN), default=None, metavar="N",
        help=f"training-set sizes, each >= {MIN_N_TRAIN} (the paper: {' '.join(map(str, N_TRAIN_CHOICES))}); default:"
        f" those of the paper's sizes that leave at least {MIN_HELD_OUT} architectures held out, or half of the"
        " architectures when none does")
    add("--n_seeds", type=bounded(int, 1), default=20,
        help="random train/test splits; metrics are mean and std over them (default %(default)s)")
    add("--n_test", type=bounded(int, 2), default=None,
        help="architectures held out per seed to score the fits on (one held-out set per seed, shared by every"
        " model and n_train); default: all architectures not in the largest training set")
    add("--log", action="store_true", help="model the natural log of the objective values (they must be > 0)")
    add("--seed", type=bounded(int, 0), default=0, help="seed of the splits (default %(default)s)")
    add("--output", default=None, help="output folder (default: <working_directory>/surrogate_regression)")
    add_plugin_argument(parser)
    return parser


def training_sizes(total: int, n_train: Sequence[int] | None, n_test: int | None) -> list[int]:
    """The training-set sizes to fit: ``n_train``, or the default for ``total`` architectures; a
    :class:`UsageError` naming the flag to change when the data are too few."""
    held_out = 2 if n_test is None else n_test
    if n_train is None:
        sizes = [n for n in N_TRAIN_CHOICES if n + (MIN_HELD_OUT if n_test is None else n_test) <= total]
        if sizes:
            return sizes
        sizes = [total // 2 if n_test is None else total - n_test]
        if sizes[0] >= MIN_N_TRAIN and sizes[0] + held_out <= total:
            return sizes
        raise UsageError(
            f"too few trials: {total} distinct evaluated architectures, the experiment needs at least "
            f"{MIN_N_TRAIN + held_out}; evaluate more (a longer search, or generate_surrogate_data.py --n)"
            + ("" if n_test is None else " or lower --n_test")
        )
    largest = max(n_train)
    if largest + held_out > total:
        fix = f"pass --n_train at most {total - held_out}"
        if n_test is not None:
            fix += " or lower --n_test"
        raise UsageError(
            f"too few trials: n_train={largest} with n_test={held_out} held out needs {largest + held_out} "
            f"distinct evaluated architectures, found {total}; {fix} (or leave --n_train out to choose from the data)"
        )
    return sorted(set(n_train))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        load_plugins(args.plugin)  # a user space's topologies and primitives
        space = load_space(args.search_space[0] if len(args.search_space) == 1 else args.search_space)
        data = read_evaluations(args.working_directory, space, args.objective)
        print(
            f"{len(data.trees)} distinct architectures ({data.n_rows} rows) from {len(data.sources)} source(s)",
            file=sys.stderr,
        )
        sizes = training_sizes(len(data.trees), args.n_train, args.n_test)
        n_test = len(data.trees) - max(sizes) if args.n_test is None else args.n_test
        print(f"n_train {' '.join(map(str, sizes))}, n_test {n_test} (held out per seed)", file=sys.stderr)
        output = Path(args.output) if args.output else Path(args.working_directory) / "surrogate_regression"
        create_folder(output, "--output")  # before the fits, not after them
        records = run_regression(
            data.trees,
            data.values,
            space,
            models=args.surrogate_model,
            n_train=sizes,
            n_seeds=args.n_seeds,
            n_test=args.n_test,
            seed=args.seed,
            log=args.log,
            progress=lambda message: print(message, file=sys.stderr),
        )
    except HnasError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    summary = summarise(records)
    print(format_table(summary))
    paths = (
        write_records(records, output / "records.csv"),
        write_summary(summary, output / "summary.csv"),
        plot_metrics(summary, output / "metrics.png"),
    )
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_interruptibly(PROG, main))
