"""Ask/tell bookkeeping shared by all searchers: no duplicates, failures, pending trials,
determinism and state_dict round trips, on the real NAS-Bench-201 cell space."""

from __future__ import annotations

import pickle

import pytest

from hnas.grammar import Tree, load_space
from hnas.searchers import Searcher, SearcherError, SpaceExhaustedError, get_searcher_class, make_searcher, searcher_names
from hnas.searchers.multi_fidelity import MultiFidelitySearcher
from hnas.searchers.synthetic import op_quality_loss

from searcher_helpers import drive

SEARCHERS = [
    n for n in searcher_names()
    if not issubclass(get_searcher_class(n), MultiFidelitySearcher) and not get_searcher_class(n).multi_objective
]
# (the multi-fidelity searchers ask for jobs: tests/searchers/test_multi_fidelity.py; the multi-objective
# ones are told loss vectors: tests/searchers/test_multi_objective_searchers.py)
# Small BO settings keep each GP step cheap; BO proper starts after n_init asks.
FAST = {
    "random_search": {},
    "regularized_evolution": {"population_size": 8, "sample_size": 3},
    "bayesian_optimization": {"n_init": 4, "pool_size": 30},
    "reinforce": {},
}


def build(name, space, seed):
    return make_searcher(name, space, seed=seed, **FAST[name])


@pytest.mark.parametrize("name", SEARCHERS)
def test_no_tree_is_proposed_twice(cell_space, name):
    searcher = build(name, cell_space, seed=3)
    asked = drive(searcher, op_quality_loss, 20)
    assert len(set(asked)) == 20
    assert [tree for tree, _ in searcher.history] == asked


@pytest.mark.parametrize("name", SEARCHERS)
def test_failed_trials_are_remembered_not_modelled_and_never_reproposed(cell_space, name):
    searcher = build(name, cell_space, seed=5)
    failed = []
    for i in range(16):
        tree = searcher.ask()
        assert tree not in failed
        if i % 3 == 0:  # every third trial fails
            searcher.tell(tree, None)
            failed.append(tree)
        else:
            searcher.tell(tree, op_quality_loss(tree))
    trees, losses = searcher.observations()
    assert len(trees) == 16 - len(failed) and not set(failed) & set(trees)
    assert all(searcher.is_known(tree) for tree in failed)
    assert searcher.incumbent[1] == losses.min()


@pytest.mark.parametrize("name", SEARCHERS)
def test_asks_with_pending_trials_avoid_them(cell_space, name):
    searcher = build(name, cell_space, seed=11)
    drive(searcher, op_quality_loss, 6)
    first = [searcher.ask() for _ in range(3)]  # three workers busy
    assert searcher.pending == tuple(first)
    searcher.tell(first[1], op_quality_loss(first[1]))
    fourth = searcher.ask()
    assert fourth not in first
    assert searcher.pending == (first[0], first[2], fourth)
    searcher.tell(first[0], None)
    assert searcher.pending == (first[2], fourth)


@pytest.mark.parametrize("name", SEARCHERS)
def test_same_seed_and_values_give_the_same_asks(cell_space, name):
    runs = [drive(build(name, cell_space, seed=21), op_quality_loss, 12) for _ in range(2)]
    assert runs[0] == runs[1]
    other = drive(build(name, cell_space, seed=22), op_quality_loss, 12)
    assert other != runs[0]


@pytest.mark.parametrize("name", SEARCHERS)
def test_restore_from_results_and_checkpoint_continues_identically(cell_space, name):
    original = build(name, cell_space, seed=8)
    drive(original, op_quality_loss, 7)
    pending = [original.ask(), original.ask()]
    original.tell(pending[0], None)  # told out of ask order, as with parallel workers
    pending = pending[1:] + [original.ask()]
    checkpoint = pickle.loads(pickle.dumps(original.checkpoint()))
    assert len(pickle.dumps(checkpoint)) < 1000  # O(1): no history inside
    restored = build(name, cell_space, seed=999)  # the generator state is in the checkpoint
    restored.restore(checkpoint, [(t, loss, None) for t, loss in original.history], [(t, None) for t in pending])
    assert restored.pending == tuple(pending)
    assert restored.history == original.history and restored.incumbent == original.incumbent
    for searcher in (original, restored):
        searcher.tell(pending[0], op_quality_loss(pending[0]))
    assert drive(original, op_quality_loss, 6) == drive(restored, op_quality_loss, 6)


def test_restore_needs_a_fresh_searcher(cell_space):
    searcher = build("random_search", cell_space, seed=1)
    searcher.tell(searcher.ask(), 0.5)
    with pytest.raises(RuntimeError, match="fresh searcher"):
        searcher.restore(None, [])


def test_tell_rejects_bad_results(cell_space):
    searcher = build("random_search", cell_space, seed=0)
    tree = searcher.ask()
    with pytest.raises(ValueError, match="pass None for a failed trial"):
        searcher.tell(tree, float("nan"))
    with pytest.raises(ValueError, match="must be a number or None"):
        searcher.tell(tree, "low")
    with pytest.raises(TypeError, match="expects a Tree"):
        searcher.tell(str(tree), 0.5)
    searcher.tell(tree, 0.5)
    with pytest.raises(ValueError, match="already told"):
        searcher.tell(tree, 0.4)


def test_regularized_evolution_mutates_tournament_winners_after_the_random_phase(cell_space):
    searcher = make_searcher("regularized_evolution", cell_space, seed=4, population_size=6, sample_size=6)
    drive(searcher, op_quality_loss, 6)
    assert len(searcher.population) == 6
    best = min(searcher.population, key=lambda member: member[1])[0]
    child = searcher.ask()  # the tournament covers the whole population: the parent is the best
    parent_leaves = [node.op for node in best.walk() if not node.children]
    child_leaves = [node.op for node in child.walk() if not node.children]
    assert len(parent_leaves) == len(child_leaves)  # the cell space's structure is fixed
    changed = sum(a != b for a, b in zip(parent_leaves, child_leaves)) / len(parent_leaves)
    assert 0 < changed <= 1 / 3  # one of six cell edges re-derived; random cells differ in ~4/5
    searcher.tell(child, op_quality_loss(child))
    assert len(searcher.population) == 6 and searcher.population[-1][0] == child  # oldest died


@pytest.mark.parametrize("name", SEARCHERS)
def test_a_used_up_space_raises_space_exhausted(tmp_path, name):
    grammar = tmp_path / "tiny.cfg"
    grammar.write_text('S -> "Linear2" OPS OPS\nOPS -> "id" | "conv3x3"\n')
    space = load_space(str(grammar))
    options = {"n_init": 2, "pool_size": 5} if name == "bayesian_optimization" else {}
    searcher = make_searcher(name, space, seed=0, **options)  # a user grammar: no canonical key
    asked = drive(searcher, op_quality_loss, 4)  # the whole space: 4 architectures
    assert len(set(asked)) == 4
    with pytest.raises(SpaceExhaustedError, match="search space looks exhausted"):
        searcher.ask()


class _Proposes(Searcher):
    """A user's searcher that proposes whatever it was given."""

    def __init__(self, space, proposal, **kwargs):
        super().__init__(space, **kwargs)
        self.proposal = proposal

    def propose(self):
        return self.proposal


def test_ask_refuses_a_proposal_outside_the_space(tmp_path, cell_space):
    grammar = tmp_path / "chain.cfg"
    grammar.write_text('S -> "Linear2" OPS OPS\nOPS -> "id" | "zero"\n')
    chain = load_space(str(grammar))
    cut = Tree("S", "Linear2", (Tree("OPS", "id"), Tree("OPS", "zero")))
    cases = [
        (chain, cut, r"_Proposes.propose\(\) returned a tree outside the search space \(position 2: 'zero' "
                     r"children disconnect the input of Linear2 from its output\): \(S Linear2 \(OPS id\) \(OPS zero\)\)"),
        (cell_space, cut, r"outside the search space \(position 2: unknown nonterminal 'S'\)"),
        (chain, str(cut), r"_Proposes.propose\(\) returned str, not a Tree"),
    ]
    for space, proposal, message in cases:
        searcher = _Proposes(space, proposal, seed=0)
        with pytest.raises(SearcherError, match=message):
            searcher.ask()
        assert searcher.pending == ()  # nothing was taken as asked
    fine = Tree("S", "Linear2", (Tree("OPS", "id"), Tree("OPS", "id")))
    assert _Proposes(chain, fine, seed=0).ask() == fine
