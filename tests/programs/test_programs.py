"""AutoML-Zero programs: grammar, dead-code removal, the numpy evaluator and program evolution."""

import subprocess
import sys

import numpy as np
import pytest

from hnas.grammar import load_space
from hnas.grammar.spaces import GRAMMAR_DIR
from hnas.programs import LanguageOptions, LinearTasks, ProgramEvaluator, format_program, grammar_text, live_program
from hnas.programs import read_program
from hnas.programs.evaluator import run_program
from hnas.programs.evolution import MUTATIONS, EvolutionOptions, empty_program, evolve, mutate_program

LINEAR_OPTIONS = LanguageOptions(ops=("ssub", "smul", "sconst", "vadd", "vscale", "dot"), n_matrices=0,
                                 constants=("0.01", "0.1"))


def _instrs(*lines: str) -> str:
    out = "(INSTRS end)"
    for line in reversed(lines):
        out = f"(INSTRS seq {line} {out})"
    return out


def _program(setup: list[str], predict: list[str], learn: list[str]) -> str:
    return (f"(PROGRAM program (SETUP setup {_instrs(*setup)}) (PREDICT predict {_instrs(*predict)}) "
            f"(LEARN learn {_instrs(*learn)}))")


SGD = _program(
    ["(INSTR sconst (S s2) (C 0.1))"],
    ["(INSTR dot (S s1) (V v0) (V v2))"],
    ["(INSTR ssub (S s3) (S s0) (S s1))", "(INSTR smul (S s3) (S s2) (S s3))", "(INSTR vscale (V v1) (S s3) (V v0))",
     "(INSTR vadd (V v2) (V v2) (V v1))"],
)


@pytest.fixture(scope="module")
def space():
    return load_space(str(GRAMMAR_DIR / "automl_zero.cfg"))


def test_shipped_grammars_are_the_generated_ones():
    assert (GRAMMAR_DIR / "automl_zero.cfg").read_text() == grammar_text()
    assert (GRAMMAR_DIR / "automl_zero_linear.cfg").read_text() == grammar_text(LINEAR_OPTIONS)


def test_program_trees_round_trip_and_print(space):
    rng = np.random.default_rng(0)
    for _ in range(50):
        tree = space.sample(rng)
        assert space.parse(space.to_string(tree)) == tree
    text = format_program(read_program(space.parse(SGD)))
    assert text.splitlines() == [
        "def Setup():", "    s2 = 0.1", "def Predict():", "    s1 = dot(v0, v2)", "def Learn():",
        "    s3 = s0 - s1", "    s3 = s2 * s3", "    v1 = s3 * v0", "    v2 = v2 + v1"]


def test_dead_code_is_removed(space):
    noisy = _program(
        ["(INSTR sconst (S s2) (C 0.1))", "(INSTR sconst (S s3) (C 2.0))"],  # s3 is overwritten before use
        ["(INSTR vadd (V v1) (V v0) (V v0))", "(INSTR dot (S s1) (V v0) (V v2))"],  # v1 is overwritten in Learn
        ["(INSTR ssub (S s3) (S s0) (S s1))", "(INSTR smul (S s3) (S s2) (S s3))",
         "(INSTR vscale (V v1) (S s3) (V v0))", "(INSTR vadd (V v2) (V v2) (V v1))", "(INSTR dot (S s0) (V v1) (V v1))"])
    assert live_program(read_program(space.parse(noisy))) == read_program(space.parse(SGD))


def test_evaluator_matches_plain_sgd_and_scores_sgd_near_one(space):
    tasks = LinearTasks(n_tasks=3, dim=4, n_train=100, n_valid=10, seed=1)
    x, y, xv, yv = tasks.data
    pred = run_program(read_program(space.parse(SGD)), x, y, xv).reshape(yv.shape)
    for t in range(3):  # an independent per-task SGD loop
        w = np.zeros(4)
        for i in range(100):
            w += 0.1 * (y[i, t] - x[i, t] @ w) * x[i, t]
        np.testing.assert_allclose(pred[:, t], xv.reshape(10, 3, 4)[:, t] @ w, rtol=1e-12)
    evaluator = ProgramEvaluator(tasks)
    assert evaluator(space.parse(SGD)) > 0.99
    assert evaluator(empty_program()) == 0.0
    # predicting the features' mean: a bad learner, scored between the two
    mean = _program([], ["(INSTR vscale (V v1) (S s1) (V v0))", "(INSTR dot (S s1) (V v0) (V v0))"], [])
    assert 0.0 <= evaluator(space.parse(mean)) < 0.5


def test_mutations_edit_the_instruction_lists(space):
    rng = np.random.default_rng(3)
    tree = space.parse(SGD)
    size = sum(len(f) for f in read_program(tree))
    for _ in range(20):
        for kind, change in (("insert", 1), ("remove", -1), ("randomize_instruction", 0),
                             ("randomize_operand", 0)):
            child = MUTATIONS[kind](space, tree, rng, 16)
            assert child in space
            assert sum(len(f) for f in read_program(child)) == size + change
    assert MUTATIONS["remove"](space, empty_program(), rng, 16) is None
    full = space.parse(_program(["(INSTR sconst (S s2) (C 0.1))"], [], []))
    assert MUTATIONS["insert"](space, full, rng, 1).children[0] == full.children[0]  # setup is full
    child = mutate_program(space, empty_program(), rng)
    assert sum(len(f) for f in read_program(child)) == 1


def test_short_evolution_improves_and_is_reproducible():
    space = load_space(str(GRAMMAR_DIR / "automl_zero_linear.cfg"))
    evaluator = ProgramEvaluator(LinearTasks(n_tasks=4, n_train=30, n_valid=10))
    options = EvolutionOptions(population_size=20, tournament_size=5, max_length=6, max_evaluations=600, seed=0)
    result = evolve(space, lambda batch: [evaluator(t) for t in batch], options)
    assert result.evaluations == 600
    assert result.history[0][2] == 0.0 and result.best_fitness > 0.0
    assert result.best_fitness == evaluator(result.best)
    again = evolve(space, lambda batch: [evaluator(t) for t in batch], options)
    assert again.best == result.best
    assert [(n, f) for n, _, f in again.history] == [(n, f) for n, _, f in result.history]


def test_the_experiment_prints_the_best_program(tmp_path):
    script = GRAMMAR_DIR.parent / "experiments" / "automl_zero.py"
    result = subprocess.run([sys.executable, str(script), "--workers", "1", "--population_size", "20",
                             "--tournament_size", "5", "--max_evaluations", "200", "--n_tasks", "2", "--n_train", "20",
                             "--n_valid", "5", "--seed", "3"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "best fitness" in result.stdout and "after 200 evaluations" in result.stdout
    assert [line for line in result.stdout.splitlines() if line.startswith("def ")] == [
        "def Setup():", "def Predict():", "def Learn():"]
    bad = subprocess.run([sys.executable, str(script), "--grammar", "missing.cfg"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and "--grammar missing.cfg: no such file" in bad.stderr
