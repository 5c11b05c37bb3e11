"""The surrogate regression experiment (SPEC section 7): how well a surrogate ranks and predicts
held-out architectures after fitting on ``n_train`` evaluated ones.

For each seed, the evaluated architectures are shuffled by ``numpy.random.default_rng([seed, s])``:
the first ``n_test`` are held out, and every model is fitted on the first ``n_train`` of the rest
for each ``n_train`` (nested training sets, one test set per seed, so models and training sizes
are compared on the same points). Metrics on the held-out points: Pearson, Spearman and Kendall
correlation of the predictive mean with the truth, and the mean Gaussian negative log predictive
density (noise included).
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from hnas.grammar.tree import Tree
from hnas.surrogates import canonical_name, get_surrogate
from hnas.surrogates.transforms import transform_targets
from hnas.surrogates.trials import TrialsError

if TYPE_CHECKING:
    from hnas.grammar.space import SearchSpace

__all__ = [
    "METRICS",
    "N_TRAIN_CHOICES",
    "RegressionRecord",
    "regression_metrics",
    "run_regression",
    "summarise",
    "format_table",
    "write_records",
    "write_summary",
    "plot_metrics",
]

METRICS = ("pearson", "spearman", "kendall_tau", "nll")
N_TRAIN_CHOICES = (10, 25, 50, 75, 100, 150, 200, 300, 400)
"""The training-set sizes of the paper's experiment."""


@dataclass(frozen=True)
class RegressionRecord:
    """One fit: model, training size, seed index, the four metrics, fit time and chosen WL depth."""

    model: str
    n_train: int
    seed: int
    pearson: float
    spearman: float
    kendall_tau: float
    nll: float
    fit_seconds: float
    depth: int


def _correlation(fn: Callable[..., object], a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan  # undefined for a constant prediction or target
    return float(fn(a, b)[0])


def regression_metrics(y: np.ndarray, mean: np.ndarray, var: np.ndarray) -> dict[str, float]:
    """Pearson, Spearman, Kendall tau of ``mean`` vs ``y``, and the mean Gaussian NLL of ``y``."""
    var = np.maximum(var, 1e-12)
    nll = float(np.mean(0.5 * np.log(2 * np.pi * var) + 0.5 * (y - mean) ** 2 / var))
    return {
        "pearson": _correlation(stats.pearsonr, mean, y),
        "spearman": _correlation(stats.spearmanr, mean, y),
        "kendall_tau": _correlation(stats.kendalltau, mean, y),
        "nll": nll,
    }


def run_regression(
    trees: Sequence[Tree],
    values: np.ndarray,
    space: SearchSpace,
    *,
    models: Sequence[str] = ("gp", "gp_hierarchical"),
    n_train: Sequence[int] = (100,),
    n_seeds: int = 20,
    n_test: int | None = None,
    seed: int = 0,
    log: bool = False,
    target_transform: str = "none",
    progress: Callable[[str], None] | None = None,
) -> list[RegressionRecord]:
    """Fit every model on every ``n_train`` for ``n_seeds`` splits; one record per fit.

    ``n_test`` defaults to all architectures not used by the largest ``n_train``. With ``log``
    the targets are the natural log of ``values`` (which must then be positive). Each model is
    fitted on its training targets under ``target_transform`` (see
    :mod:`hnas.surrogates.transforms`; ``rank`` ranks within the training set, as a BO loop
    does); the metrics compare its predictions with the untransformed test values (then only the
    rank correlations are meaningful). Raises
    :class:`TrialsError` when the data cannot support the experiment (too few architectures).
    """
    values = np.asarray(values, dtype=np.float64)
    if len(trees) != len(values):
        raise ValueError(f"{len(trees)} trees but {len(values)} values")
    sizes = sorted(set(int(n) for n in n_train))
    if not sizes or sizes[0] < 2:
        raise ValueError(f"n_train values must be >= 2, got {list(n_train)}")
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    models = list(dict.fromkeys(canonical_name(m) for m in models))  # aliases name one model
    total = len(trees)
    n_test = total - sizes[-1] if n_test is None else int(n_test)
    if n_test < 2 or sizes[-1] + n_test > total:
        raise TrialsError(
            f"too few trials: n_train={sizes[-1]} with n_test={max(n_test, 2)} held out needs "
            f"{sizes[-1] + max(n_test, 2)} distinct evaluated architectures, found {total}"
        )
    if log:
        if np.any(values <= 0):
            raise TrialsError("--log needs positive objective values")
        values = np.log(values)

    # One untimed fit first: the process's first fit pays a one-off torch/gpytorch warm-up.
    get_surrogate(models[0], space).fit(list(trees[:2]), values[:2])
    records = []
    for s in range(n_seeds):
        order = np.random.default_rng([seed, s]).permutation(total)
        test, rest = order[:n_test], order[n_test:]
        test_trees = [trees[i] for i in test]
        for size in sizes:
            train = rest[:size]
            train_trees = [trees[i] for i in train]
            for model in models:
                surrogate = get_surrogate(model, space)
                start = time.perf_counter()
                surrogate.fit(train_trees, transform_targets(target_transform, values[train]))
                seconds = time.perf_counter() - start
                mean, var = surrogate.predict(test_trees, include_noise=True)
                metrics = regression_metrics(values[test], mean, var)
                records.append(
                    RegressionRecord(model, size, s, **metrics, fit_seconds=seconds, depth=surrogate.depth)
                )
        if progress is not None:
            progress(f"seed {s + 1}/{n_seeds} done")
    return records


def summarise(records: Sequence[RegressionRecord]) -> list[dict[str, float | int | str]]:
    """Mean and standard deviation over seeds of each metric, per (model, n_train)."""
    groups: dict[tuple[str, int], list[RegressionRecord]] = {}
    for r in records:
        groups.setdefault((r.model, r.n_train), []).append(r)
    rows = []
    for (model, size), group in sorted(groups.items()):
        row: dict[str, float | int | str] = {"model": model, "n_train": size, "n_seeds": len(group)}
        for metric in (*METRICS, "fit_seconds"):
            column = np.array([getattr(r, metric) for r in group], dtype=float)
            finite = column[np.isfinite(column)]
            row[f"{metric}_mean"] = float(finite.mean()) if len(finite) else math.nan
            row[f"{metric}_std"] = float(finite.std()) if len(finite) else math.nan
        rows.append(row)
    return rows


def format_table(summary: Sequence[dict[str, float | int | str]]) -> str:
    """A plain-text table of ``summarise`` rows (mean ± std over seeds)."""
    header = ["model", "n_train", "seeds", *METRICS, "fit s"]
    lines = [header]
    for row in summary:
        cells = [str(row["model"]), str(row["n_train"]), str(row["n_seeds"])]
        for metric in (*METRICS, "fit_seconds"):
            cells.append(f"{row[f'{metric}_mean']:.3f} ± {row[f'{metric}_std']:.3f}")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines)


def write_records(records: Sequence[RegressionRecord], path: str | Path) -> Path:
    """One CSV row per fit."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(RegressionRecord)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)
    return path


def write_summary(summary: Sequence[dict[str, float | int | str]], path: str | Path) -> Path:
    """The summary rows as CSV."""
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    return path


def plot_metrics(summary: Sequence[dict[str, float | int | str]], path: str | Path) -> Path:
    """Each metric against n_train, one line per model (mean), shaded ± one std over seeds."""
    from matplotlib.figure import Figure  # renders with Agg, no pyplot state

    path = Path(path)
    titles = {"pearson": "Pearson", "spearman": "Spearman", "kendall_tau": "Kendall tau", "nll": "NLL"}
    fig = Figure(figsize=(4 * len(METRICS), 3.4))
    axes = fig.subplots(1, len(METRICS))
    for model in dict.fromkeys(str(r["model"]) for r in summary):
        rows = [r for r in summary if r["model"] == model]
        x = np.array([r["n_train"] for r in rows], dtype=float)
        for ax, metric in zip(axes, METRICS):
            mean = np.array([r[f"{metric}_mean"] for r in rows], dtype=float)
            std = np.array([r[f"{metric}_std"] for r in rows], dtype=float)
            ax.plot(x, mean, marker="o", label=model)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    sizes = sorted({int(r["n_train"]) for r in summary})
    for ax, metric in zip(axes, METRICS):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("n_train")
        ax.set_title(titles[metric])
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
