"""Surrogate regression (SPEC section 7): how well GP surrogates predict held-out architectures.

Fits each model on n_train evaluated architectures and scores it on held-out ones (Pearson,
Spearman, Kendall tau, NLL) over many seeds:

    python experiments/surrogate_regression.py --working_directory runs --search_space nb201_variable_multi_multi \
        --surrogate_model gp gp_hierarchical --n_train 10 25 50 100 --n_seeds 20 --log

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

from hnas.cli import add_plugin_argument
from hnas.errors import HnasError
from hnas.grammar import load_space
from hnas.plugins import load_plugins
from hnas.grammar.space import SearchSpace
from hnas.runner import RunError
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
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    add("--working_directory", required=True, help="folder searched recursively for run stores and CSV/JSON trials")
    add("--search_space", nargs="+", default=["nb201_variable_multi_multi"],
        help="a named space, or grammar files (as for optimize.py)")
    add("--objective", default=None, help="only trials of this objective (runs' configuration, CSV objective_name)")
    add("--surrogate_model", nargs="+", choices=SURROGATE_NAMES, default=["gp", "gp_hierarchical"])
    add("--n_train", nargs="+", type=int, choices=N_TRAIN_CHOICES, default=[100], metavar="N",
        help=f"training-set sizes, from {', '.join(map(str, N_TRAIN_CHOICES))}")
    add("--n_seeds", type=int, default=20, help="random train/test splits")
    add("--n_test", type=int, default=None,
        help="held-out architectures per seed; unset: all not needed for the largest n_train")
    add("--log", action="store_true", help="model the natural log of the objective values")
    add("--seed", type=int, default=0, help="seed of the splits")
    add("--output", default=None, help="output folder (default: <working_directory>/surrogate_regression)")
    add_plugin_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_seeds is not None and args.n_seeds < 1:
        parser.error(f"argument --n_seeds: must be >= 1, got {args.n_seeds}")
    if args.n_test is not None and args.n_test < 1:
        parser.error(f"argument --n_test: must be >= 1, got {args.n_test}")
    try:
        load_plugins(args.plugin)  # a user space's topologies and primitives
        space = load_space(args.search_space[0] if len(args.search_space) == 1 else args.search_space)
        data = read_evaluations(args.working_directory, space, args.objective)
        print(
            f"{len(data.trees)} distinct architectures ({data.n_rows} rows) from {len(data.sources)} source(s)",
            file=sys.stderr,
        )
        records = run_regression(
            data.trees,
            data.values,
            space,
            models=args.surrogate_model,
            n_train=args.n_train,
            n_seeds=args.n_seeds,
            n_test=args.n_test,
            seed=args.seed,
            log=args.log,
            progress=lambda message: print(message, file=sys.stderr),
        )
    except HnasError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    output = Path(args.output) if args.output else Path(args.working_directory) / "surrogate_regression"
    output.mkdir(parents=True, exist_ok=True)
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
    sys.exit(main())
