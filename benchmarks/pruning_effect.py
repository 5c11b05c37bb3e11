"""What pruning small hWL weights (``hnas.surrogates.wl_gp.PRUNED_WEIGHT``) changes in a fitted GP.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/pruning_effect.py [--seeds 8]

For n = 25/50/100 random trees of the hierarchical space (``op_quality`` losses, rank targets as BO
fits them) and 500 candidates (300 mutants of the training trees, 200 random samples), the GP is
fitted with no pruning and with each threshold (docs/surrogates.md has the 8-seed figures); printed: components kept, NLL difference (pruned
minus unpruned), the largest change of the predictive mean and standard deviation (in target
standard deviations) and of the expected improvement (relative to its maximum), and how often the
EI's argmax stays the same candidate.
"""

from __future__ import annotations

import argparse

import numpy as np

import hnas.surrogates.wl_gp as wl_gp
from hnas.grammar import load_space
from hnas.searchers.acquisition import ExpectedImprovement
from hnas.searchers.synthetic import op_quality_loss
from hnas.surrogates import get_surrogate
from hnas.surrogates.transforms import transform_targets

THRESHOLDS = (1e-6, 1e-4, 1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    space = load_space("nb201_variable_multi_multi")
    ei = ExpectedImprovement()
    rows: dict[float, list[tuple[float, ...]]] = {t: [] for t in THRESHOLDS}
    for seed in range(args.seeds):
        for n in (25, 50, 100):
            rng = np.random.default_rng(seed * 1000 + n)
            trees = list(dict.fromkeys(space.sample(rng) for _ in range(n)))
            y = transform_targets("rank", np.array([op_quality_loss(t) for t in trees]))
            candidates = [space.mutate(trees[int(rng.integers(len(trees)))], rng) for _ in range(300)]
            candidates += [space.sample(rng) for _ in range(200)]
            fits = {}
            for threshold in (0.0, *THRESHOLDS):
                wl_gp.PRUNED_WEIGHT = threshold
                model = get_surrogate("gp_hierarchical", space).fit(trees, y)
                mean, var = model.predict(candidates)
                fits[threshold] = (mean, np.sqrt(var), ei(mean, var, y.min()), model.parameters)
            mean0, sd0, ei0, p0 = fits[0.0]
            for threshold in THRESHOLDS:
                mean, sd, acq, p = fits[threshold]
                rows[threshold].append((
                    np.count_nonzero(p.weights), p.nll - p0.nll, np.abs(mean - mean0).max() / y.std(),
                    np.abs(sd - sd0).max() / y.std(), np.abs(acq - ei0).max() / ei0.max(),
                    float(np.argmax(acq) == np.argmax(ei0)),
                ))  # fmt: skip
    print(f"{args.seeds} seeds x n = 25/50/100; 7 components unpruned")
    for threshold, values in rows.items():
        r = np.array(values)
        print(
            f"threshold {threshold:g}: components kept {r[:, 0].mean():.2f}, NLL change {r[:, 1].min():.1e}.."
            f"{r[:, 1].max():.1e}, max |d mean| {r[:, 2].max():.1e} sd, max |d sd| {r[:, 3].max():.1e} sd, "
            f"max |d EI| {r[:, 4].max():.1e} of max EI, same argmax {r[:, 5].mean():.0%}"
        )


if __name__ == "__main__":
    main()
