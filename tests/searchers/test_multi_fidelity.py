"""Multi-fidelity searchers: levels, bracket sizes, promotions, asynchronous asks, failures, and
the rebuild from the asked jobs + O(1) checkpoint that resume relies on."""

import math

import numpy as np
import pytest

from hnas.searchers import OptionsError, make_searcher, register_searcher
from hnas.searchers.multi_fidelity import PENDING, Job, MultiFidelitySearcher, fidelity_levels
from hnas.searchers.synthetic import op_quality_loss

MF_SEARCHERS = ("successive_halving", "hyperband", "asha", "bo_hyperband")
FAST_BO = {"pool_size": 10, "n_init": 3, "surrogate_model": "gp", "max_generations": 3, "min_generations": 1}


def loss(job: Job) -> float:
    """Lower with more epochs; the ranking of trees is op_quality_loss's at every fidelity."""
    return op_quality_loss(job.tree) + 1.0 / job.epochs


def make(name, space, **options):
    return make_searcher(name, space, seed=3, **({**FAST_BO, **options} if name == "bo_hyperband" else options))


@pytest.mark.parametrize(
    "low, high, eta, levels",
    [(1, 9, 3, (1, 3, 9)), (1, 4, 2, (1, 2, 4)), (2, 6, 3, (2, 6)), (1, 8, 3, (2, 8)), (5, 5, 3, (5,)),
     (1, 27, 3, (1, 3, 9, 27))],
)
def test_fidelity_levels(low, high, eta, levels):
    assert fidelity_levels(low, high, eta) == levels


def test_bad_fidelity_options_name_the_option(cell_space):
    with pytest.raises(OptionsError, match="min_epochs .* must not exceed max_epochs") as error:
        make_searcher("hyperband", cell_space, seed=0, min_epochs=10, max_epochs=9)
    assert error.value.option == "min_epochs"
    with pytest.raises(OptionsError, match="eta must be an integer >= 2"):
        make_searcher("asha", cell_space, seed=0, eta=1)


def test_successive_halving_promotes_the_best_third_of_each_rung(cell_space):
    searcher = make("successive_halving", cell_space)
    first = [searcher.ask() for _ in range(9)]
    assert [(j.epochs, j.rung, j.bracket, j.continues) for j in first] == [(1, 0, 0, None)] * 9
    losses = {job: loss(job) for job in first}
    for job in first:
        searcher.tell(job, losses[job])
    best3 = sorted(first, key=lambda j: (losses[j], first.index(j)))[:3]
    second = [searcher.ask() for _ in range(3)]
    assert [j.tree for j in second] == [j.tree for j in best3]
    assert all((j.epochs, j.rung, j.continues) == (3, 1, 1) for j in second)
    for job in second:
        searcher.tell(job, loss(job))
    third = searcher.ask()
    assert (third.tree, third.epochs, third.continues) == (min(second, key=loss).tree, 9, 3)
    searcher.tell(third, loss(third))
    assert searcher.incumbent == (third.tree, loss(third))
    assert searcher.ask().bracket == 1  # the bracket is finished: a new one starts at 1 epoch


def test_hyperband_brackets_start_at_each_level_in_turn(cell_space):
    searcher = make("hyperband", cell_space)
    shape = []
    for _ in range(21):
        job = searcher.ask()
        shape.append((job.epochs, job.continues, job.bracket))
        searcher.tell(job, loss(job))
    assert shape == (
        [(1, None, 0)] * 9 + [(3, 1, 0)] * 3 + [(9, 3, 0)]  # s = 2: 9 -> 3 -> 1
        + [(3, None, 1)] * 3 + [(9, 3, 1)]  # s = 1: 3 -> 1
        + [(9, None, 2)] * 3  # s = 0: 3 full trainings
        + [(1, None, 3)]  # and again
    )


def test_synchronous_searchers_open_a_new_bracket_instead_of_waiting(cell_space):
    searcher = make("successive_halving", cell_space)
    jobs = [searcher.ask() for _ in range(10)]  # nothing told: rung 0 of bracket 0 holds 9
    assert [j.bracket for j in jobs] == [0] * 9 + [1]
    for job in jobs[:8]:
        searcher.tell(job, loss(job))
    assert searcher.ask().bracket == 1  # bracket 0 still waits for one result
    searcher.tell(jobs[8], loss(jobs[8]))
    assert searcher.ask().continues == 1  # now bracket 0 promotes


def test_asha_promotes_the_top_of_each_rung_without_waiting(cell_space):
    searcher = make("asha", cell_space)
    jobs = [searcher.ask() for _ in range(3)]
    assert all(j.continues is None for j in jobs)
    searcher.tell(jobs[1], loss(jobs[1]))
    searcher.tell(jobs[2], loss(jobs[2]))
    assert searcher.ask().continues is None  # 2 results: floor(2 / 3) = 0 promotable
    searcher.tell(jobs[0], loss(jobs[0]))
    promoted = searcher.ask()  # 3 of 4 told at rung 0: the best one goes on
    assert (promoted.tree, promoted.epochs, promoted.continues) == (min(jobs, key=loss).tree, 3, 1)
    assert searcher.ask().continues is None  # it was promoted once only


def test_failed_jobs_are_never_promoted(cell_space):
    searcher = make("successive_halving", cell_space, max_epochs=3)  # levels 1, 3: 3 -> 1
    jobs = [searcher.ask() for _ in range(3)]
    searcher.tell(jobs[0], None)
    searcher.tell(jobs[1], None)
    searcher.tell(jobs[2], 0.9)
    promoted = searcher.ask()
    assert promoted.tree == jobs[2].tree and promoted.continues == 1
    with pytest.raises(ValueError, match="already told"):
        searcher.tell(jobs[0], 0.5)
    with pytest.raises(ValueError, match="was not asked"):
        searcher.tell(Job(jobs[0].tree, 3, 1), 0.5)
    with pytest.raises(ValueError, match="must be a finite number"):
        searcher.tell(promoted, math.nan)


def _drive(searcher, n_asks, workers, order_rng):
    """Asks ``n_asks`` jobs keeping up to ``workers`` in flight, telling a random one of them
    each time; returns the jobs asked and, before each ask, (checkpoint, jobs with results)."""
    asked, in_flight, snapshots = [], [], []
    while len(asked) < n_asks:
        while len(in_flight) < workers and len(asked) < n_asks:
            snapshots.append((searcher.checkpoint(), searcher.jobs))
            job = searcher.ask()
            asked.append(job)
            in_flight.append(job)
        done = in_flight.pop(int(order_rng.integers(len(in_flight))))
        searcher.tell(done, None if order_rng.random() < 0.1 else loss(done))
    return asked, snapshots


@pytest.mark.parametrize("name", MF_SEARCHERS)
@pytest.mark.parametrize("workers", [1, 3])
def test_a_rebuilt_searcher_asks_what_the_original_asks(cell_space, name, workers):
    n = 16 if name == "bo_hyperband" else 40
    asked, snapshots = _drive(make(name, cell_space), n, workers, np.random.default_rng(workers))
    assert any(j.continues is not None for j in asked)
    for at in (1, 5, 11, n - 3):  # mid-bracket: pending jobs, promotions to come
        checkpoint, jobs = snapshots[at]
        rebuilt = make(name, cell_space)
        rebuilt.restore(checkpoint, jobs)  # results of the asked jobs, PENDING for those in flight
        assert rebuilt.ask() == asked[at]


def test_bo_hyperband_fits_the_highest_level_with_enough_results(cell_space):
    searcher = make("bo_hyperband", cell_space, random_interleave_prob=0.0, n_init=4)
    models = []
    for _ in range(19):
        job = searcher.ask()
        if job.continues is None:
            models.append(searcher.model_rung)
        searcher.tell(job, loss(job))
    # bracket 0: 9 new at level 0 (4 random, then fitted on level 0's results); bracket 1: 3 new at
    # level 1 (level 1 holds 3 results < n_init at the first: level 0 is fitted; then level 1);
    # bracket 2: new at level 2 (which has 2 results: level 1 is fitted)
    assert models == [None] * 4 + [0] * 5 + [0, 1, 1] + [1, 1]
    assert len({searcher.key(job.tree) for job, _ in searcher.jobs if job.continues is None}) == 14


def test_a_users_multi_fidelity_searcher(cell_space):
    class TwoStep(MultiFidelitySearcher):
        """New configurations at the lowest level; every successful one continues to the highest."""

        def propose_job(self):
            for job in self.done_at(0):
                if not self.is_promoted(job):
                    return self.promote(job, len(self.levels) - 1)
            return self.new_job(self.sample_new(), 0)

    register_searcher("two_step_test", TwoStep, replace=True)
    searcher = make_searcher("two_step_test", cell_space, seed=0, max_epochs=4, eta=2)
    first = searcher.ask()
    searcher.tell(first, 0.5)
    second = searcher.ask()
    assert (second.tree, second.epochs, second.continues) == (first.tree, 4, 1)
    assert searcher.pending == (second,) and searcher.jobs[0] == (first, 0.5) and searcher.jobs[1][1] is PENDING

    class Broken(TwoStep):
        def propose_job(self):
            return self.new_job(self.jobs[0][0].tree, 0) if self.jobs else super().propose_job()

    broken = Broken(cell_space, seed=0)
    broken.ask()
    with pytest.raises(RuntimeError, match="already asked"):
        broken.ask()
    with pytest.raises(TypeError, match="multi-fidelity searcher"):
        broken.propose()
