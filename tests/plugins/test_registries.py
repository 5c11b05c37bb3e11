"""register_objective and register_primitive on hnas.registry.Registry, and runs matched by what
they search (the resolved grammar paths, the resolved objective reference), not by spelling."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from hnas.errors import HnasError, RegistryError
from hnas.grammar import Tree, load_space
from hnas.objectives import FunctionObjective, ObjectiveError, get_objective, objective_names, register_objective
from hnas.runner import ConfigMismatchError, RunConfig, load_config, load_trials, run_search
from hnas.semantics import SemanticsError, compile_network, register_primitive
from hnas.semantics.registry import primitives  # hnas.semantics.primitives is also a submodule's name

ROOT = Path(__file__).resolve().parents[2]


def test_register_objective_needs_replace_for_an_existing_name_and_passes_data_path():
    made = []

    def factory(data_path=None, scale: float = 1.0):
        made.append((data_path, scale))
        return lambda tree: scale * len(tree.children)

    assert register_objective("reg_children", factory) is factory
    with pytest.raises(RegistryError, match="objective 'reg_children' is already registered; pass replace=True"):
        register_objective("reg_children", factory)
    with pytest.raises(RegistryError, match="objective 'digits' is already registered"):
        register_objective("digits", factory)
    with pytest.raises(ObjectiveError, match="must not contain ':'"):
        register_objective("a:b", factory)

    tree = Tree("CELL", "Linear2", (Tree("OP", "id"), Tree("OP", "id")))
    objective = get_objective("reg_children", "/data/x.csv", scale=0.25, unset=None)
    assert isinstance(objective, FunctionObjective) and objective.name == "reg_children"
    assert objective.evaluate(tree, seed=0).val_error == 0.5
    assert made == [("/data/x.csv", 0.25)]
    get_objective("reg_children")
    assert made[-1] == (None, 1.0)  # no data path given: the factory's default
    with pytest.raises(ObjectiveError, match=r"objective reg_children: got an unexpected keyword argument 'epochs'"):
        get_objective("reg_children", epochs=3)

    register_objective("reg_children", lambda: lambda tree: 7.0, replace=True)
    assert get_objective("reg_children").evaluate(tree, 0).val_error == 7.0
    names = objective_names()
    with pytest.raises(ObjectiveError, match="unknown objective 'reg_nothing'"):
        get_objective("reg_nothing")
    assert objective_names() == names  # a lookup never registers


def test_a_primitive_without_a_module_is_declared_for_grammars_only(tmp_path):
    register_primitive("reg_gcn")
    with pytest.raises(RegistryError, match="primitive 'reg_gcn' is already registered; pass replace=True"):
        register_primitive("reg_gcn")
    with pytest.raises(RegistryError, match="primitive 'conv3x3' is already registered"):
        register_primitive("conv3x3")
    with pytest.raises(SemanticsError, match="'Cell' is already a topology"):
        register_primitive("Cell")
    grammar = tmp_path / "gcn.cfg"
    grammar.write_text('NET -> "Linear2" OP OP\nOP -> "reg_gcn" | "id"\n')
    space = load_space(str(grammar))
    assert space.count() == 4
    tree = space.parse("(NET Linear2 (OP reg_gcn) (OP id))")
    with pytest.raises(SemanticsError, match="primitive 'reg_gcn' was registered without a module"):
        compile_network(tree, num_classes=2)
    assert primitives()["reg_gcn"].factory is None

    from torch import nn

    register_primitive("reg_gcn", replace=True)(lambda channels: nn.Conv2d(channels, channels, 1))
    assert isinstance(compile_network(tree, num_classes=2), nn.Module)


def _cell_run(tmp_path: Path, scores: str) -> Path:
    """The NAS-Bench-201 cell grammar in g/cell.cfg, an objective file ``scores`` (a module name
    unique to the test: a plugin file is imported under its stem) and a plugin that registers nothing."""
    (tmp_path / "g").mkdir()
    shutil.copy(ROOT / "grammars" / "nb201_cell.cfg", tmp_path / "g" / "cell.cfg")
    (tmp_path / scores).write_text(
        "def n_convs(tree):\n    return sum(child.op.startswith('conv') for child in tree.children) / 6\n"
    )
    (tmp_path / "plugin_marker.py").write_text("MARK = 1\n")
    return tmp_path


def test_a_run_is_the_same_however_its_paths_are_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(_cell_run(tmp_path, "scores.py"))
    common = {"searcher": "random_search", "seed": 3}

    def run(space: str, objective: str, budget: int, **extra):
        config = RunConfig(search_space=space, objective=objective, max_evaluations_total=budget, **common, **extra)
        return run_search(config, "run")

    first = run("g/cell.cfg", "scores.py:n_convs", 3, plugins=["plugin_marker.py"])
    assert first.n_done == 3
    record = load_config("run")
    assert record["search_space"] == str(tmp_path / "g" / "cell.cfg")
    assert record["objective"] == f"{tmp_path}/scores.py:n_convs"
    assert record["plugins"] == [str(tmp_path / "plugin_marker.py")]

    del sys.modules["plugin_marker"]  # a new process: the resumed run loads its stored plugins again
    assert run("./g/cell.cfg", "./scores.py:n_convs", 5).n_done == 5
    assert "plugin_marker" in sys.modules
    assert load_config("run")["plugins"] == [str(tmp_path / "plugin_marker.py")]
    assert run(str(tmp_path / "g" / "cell.cfg"), f"{tmp_path}/scores.py:n_convs", 6).n_done == 6

    trials = load_trials("run")
    space = load_space("g/cell.cfg")
    for trial in trials:
        tree = space.parse(trial.architecture)
        assert trial.val_error == sum(c.op.startswith("conv") for c in tree.children) / 6

    shutil.copy("g/cell.cfg", "other.cfg")
    with pytest.raises(ConfigMismatchError, match=r"search_space: stored '.*/g/cell.cfg', given '.*/other.cfg'"):
        run("other.cfg", "scores.py:n_convs", 6)


def test_a_bad_objective_reference_fails_before_the_run_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(_cell_run(tmp_path, "bad_scores.py"))
    config = RunConfig(search_space="g/cell.cfg", objective="bad_scores.py:missing", searcher="random_search",
                       max_evaluations_total=2)
    with pytest.raises(HnasError, match=r"bad_scores.py:missing: .*bad_scores.py has no attribute 'missing'"):
        run_search(config, "run")
    assert not Path("run").exists()  # a failed start leaves no directory behind
