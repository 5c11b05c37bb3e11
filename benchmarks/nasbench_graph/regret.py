"""Regret vs evaluations of ask/tell searchers over a table (no training: fast), paired over seeds.

    PYTHONPATH=. .venv/bin/python benchmarks/nasbench_graph/regret.py [--objective nbg:cora]
        [--searchers RS RE BO-gp BO-hier] [--seeds 20] [--budget 100] [--output results/regret.jsonl]
    PYTHONPATH=. .venv/bin/python benchmarks/nasbench_graph/regret.py --report results/regret.jsonl

``--objective``: ``nbg:DATASET`` (NAS-Bench-Graph, loss = 1 - valid_perf, regret = loss - the
table's best) or ``synthetic:OBJECTIVE:SPACE`` (regret = loss - ``--optimum``, default 0).
A searcher is a label from :data:`SEARCHERS` or ``LABEL=bayesian_optimization:key=value,...``
(BO options, e.g. ``BOi=bayesian_optimization:surrogate_model=gp,random_interleave_prob=0.1``).
Each run appends one JSON line (label, seed, incumbent regret after each evaluation), so a long
experiment can be read while it runs; ``--report`` prints markdown tables: mean regret at the
checkpoints, the paired difference to RE (mean ± standard error over seeds, wins/ties/losses), how
many runs plateaued (no improvement in their last ``--stall`` evaluations while regret > 0) and how
many of those stalled on one architecture (:func:`stalled`; needs the recorded trees).
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hnas.grammar import load_space
from hnas.searchers import make_searcher
from hnas.searchers.synthetic import SYNTHETIC_OBJECTIVES

SEARCHERS: dict[str, tuple[str, dict[str, Any]]] = {
    "RS": ("random_search", {}),
    "RE": ("regularized_evolution", {}),
    "BO-gp": ("bayesian_optimization", {"surrogate_model": "gp"}),
    "BO-hier": ("bayesian_optimization", {"surrogate_model": "gp_hierarchical"}),
    # the paper's BO: its fit, raw targets, no random interleaving, the SPEC's acquisition optimiser
    **{
        label: ("bayesian_optimization", {"surrogate_model": model, "target_transform": "none",
                                          "random_interleave_prob": 0.0, "pool_strategy": "evolution"})  # fmt: skip
        for label, model in (("BO-gp-paper", "gp_paper"), ("BO-hier-paper", "gp_hierarchical_paper"))
    },
}
CHECKPOINTS = (25, 50, 75, 100, 150, 200)
AT_OPTIMUM = 1e-9
"""Regret below this counts as 0: the table's best error minus itself can come out as 1.1e-16 (the
first report counted runs that had found the optimum as plateaued: 8 and 12 of 20 instead of 6, 7)."""


def parse_searcher(spec: str) -> tuple[str, str, dict[str, Any]]:
    if spec in SEARCHERS:
        return (spec, *SEARCHERS[spec])
    label, _, rest = spec.partition("=")
    name, _, opts = rest.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, opts.split(",")):
        key, _, value = item.partition("=")
        options[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
    return label, name, options


def load_objective(spec: str):
    kind, _, rest = spec.partition(":")
    if kind == "nbg":
        from benchmarks.nasbench_graph.plugin import TableObjective, nbg_space

        objective = TableObjective(rest or "cora")
        objective.keep_alive()
        return nbg_space(), objective, objective.best
    objective_name, space_name = rest.split(":")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        space = load_space(space_name)
    return space, SYNTHETIC_OBJECTIVES[objective_name], None


_ALIVE: list = []


def keep_alive(space, n: int) -> None:
    """Hold the distinct trees among ``n`` random samples of ``space`` for the whole process: graphs
    and WL features are cached per live tree, so candidates equal to one of them (most, in a small
    space such as NAS-Bench-201's 15,284 cells) are featurised once for every run. Speed only."""
    rng = np.random.default_rng(2**31 - 1)
    _ALIVE.extend(dict.fromkeys(space.sample(rng) for _ in range(n)))


def run(args: argparse.Namespace) -> None:
    space, objective, best = load_objective(args.objective)
    keep_alive(space, args.keep_alive)
    optimum = args.optimum if best is None else best
    for spec in args.searchers:
        label, name, options = parse_searcher(spec)
        for seed in args.seed_list or range(args.first_seed, args.first_seed + args.seeds):
            searcher = make_searcher(name, space, seed=seed, **options)
            start, incumbent, curve, losses, trees, sources = time.perf_counter(), np.inf, [], [], [], []
            for _ in range(args.budget):
                tree = searcher.ask()
                loss = objective(tree)
                searcher.tell(tree, loss)
                incumbent = min(incumbent, loss)
                curve.append(incumbent - optimum)
                losses.append(loss)
                trees.append(str(tree))
                sources.append(getattr(searcher, "last_source", ""))
            record = {"objective": args.objective, "label": label, "searcher": name, "options": options,
                      "seed": seed, "optimum": optimum, "seconds": time.perf_counter() - start, "regret": curve,
                      "losses": losses, "trees": trees, "sources": sources}  # fmt: skip
            with args.output.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(f"{label} seed {seed}: final regret {curve[-1]:.4f} ({record['seconds']:.0f} s)", flush=True)


def plateaued(curve: np.ndarray, window: int) -> bool:
    """No improvement in the last ``window`` evaluations while short of the optimum."""
    return len(curve) > window and curve[-1] > AT_OPTIMUM and curve[-1] == curve[-1 - window]


def token_distance(a: str, b: str) -> int | None:
    """Positions at which two bracket strings' tokens differ (``None`` if their lengths differ):
    1 = one operation or one topology changed (NAS-Bench-Graph: the 40 one-step neighbours)."""
    ta, tb = re.findall(r"[^\s()]+", a), re.findall(r"[^\s()]+", b)
    return sum(x != y for x, y in zip(ta, tb)) if len(ta) == len(tb) else None


def stalled(record: dict[str, Any], window: int, share: float = 0.5) -> bool:
    """Stalled on one architecture: the incumbent stays one non-optimal architecture from some
    evaluation k to the end, at least ``window`` evaluations, while at least ``share`` of the
    proposals after k are within one step (:func:`token_distance` <= 1) of it."""
    curve = np.asarray(record["regret"])
    if not plateaued(curve, window) or "trees" not in record:
        return False
    k = int(np.argmax(curve == curve[-1]))
    trees = record["trees"]
    near = [(d := token_distance(t, trees[k])) is not None and d <= 1 for t in trees[k + 1 :]]
    return float(np.mean(near)) >= share


def report(paths: list[Path], reference: str, window: int) -> str:
    runs: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    records: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            r = json.loads(line)
            runs.setdefault((r["objective"], r["label"]), {})[r["seed"]] = np.array(r["regret"])
            records.setdefault((r["objective"], r["label"]), {})[r["seed"]] = r
    out = []
    for objective in dict.fromkeys(o for o, _ in runs):
        labels = [lab for o, lab in runs if o == objective]
        budget = min(len(c) for lab in labels for c in runs[objective, lab].values())
        points = [c for c in CHECKPOINTS if c <= budget]
        out += [f"#### {objective}: mean regret (x100) at n evaluations; plateau = no improvement in the "
                f"last {window} with regret > 0; stalled = a plateau with half the proposals after the "
                f"incumbent within one step of it (- : a plateau's trees not recorded)", "",
                "| searcher | seeds | " + " | ".join(f"n={c}" for c in points) + " | plateau | stalled |",
                "|---|---|" + "---|" * (len(points) + 2)]  # fmt: skip
        for lab in labels:
            curves = np.stack([c[:budget] for c in runs[objective, lab].values()])
            cells = [f"{100 * curves[:, c - 1].mean():.2f}" for c in points]
            n_plateau = sum(plateaued(c, window) for c in curves)
            recorded = all("trees" in r or not plateaued(np.asarray(r["regret"][:budget]), window)
                           for r in records[objective, lab].values())  # fmt: skip
            n_stalled = sum(stalled(r, window) for r in records[objective, lab].values()) if recorded else "-"
            out.append(f"| {lab} | {len(curves)} | " + " | ".join(cells) + f" | {n_plateau} | {n_stalled} |")
        ref = runs.get((objective, reference))
        if ref:
            out += ["", f"Paired difference to {reference} (x100, mean ± s.e.; negative = better than "
                    f"{reference}; wins/ties/losses over common seeds):", "",
                    "| searcher | " + " | ".join(f"n={c}" for c in points) + " |",
                    "|---|" + "---|" * len(points)]  # fmt: skip
            for lab in labels:
                if lab == reference:
                    continue
                seeds = sorted(set(runs[objective, lab]) & set(ref))
                if len(seeds) < 2:
                    continue
                cells = []
                for c in points:
                    d = np.array([runs[objective, lab][s][c - 1] - ref[s][c - 1] for s in seeds])
                    cells.append(f"{100 * d.mean():+.2f} ± {100 * d.std(ddof=1) / np.sqrt(len(d)):.2f} "
                                 f"({(d < 0).sum()}/{(d == 0).sum()}/{(d > 0).sum()})")  # fmt: skip
                out.append(f"| {lab} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objective", default="nbg:cora")
    parser.add_argument("--searchers", nargs="+", default=["RS", "RE", "BO-gp", "BO-hier"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first_seed", type=int, default=0)
    parser.add_argument("--seed_list", type=int, nargs="+", help="these seeds instead of --first_seed/--seeds")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--optimum", type=float, default=0.0)
    parser.add_argument("--keep_alive", type=int, default=0, help="hold the trees of this many random samples (speed)")
    parser.add_argument("--output", type=Path, default=Path("results/regret.jsonl"))
    parser.add_argument("--report", type=Path, nargs="+")
    parser.add_argument("--reference", default="RE")
    parser.add_argument("--stall", type=int, default=50)
    args = parser.parse_args()
    if args.report:
        print(report(args.report, args.reference, args.stall))
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    run(args)


if __name__ == "__main__":
    main()
