"""Rank quality of surrogates on real tabular data (NAS-Bench-Graph) and on the synthetic objectives.

    PYTHONPATH=. .venv/bin/python benchmarks/nasbench_graph/surrogate_quality.py \
        [--data nbg:cora] [--models gp gp_hierarchical gp_paper gp_hierarchical_paper] \
        [--n_train 25 50 100 200] [--n_seeds 20] [--n_test 2000] [--output results/sq.md]
        [--records results/sq.csv]

``--models``: surrogate names, ``NAME+TRANSFORM`` to fit on transformed training targets (as a BO
loop with ``target_transform`` does). ``--data``: ``nbg:DATASET`` (every NAS-Bench-Graph cell of that dataset, error = 1 - valid_perf),
or ``synthetic:OBJECTIVE:SPACE:N`` (N distinct random trees of SPACE scored by a
:mod:`hnas.searchers.synthetic` objective). Protocol: :func:`hnas.surrogates.regression.run_regression`
(per seed a held-out test set of ``--n_test`` and nested training sets). Prints, and appends to
``--output``, a markdown table of Kendall tau and Spearman (mean ± std over seeds); ``--records``
writes one CSV row per fit (model, n_train, seed, metrics), from which the table can be regenerated.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np

from hnas.grammar import load_space
from hnas.searchers.synthetic import SYNTHETIC_OBJECTIVES
from hnas.surrogates.regression import run_regression, summarise


def load_data(spec: str):
    """``(trees, values, space)`` for a ``--data`` spec."""
    kind, _, rest = spec.partition(":")
    if kind == "nbg":
        from benchmarks.nasbench_graph.plugin import TableObjective, nbg_space

        trees, values = TableObjective(rest or "cora").all_trees()
        return trees, values, nbg_space()
    if kind == "synthetic":
        objective, space_name, n = rest.split(":")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            space = load_space(space_name)
        rng, trees = np.random.default_rng(12345), {}
        while len(trees) < int(n):
            trees.setdefault(space.sample(rng), None)
        trees = list(trees)
        return trees, np.array([SYNTHETIC_OBJECTIVES[objective](t) for t in trees]), space
    raise SystemExit(f"--data: unknown kind {kind!r} (nbg:DATASET or synthetic:OBJECTIVE:SPACE:N)")


def write_records(path: Path, records: list) -> None:
    """All fits so far as CSV (rewritten after each fit, so a long run can be read as it goes)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [f.name for f in fields(records[0])])
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)


def markdown(summary: list[dict], title: str) -> str:
    lines = [f"#### {title}", "", "| model | n_train | Kendall tau | Spearman |", "|---|---|---|---|"]
    for row in summary:
        lines.append(
            f"| {row['model']} | {row['n_train']} | {row['kendall_tau_mean']:.3f} ± {row['kendall_tau_std']:.3f} "
            f"| {row['spearman_mean']:.3f} ± {row['spearman_std']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="nbg:cora")
    parser.add_argument(
        "--models", nargs="+", default=["gp_paper", "gp_hierarchical_paper", "gp+rank", "gp_hierarchical+rank"],
        help="surrogate names; NAME+TRANSFORM fits on transformed training targets (e.g. gp+rank)",
    )
    parser.add_argument("--n_train", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--n_seeds", type=int, default=20)
    parser.add_argument("--n_test", type=int, default=2000)
    parser.add_argument("--log", action="store_true", help="model log(value)")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--records", type=Path, help="CSV, one row per fit")
    args = parser.parse_args()
    trees, values, space = load_data(args.data)
    start = time.perf_counter()
    records = []
    for spec in args.models:
        model, _, transform = spec.partition("+")
        for r in run_regression(
            trees, values, space, models=[model], n_train=args.n_train, n_seeds=args.n_seeds,
            n_test=args.n_test, log=args.log, target_transform=transform or "none",
            progress=lambda m: print(spec, m, file=sys.stderr, flush=True),
        ):  # fmt: skip
            records.append(replace(r, model=spec))
            if args.records:
                write_records(args.records, records)
    title = f"{args.data}{' (log)' if args.log else ''}: {args.n_seeds} seeds, {args.n_test} held out"
    table = markdown(summarise(records), title)
    print(table)
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    if args.output:
        with args.output.open("a") as handle:
            handle.write(table + "\n")


if __name__ == "__main__":
    main()
