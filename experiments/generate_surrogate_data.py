"""Offline data for the surrogate regression: N random architectures evaluated on an objective.

Evaluates N distinct random architectures of a space on an objective and writes them as CSV rows
that experiments/surrogate_regression.py reads:

    python experiments/generate_surrogate_data.py --search_space nb201_variable_multi_multi \
        --objective params --n 500 --output runs/surrogate/hier_params.csv

Any objective of hnas.objectives works: the zero-cost proxies (params, naswot, synflow, grad_norm,
jacov; seconds per architecture on a CPU, on the embedded digits data), the embedded training
objectives (digits, addnist_mini; minutes) or a dataset objective with --data_path. Columns:
architecture, value (the objective's val_error, lower is better), status (done / failed),
objective_name, search_space, seed, params. Rows are written as they finish.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hnas.cli import add_plugin_argument
from hnas.errors import HnasError
from hnas.grammar import SearchSpace, Tree, load_space
from hnas.objectives import OBJECTIVES, get_objective
from hnas.plugins import load_plugins

PROG = "generate_surrogate_data.py"
COLUMNS = ("architecture", "value", "status", "objective_name", "search_space", "seed", "params")
MAX_DRAWS_PER_ARCHITECTURE = 100
"""Samples drawn per wanted architecture before giving up on finding N distinct ones."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--search_space", nargs="+", default=["nb201_variable_multi_multi"],
        help="a named space, or grammar files (as for optimize.py) (default nb201_variable_multi_multi)")
    add("--objective", default="params",
        help=f"what to evaluate: {', '.join(OBJECTIVES)}, a registered name or module:function / file.py:function"
        " (default %(default)s: seconds per architecture)")
    add("--data_path", default=None, help="data folder for dataset objectives (not needed for the others)")
    add("--n", type=int, default=500, help="distinct architectures to evaluate (default %(default)s)")
    add("--seed", type=int, default=0, help="seed of the sampling and of every evaluation (default %(default)s)")
    add("--output", required=True,
        help="CSV file to write, its folder created (e.g. runs/surrogate/hier.csv: runs/ is git-ignored)")
    add_plugin_argument(parser)
    return parser


def sample_distinct(space: SearchSpace, n: int, rng: np.random.Generator) -> list[Tree]:
    """``n`` distinct uniform samples; a clear error if the space seems to have fewer."""
    trees: dict[Tree, None] = {}
    for _ in range(n * MAX_DRAWS_PER_ARCHITECTURE):
        trees.setdefault(space.sample(rng), None)
        if len(trees) == n:
            return list(trees)
    raise ValueError(f"found only {len(trees)} distinct architectures in {n * MAX_DRAWS_PER_ARCHITECTURE} samples, {n} asked")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n is not None and args.n < 1:
        parser.error(f"argument --n: must be >= 1, got {args.n}")
    try:
        load_plugins(args.plugin)
        space = load_space(args.search_space[0] if len(args.search_space) == 1 else args.search_space)
        objective = get_objective(args.objective, args.data_path)
        trees = sample_distinct(space, args.n, np.random.default_rng(args.seed))
    except (HnasError, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    start, failed = time.perf_counter(), 0
    with open(output, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i, tree in enumerate(trees, start=1):
            try:
                result = objective.evaluate(tree, args.seed)
                value, status, params = result.val_error, "done", result.params
            except Exception as error:  # a failing architecture is a failed row, as in a search run
                value, status, params, failed = "", "failed", "", failed + 1
                print(f"architecture {i} failed: {error}", file=sys.stderr)
            writer.writerow([space.to_string(tree), value, status, objective.name, space.name, args.seed, params])
            handle.flush()
            if i % 50 == 0 or i == len(trees):
                print(f"{i}/{len(trees)} evaluated ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    print(f"wrote {output} ({len(trees) - failed} done, {failed} failed)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
