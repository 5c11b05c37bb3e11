"""The GP's linear algebra runs with one BLAS thread (hnas/blas_threads.py) and leaves the
process's BLAS setting as it was."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import hnas.surrogates.wl_gp as wl_gp
from hnas.blas_threads import single_threaded_blas
from hnas.grammar import load_space
from hnas.searchers.synthetic import op_quality_loss
from hnas.surrogates import get_surrogate


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_blas_is_single_threaded_in_the_block_and_restored_after_errors_included():
    with threadpool_limits(2, user_api="blas"):
        assert blas_threads() and set(blas_threads()) == {2}  # numpy's and scipy's BLAS
        with single_threaded_blas():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}
        with pytest.raises(RuntimeError, match="inside"), single_threaded_blas():
            raise RuntimeError("inside")
        assert set(blas_threads()) == {2}


def test_a_gp_fits_conditions_and_predicts_with_one_blas_thread(monkeypatch):
    space = load_space("nb201_fixed_1_none")
    rng = np.random.default_rng(0)
    trees = list(dict.fromkeys(space.sample(rng) for _ in range(40)))
    seen: dict[str, set[int]] = {}

    def recording(name, function):
        def spy(*args, **kwargs):
            seen.setdefault(name, set()).update(blas_threads())
            return function(*args, **kwargs)

        return spy

    # Spies on the real posterior computations (they still run): which BLAS setting each met.
    monkeypatch.setattr(wl_gp, "fit_profiled", recording("fit", wl_gp.fit_profiled))
    monkeypatch.setattr(wl_gp.BlockPosterior, "predict", recording("predict", wl_gp.BlockPosterior.predict))
    monkeypatch.setattr(wl_gp.BlockPosterior, "condition", recording("condition", wl_gp.BlockPosterior.condition))
    model = get_surrogate("gp_hierarchical", space)
    with threadpool_limits(2, user_api="blas"):
        model.fit(trees[:30], np.array([op_quality_loss(t) for t in trees[:30]]))
        conditioned = model.condition(trees[30:32], np.zeros(2))
        mean, var = conditioned.predict(trees[32:])
        assert set(blas_threads()) == {2}
    assert seen == {"fit": {1}, "condition": {1}, "predict": {1}}
    assert mean.shape == var.shape == (len(trees) - 32,) and np.all(np.isfinite(mean)) and np.all(var > 0)
