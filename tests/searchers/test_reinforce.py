"""The REINFORCE searcher: its policy learns the rewarded productions, asks respect the constraint,
results rebuild the same policy, and the policy round-trips as a weighted grammar file."""

import dataclasses

import numpy as np
import pytest

from hnas.grammar import Production, load_space
from hnas.grammar.spaces import GRAMMAR_DIR
from hnas.searchers import OptionsError, make_searcher
from hnas.searchers.reinforce import Reinforce
from hnas.searchers.synthetic import op_quality_loss


@pytest.fixture(scope="module")
def cell_grammar_space():
    return load_space(str(GRAMMAR_DIR / "nb201_cell.cfg"))


def _p(searcher, nonterminal, production):
    return searcher.probabilities(nonterminal)[production]


def test_the_probability_of_the_best_production_rises(cell_grammar_space):
    searcher = make_searcher("reinforce", cell_grammar_space, seed=0)
    assert isinstance(searcher, Reinforce)
    assert _p(searcher, "OPS", 'OPS -> "conv3x3"') == pytest.approx(0.2)
    for _ in range(150):
        tree = searcher.ask()
        searcher.tell(tree, op_quality_loss(tree))
    probs = searcher.probabilities("OPS")
    assert max(probs, key=probs.get) == 'OPS -> "conv3x3"' and probs['OPS -> "conv3x3"'] > 0.5
    assert probs['OPS -> "zero"'] < 0.2  # the worst operation lost probability


def test_batched_asks_are_distinct_valid_samples_of_one_policy(cell_grammar_space):
    searcher = make_searcher("reinforce", cell_grammar_space, seed=1)
    batch = [searcher.ask() for _ in range(16)]  # sixteen parallel workers
    assert len(set(batch)) == 16 and all(t in cell_grammar_space for t in batch)
    assert _p(searcher, "OPS", 'OPS -> "id"') == pytest.approx(0.2)  # asks alone teach nothing
    for tree in batch:
        searcher.tell(tree, op_quality_loss(tree))
    assert _p(searcher, "OPS", 'OPS -> "conv3x3"') > 0.2


def test_a_policy_pushed_towards_zero_never_disconnects_a_cell(cell_grammar_space):
    assert cell_grammar_space.count() < cell_grammar_space.count(constrained=False)  # zero can disconnect
    searcher = make_searcher("reinforce", cell_grammar_space, seed=2)
    for _ in range(100):
        tree = searcher.ask()
        assert tree in cell_grammar_space
        searcher.tell(tree, 1.0 - np.mean([edge.op == "zero" for edge in tree.children]))
    assert _p(searcher, "OPS", 'OPS -> "zero"') > 0.5
    for _ in range(30):
        tree = searcher.ask()  # the constrained sampler masks the disconnecting choices
        assert tree in cell_grammar_space and any(edge.op != "zero" for edge in tree.children)


def test_told_results_rebuild_the_same_policy(cell_grammar_space):
    a = make_searcher("reinforce", cell_grammar_space, seed=3, learning_rate=0.3, baseline_decay=0.5)
    for _ in range(30):
        tree = a.ask()
        a.tell(tree, op_quality_loss(tree) if len(a.history) % 7 else None)  # some failures
    b = make_searcher("reinforce", cell_grammar_space, seed=99, learning_rate=0.3, baseline_decay=0.5)
    for tree, loss in a.history:
        b.tell(tree, loss)
    assert all(np.array_equal(a.logits[nt], b.logits[nt]) for nt in a.logits) and a.baseline == b.baseline


@pytest.mark.skipif("weighted" not in {f.name for f in dataclasses.fields(Production)},
                    reason="grammar files with PCFG weights come with the grammar branch (h/grammar)")
def test_the_policy_saves_as_a_weighted_grammar_that_loads_back(cell_grammar_space, tmp_path):
    searcher = make_searcher("reinforce", cell_grammar_space, seed=4)
    for _ in range(40):
        tree = searcher.ask()
        searcher.tell(tree, op_quality_loss(tree))
    path = tmp_path / "policy.cfg"
    path.write_text(searcher.weighted_grammar())
    loaded = load_space(str(path))
    weights = {str(p): p.weight for p in loaded.grammar.rules["OPS"]}
    total = sum(weights.values())
    learned = searcher.probabilities("OPS")
    assert set(weights) == set(learned)
    for production, probability in learned.items():
        assert weights[production] / total == pytest.approx(probability, rel=1e-5)
    rng = np.random.default_rng(0)
    draws = [loaded.sample(rng) for _ in range(400)]
    conv = np.mean([n.op == "conv3x3" for t in draws for n in t.walk() if n.symbol == "OPS"])
    assert conv == pytest.approx(learned['OPS -> "conv3x3"'], abs=0.05)


def test_bad_options_name_the_option(cell_grammar_space):
    with pytest.raises(OptionsError, match="baseline_decay"):
        make_searcher("reinforce", cell_grammar_space, seed=0, baseline_decay=1.0)
    with pytest.raises(OptionsError, match="learning_rate"):
        make_searcher("reinforce", cell_grammar_space, seed=0, learning_rate=-1.0)
