"""Weighted grammars: nltk's PCFG weights in grammar files, normalised per nonterminal."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest

from grammar_checks import write
from hnas.grammar import GrammarError, load_space


def _edge_ops(space, n: int, seed: int) -> Counter:
    rng = np.random.default_rng(seed)
    return Counter(space.sample(rng).children[0].op for _ in range(n))


def test_sampling_follows_written_weights(tmp_path):
    space = load_space(write(tmp_path, "w.cfg", 'A -> "Linear1" O\nO -> "id" [0.2] | "conv3x3" [0.7] | "avg_pool" [0.1]\n'))
    assert [p.weight for p in space.grammar.rules["O"]] == [0.2, 0.7, 0.1]
    counts = _edge_ops(space, 20_000, 0)
    # binomial standard deviation at n = 20,000 is at most 0.0036: 4 sigma bounds
    for op, p in {"id": 0.2, "conv3x3": 0.7, "avg_pool": 0.1}.items():
        assert abs(counts[op] / 20_000 - p) < 0.015, (op, counts)
    assert space.count() == 3  # weights never change the size


def test_weights_are_normalised_per_nonterminal(tmp_path):
    probabilities = load_space(write(tmp_path, "p.cfg", 'A -> "Linear1" O\nO -> "id" [0.25] | "conv3x3" [0.75]\n'))
    relative = load_space(write(tmp_path, "r.cfg", 'A -> "Linear1" O\nO -> "id" [1] | "conv3x3" [3]\n'))
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [probabilities.sample(a).children[0].op for _ in range(500)] == \
        [relative.sample(b).children[0].op for _ in range(500)]


def test_zero_weight_lowers_zero_under_the_constraint(tmp_path):
    # Residual2: edge 3 is the skip; zero may cut edge 1 or 2 (not both) or 3
    space = load_space(write(tmp_path, "z.cfg", 'A -> "Residual2" O O O\nO -> "id" [9] | "zero" [1]\n'))
    rng = np.random.default_rng(1)
    zeros = sum(c.op == "zero" for _ in range(10_000) for c in space.sample(rng).children)
    # masks without two cut chain edges: P(mask) proportional to 0.1^k 0.9^(3-k) over the 6 allowed masks
    allowed = [m for m in range(8) if not (m & 1 and m & 2)]
    weight = {m: np.prod([0.1 if m >> i & 1 else 0.9 for i in range(3)]) for m in allowed}
    expected = sum(weight[m] * bin(m).count("1") for m in allowed) / sum(weight.values())
    assert abs(zeros / 10_000 - expected) < 0.03


def test_mutation_rederives_by_weight(tmp_path):
    space = load_space(write(tmp_path, "m.cfg", 'A -> "Linear1" O\nO -> "id" [1] | "conv3x3" [8] | "avg_pool" [1]\n'))
    rng = np.random.default_rng(2)
    start = space.parse("(A Linear1 (O id))")
    mutants = Counter(space.mutate(start, rng).children[0].op for _ in range(4000))
    # re-derivation draws by weight until the result differs: conv3x3 8/9, avg_pool 1/9
    assert set(mutants) == {"conv3x3", "avg_pool"}
    assert abs(mutants["conv3x3"] / 4000 - 8 / 9) < 0.03


def test_duplicate_weighted_production_sums_weights_and_counts_once(tmp_path):
    path = write(tmp_path, "d.cfg", 'A -> "Linear1" O\nO -> "id" [0.5] | "conv3x3" [1]\nO -> "id" [1.5]\n')
    with pytest.warns(UserWarning, match=r"d.cfg:3: duplicate production O -> \"id\".*weight 2$"):
        space = load_space(path)
    assert [(p.op, p.weight) for p in space.grammar.rules["O"]] == [("id", 2.0), ("conv3x3", 1.0)]
    assert space.count() == 2


def test_hierarchical_space_states_its_weights_and_loads_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        space = load_space("nb201_variable_multi_multi")
    assert [(p.op, p.weight) for p in space.grammar.rules["OPS"]] == [
        ("id", 1.0), ("zero", 1.0), ("Linear1", 2.0), ("avg_pool", 1.0)]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('A -> "Linear1" O\nO -> "id" [0] | "conv3x3" [1]\n', 2, 11, r"bad weight \[0\]: must be a finite number > 0"),
        ('A -> "Linear1" O\nO -> "id" [-2] | "conv3x3" [1]\n', 2, 11, r"bad weight \[-2\]"),
        ('A -> "Linear1" O\nO -> "id" [nan] | "conv3x3" [1]\n', 2, 11, r"bad weight \[nan\]"),
        ('A -> "Linear1" O\nO -> "id" [1e999] | "conv3x3" [1]\n', 2, 11, r"bad weight \[1e999\]"),
        ('A -> "Linear1" O\nO -> "id" [x] | "conv3x3" [1]\n', 2, 11, r"bad weight \[x\]"),
        ('A -> "Linear1" O\nO -> "id" [0.5\n', 2, 11, r"unclosed '\[' of a weight"),
        ('A -> "Linear1" [2] O\nO -> "id"\n', 1, 16, r"a weight \[2\] must end its alternative"),
        ('A -> "Linear1" O\nO -> "id" [1] | "conv3x3"\n', 2, None,
         r"O mixes weighted and unweighted alternatives: this one has none, the first \(.*w.cfg:2\) has one"),
        ('A -> "Linear1" O\nO -> "id"\nO -> "conv3x3" [2]\n', 3, None, "O mixes weighted and unweighted alternatives"),
    ],
)
def test_weight_errors_name_file_line_and_column(tmp_path, text, line, column, message):
    path = write(tmp_path, "w.cfg", text)
    with pytest.raises(GrammarError, match=message) as info:
        load_space(path)
    assert (info.value.file, info.value.line, info.value.column) == (path, line, column)
    assert str(info.value).startswith(f"{path}:{line}:" + (f"{column}:" if column else ""))
