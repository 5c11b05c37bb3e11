"""Runs resumed after Ctrl-C ask exactly what an uninterrupted run asks, with an O(1) checkpoint."""

from __future__ import annotations

import pickle

import pytest

from hnas.runner import RunConfig, load_trials, run_search
from hnas.runner.store import RunStore
from hnas.searchers.synthetic import op_quality_loss


class Quality:
    """``op_quality_loss``; behaves like Ctrl-C in its ``interrupt_at``-th evaluation."""

    name = "quality"

    def __init__(self, interrupt_at: int = 0) -> None:
        self.interrupt_at, self.calls = interrupt_at, 0

    def evaluate(self, tree, seed):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return op_quality_loss(tree)


@pytest.mark.parametrize(
    ("searcher", "options"),
    [("regularized_evolution", {"population_size": 4, "sample_size": 2}), ("random_search", {})],
)
def test_an_interrupted_run_resumes_with_the_asks_of_an_uninterrupted_one(tmp_path, searcher, options):
    def config(objective, budget=12):
        return RunConfig(search_space="nb201_fixed_1_none", objective=objective, searcher=searcher,
                         searcher_options=options, seed=5, max_evaluations_total=budget)  # fmt: skip

    for interrupt_at in (3, 6):  # two sessions cut short, one inside the random phase, one after
        assert run_search(config(Quality(interrupt_at)), tmp_path / "run").interrupted
    store = RunStore(tmp_path / "run")
    checkpoint = store.searcher_state()
    store.close()
    assert set(checkpoint) == {"rng", "state"} and len(pickle.dumps(checkpoint)) < 600
    assert run_search(config(Quality()), tmp_path / "run").finished
    resumed = load_trials(tmp_path / "run")
    run_search(config(Quality()), tmp_path / "straight")
    straight = load_trials(tmp_path / "straight")
    assert [t.architecture for t in resumed] == [t.architecture for t in straight]
    assert [t.told for t in resumed] == list(range(1, 13))
    # raising the budget continues from the rebuilt searcher, still as one uninterrupted run
    run_search(config(Quality(), 15), tmp_path / "run")
    run_search(config(Quality(), 15), tmp_path / "straight")
    assert [t.architecture for t in load_trials(tmp_path / "run")] == [
        t.architecture for t in load_trials(tmp_path / "straight")
    ]
