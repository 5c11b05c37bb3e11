"""The EvoNAS preset: training-free NSGA-II over the NAS-Bench-201 cell space with the NTK
condition number, the linear-region count and the Jacobian covariance as objectives, then the
Pareto front trained on the task (offline by default: the embedded digits task).

    python experiments/evonas.py --working_directory runs/evonas --max_evaluations_total 100

A thin command line over :func:`hnas.runner.evonas.run_evonas`; see docs/evonas.md.
"""

from __future__ import annotations

import os
import sys

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from hnas.cli import add_plugin_argument, bounded  # noqa: E402
from hnas.errors import EXIT_INTERRUPTED, HnasError  # noqa: E402
from hnas.runner.evonas import EVONAS_SPACE, run_evonas  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evonas.py", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--working_directory", default="runs/evonas", help="run directory (default runs/evonas)")
    add("--task", default="digits", help="the training task scored and trained on (default digits: embedded, offline)")
    add("--data_path", default=None, help="folder with the task's data (tasks that are not embedded)")
    add("--search_space", default=EVONAS_SPACE, help=f"a cell space (default {EVONAS_SPACE})")
    add("--seed", type=bounded(int, 0), default=0, help="seed of the search and the training (default 0)")
    add("--max_evaluations_total", type=bounded(int, 1), default=100, help="zero-cost evaluations of the search (default 100)")
    add("--population_size", type=bounded(int, 1), default=20, help="NSGA-II population (default 20)")
    add("--proxy_batch_size", type=bounded(int, 1), default=32, help="images the proxies are scored on (default 32)")
    add("--max_trained", type=bounded(int, 0), default=None, help="train at most this many front members (default all)")
    add("--epochs", type=bounded(int, 1), default=None, help="training epochs of the front members (default: the task's)")
    add("--train_subset", type=bounded(int, 1), default=None, help="train the front members on this many images (default all)")
    add("--no_progress", action="store_true", help="no progress bar")
    add_plugin_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    training = {k: v for k, v in (("epochs", args.epochs), ("train_subset", args.train_subset)) if v is not None}
    try:
        result = run_evonas(
            args.working_directory, task=args.task, data_path=args.data_path, search_space=args.search_space, seed=args.seed,
            max_evaluations_total=args.max_evaluations_total, population_size=args.population_size,
            proxy_batch_size=args.proxy_batch_size, max_trained=args.max_trained, training_options=training,
            progress=not args.no_progress, plugins=args.plugin,
        )  # fmt: skip
    except HnasError as error:
        print(f"evonas.py: error: {error}", file=sys.stderr)
        return getattr(error, "code", 1)
    except KeyboardInterrupt:
        print("evonas.py: interrupted; rerun the same command to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
