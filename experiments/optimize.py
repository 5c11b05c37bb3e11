"""Run (or resume) a neural architecture search: a thin command line over ``hnas.runner.run_search``.

    python experiments/optimize.py --searcher bayesian_optimization

runs BANAT on the hierarchical NAS-Bench-201 space with the embedded offline objective. Rerunning
the same command resumes an interrupted run (Ctrl-C, a kill) or prints the summary of a finished
one; raising --max_evaluations_total continues a finished run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from hnas.errors import UsageError
from hnas.grammar.errors import GrammarError
from hnas.runner import RunConfig, RunConfigError, run_search
from hnas.runner.tensorboard import require_tensorboard, write_tensorboard
from hnas.searchers import POOL_STRATEGIES, SEARCHER_OPTIONS, SEARCHERS, SURROGATE_MODELS

DEFAULT_SEARCH_SPACE = "nb201_variable_multi_multi"
DEFAULT_MAX_EVALUATIONS = 20
"""With the embedded objective's default protocol this takes a few minutes on 2 cores."""

_BO_ONLY = list(SEARCHER_OPTIONS["bayesian_optimization"])


def _number(kind: Callable[[str], float], low: float, high: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optimize.py",
        description="Neural architecture search over a grammar-defined space (resumable).",
    )
    add = parser.add_argument
    add("--working_directory", help="run directory (default: runs/<searcher>-<space>-<objective>-seed<N>)")
    add("--data_path", help="folder with the objective's data files (not needed for embedded objectives)")
    add("--search_space", nargs="+", default=[DEFAULT_SEARCH_SPACE],
        help="a named space, or grammar files (the first holds the start symbol) and TERMINAL=file.cfg items"
        f" (default {DEFAULT_SEARCH_SPACE})")
    add("--objective", default=None,
        help="objective name (see hnas.objectives.OBJECTIVES; default: the embedded offline DEFAULT_OBJECTIVE)")
    add("--searcher", choices=SEARCHERS, default="bayesian_optimization", help="(default bayesian_optimization)")
    add("--surrogate_model", choices=SURROGATE_MODELS, default=None,
        help="BO surrogate (default gp_hierarchical)")
    add("--seed", type=_number(int, 0), default=0, help="seed of the searcher and the evaluations (default 0)")
    add("--pool_strategy", choices=POOL_STRATEGIES, default=None, help="BO acquisition pool (default evolution)")
    add("--pool_size", type=_number(int, 1), default=None, help="BO candidate pool size (default 200)")
    add("--n_init", type=_number(int, 1), default=None, help="BO random initial points (default 10)")
    add("--max_evaluations_total", type=_number(int, 1), default=DEFAULT_MAX_EVALUATIONS,
        help="evaluated (done or failed) trials of the run; raise it to continue a finished run"
        f" (default {DEFAULT_MAX_EVALUATIONS})")
    add("--log", action="store_true", help="minimise the log of the validation error")
    add("--p_self_crossover", type=_number(float, 0.0, 1.0), default=None,
        help="BO: probability that a crossover is a self-crossover (default 0.5)")
    add("--epochs", type=_number(int, 1), default=None, help="training epochs (default: the objective's)")
    add("--batch_size", type=_number(int, 1), default=None, help="training batch size (default: the objective's)")
    add("--train_subset", type=_number(int, 1), default=None,
        help="train on a fixed random subset of this many images (default: all)")
    add("--n_workers", type=_number(int, 1), default=1, help="local worker processes evaluating in parallel (default 1: in this process)")
    add("--torch_threads", type=_number(int, 1), default=None,
        help="torch threads per evaluation (default: 1 in workers, unchanged in the driver)")
    add("--dask_scheduler", default=None, help="evaluate on a dask.distributed cluster at tcp://HOST:PORT")
    add("--no_progress", action="store_true", help="no progress bar")
    add("--tensorboard", action="store_true",
        help="write TensorBoard logs of the run to <working_directory>/tensorboard when it stops (needs tensorboard)")
    return parser


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RunConfig:
    """The run configuration of parsed flags; a bad combination is an argparse error naming the flag."""
    bo_values = {key: getattr(args, key) for key in _BO_ONLY}
    if args.searcher != "bayesian_optimization":
        given = [f"--{key}" for key, value in bo_values.items() if value is not None]
        if given:
            print(f"optimize.py: note: {', '.join(given)} only affect bayesian_optimization, "
                  f"not {args.searcher}", file=sys.stderr)  # fmt: skip
    defaults = {key: value for key, value in vars(RunConfig()).items() if key in bo_values}
    search_space = args.search_space[0] if len(args.search_space) == 1 else args.search_space
    try:
        return RunConfig(
            search_space=search_space,
            objective=args.objective,
            searcher=args.searcher,
            seed=args.seed,
            max_evaluations_total=args.max_evaluations_total,
            log=args.log,
            data_path=args.data_path,
            epochs=args.epochs,
            batch_size=args.batch_size,
            train_subset=args.train_subset,
            n_workers=args.n_workers,
            dask_scheduler=args.dask_scheduler,
            torch_threads=args.torch_threads,
            **{key: defaults[key] if value is None else value for key, value in bo_values.items()},
        )
    except RunConfigError as error:
        parser.error(f"argument --{error.field}: {error}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(args, parser)
    try:
        if args.tensorboard:
            require_tensorboard()  # before the search, not after hours of it
        summary = run_search(config, args.working_directory, progress=not args.no_progress)
        if args.tensorboard:
            print(f"TensorBoard logs: {write_tensorboard(summary.working_directory)}")
    except (UsageError, GrammarError) as error:
        print(f"optimize.py: error: {error}", file=sys.stderr)
        return getattr(error, "code", 1)
    print(summary)
    return 130 if summary.interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
