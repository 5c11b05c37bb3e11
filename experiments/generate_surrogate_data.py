"""Offline data for the surrogate regression: N random architectures evaluated on an objective.

Evaluates N distinct random architectures of a space on an objective (a random-search run, so it
resumes where it stopped, a failing or crashing architecture is a failed row, and Ctrl-C keeps
every finished evaluation) and writes them as CSV rows that experiments/surrogate_regression.py
reads:

    python experiments/generate_surrogate_data.py --search_space nb201_variable_multi_multi \
        --objective params --n 500 --output runs/surrogate/hier_params.csv

Any objective of hnas.objectives works: the zero-cost proxies (params, naswot, synflow, grad_norm,
jacov; seconds per architecture on a CPU, on the embedded digits data), the embedded training
objectives (digits, addnist_mini; minutes) or a dataset objective with --data_path. Columns:
architecture, value (the objective's val_error, lower is better), status (done / failed),
objective_name, search_space (a space name, or its grammar files' absolute paths), seed (of the
evaluation), params. The run store lives in
--working_directory (default: the output's name with .run for .csv); rerunning the same command
continues it (a larger --n adds architectures) and rewrites the CSV from it.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from hnas.cli import add_plugin_argument, bounded, run_interruptibly
from hnas.errors import EXIT_INTERRUPTED, HnasError
from hnas.grammar import load_space
from hnas.objectives import OBJECTIVES
from hnas.runner import RunConfig, load_trials, run_search
from hnas.runner.errors import RunConfigError
from hnas.runner.folders import writable_file
from hnas.runner.store import Trial, TrialStatus

PROG = "generate_surrogate_data.py"
COLUMNS = ("architecture", "value", "status", "objective_name", "search_space", "seed", "params")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--search_space", nargs="+", default=["nb201_variable_multi_multi"],
        help="a named space, or grammar files (as for optimize.py) (default nb201_variable_multi_multi)")
    add("--objective", default="params",
        help=f"what to evaluate: {', '.join(OBJECTIVES)}, a registered name or module:function / file.py:function"
        " (default %(default)s: seconds per architecture)")
    add("--data_path", default=None, help="data folder for dataset objectives (not needed for the others)")
    add("--n", type=bounded(int, 1), default=500, help="distinct architectures to evaluate (default %(default)s)")
    add("--seed", type=bounded(int, 0), default=0, help="seed of the sampling and of the evaluations (default %(default)s)")
    add("--output", required=True,
        help="CSV file to write, its folder created (e.g. runs/surrogate/hier.csv: runs/ is git-ignored)")
    add("--working_directory", default=None,
        help="the resumable run store (default: --output with .run instead of .csv)")
    add("--n_workers", type=bounded(int, 1), default=1, help="worker processes evaluating in parallel (default %(default)s)")
    add("--no_progress", action="store_true", help="no progress bar (e.g. for log files)")
    add_plugin_argument(parser)
    return parser


def write_rows(output: Path, trials: Sequence[Trial], objective_name: str, space: str) -> tuple[int, int]:
    """Write the finished trials as CSV rows (whole, through a temporary file; ``space``: the
    search_space column); (done, failed)."""
    finished = [t for t in trials if t.status in TrialStatus.FINISHED]
    partial = output.with_name(output.name + ".partial")
    with open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for trial in finished:
            done = trial.status == TrialStatus.DONE
            writer.writerow([trial.architecture, trial.val_error if done else "", trial.status, objective_name,
                             space, trial.seed, "" if trial.params is None else trial.params])
    os.replace(partial, output)
    n_done = sum(t.status == TrialStatus.DONE for t in finished)
    return n_done, len(finished) - n_done


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    output = Path(args.output)
    directory = Path(args.working_directory) if args.working_directory else output.with_suffix(".run")
    if directory.resolve() == output.resolve():
        parser.error(f"argument --output: {output} would be the run store's folder; name a .csv file")
    try:
        config = RunConfig(
            search_space=args.search_space[0] if len(args.search_space) == 1 else args.search_space,
            objective=args.objective, searcher="random_search", seed=args.seed, max_evaluations_total=args.n,
            data_path=args.data_path, n_workers=args.n_workers, plugins=tuple(args.plugin),
        )  # fmt: skip
        writable_file(output, "--output")
        summary = run_search(config, directory, progress=not args.no_progress)
        trials = load_trials(directory)
        done, failed = write_rows(output, trials, config.objective_name, " ".join(load_space(config.search_space).spec))
    except RunConfigError as error:
        parser.error(f"argument --{error.field}: {error}")
    except HnasError as error:  # a plugin that does not load, a bad output path, the run's own errors
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return getattr(error, "code", 1)
    print(f"wrote {output} ({done} done, {failed} failed; run store {directory})", file=sys.stderr)
    if summary.exhausted is not None:
        print(f"{PROG}: note: fewer than --n {args.n} architectures: {summary.exhausted}", file=sys.stderr)
    if summary.interrupted:
        print(f"{PROG}: interrupted; rerun the same command to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(run_interruptibly(PROG, main))
