"""Loading plugins: files and modules, once per process, one-line errors, module:name references,
and installed plugins of the ``hnas.plugins`` entry-point group."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hnas.errors import HnasError
from hnas.objectives import get_objective, objective_names
from hnas.plugins import (
    PluginError,
    is_reference,
    load_plugin,
    load_plugins,
    normalise_reference,
    resolve_plugin,
    resolve_reference,
)

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_plugin_file_loads_once_under_its_stem(tmp_path, monkeypatch):
    plugin = _write(tmp_path / "g" / "plugin_once.py", (
        "from hnas.objectives import register_objective\n"
        "LOADS = globals().get('LOADS', 0) + 1\n"
        "register_objective('plugin_once_size', lambda: lambda tree: float(len(tree.children)))\n"
    ))
    monkeypatch.chdir(tmp_path)
    first = load_plugin("g/plugin_once.py")
    assert first is sys.modules["plugin_once"] and first.__file__ == str(plugin)
    # again, by another spelling of the same file: a no-op (a second import would register twice)
    assert load_plugin("./g/../g/plugin_once.py") is first and load_plugin(str(plugin)) is first
    assert first.LOADS == 1
    assert load_plugins(["g/plugin_once.py", str(plugin)]) == (str(plugin),)
    assert objective_names().count("plugin_once_size") == 1
    assert resolve_plugin("g/plugin_once.py") == str(plugin)


def test_a_failing_plugin_is_one_line_naming_it_and_its_line(tmp_path):
    plugin = _write(tmp_path / "plugin_broken.py", "x = 1\ny = undefined_name + x\n")
    with pytest.raises(PluginError) as caught:
        load_plugin(str(plugin))
    message = str(caught.value)
    assert message == (f"plugin {plugin} failed to load: NameError: name 'undefined_name' is not defined "
                       "(plugin_broken.py:2)")
    assert isinstance(caught.value, HnasError) and "plugin_broken" not in sys.modules
    with pytest.raises(PluginError, match=r"plugin .*plugin_missing.py: no such file"):
        load_plugin(str(tmp_path / "plugin_missing.py"))
    with pytest.raises(PluginError, match=r"plugin no_such_plugin_module: no module named 'no_such_plugin_module'"):
        load_plugin("no_such_plugin_module")
    with pytest.raises(PluginError, match="neither a .py file nor a module name"):
        load_plugin("not a module")


def test_a_plugin_file_may_not_shadow_an_imported_module(tmp_path):
    _write(tmp_path / "json.py", "")
    with pytest.raises(PluginError, match=r"a module named 'json' is already imported .*rename the plugin file"):
        load_plugin(str(tmp_path / "json.py"))


def test_module_plugins_and_references(tmp_path, monkeypatch):
    _write(tmp_path / "plugin_pkg" / "__init__.py", "")
    _write(tmp_path / "plugin_pkg" / "scores.py", (
        "def by_op(tree):\n    return {'val_error': 0.5 if tree.op == 'gcn' else 1.0, 'depth': 1}\n"
        "def with_seed(tree, seed):\n    return seed / 10\n"
        "CONSTANT = 3\n"
    ))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = load_plugin("plugin_pkg.scores")
    assert module is sys.modules["plugin_pkg.scores"] and load_plugins(["plugin_pkg.scores"]) == ("plugin_pkg.scores",)
    assert load_plugin(str(tmp_path / "plugin_pkg" / "scores.py")) is module  # the same file: not imported again
    assert resolve_reference("plugin_pkg.scores:by_op") is module.by_op
    assert is_reference("plugin_pkg.scores:by_op") and is_reference("a/b.py:fn")
    assert not is_reference("digits") and not is_reference("module:") and not is_reference(None)
    monkeypatch.chdir(tmp_path)
    assert normalise_reference("./plugin_pkg/scores.py:by_op") == f"{tmp_path}/plugin_pkg/scores.py:by_op"
    with pytest.raises(PluginError, match="plugin_pkg.scores:nothing: plugin_pkg.scores has no attribute 'nothing'"):
        resolve_reference("plugin_pkg.scores:nothing")
    with pytest.raises(PluginError, match=r"^objective no_such_module:score: no module named 'no_such_module' \(is it"):
        get_objective("no_such_module:score")  # about the objective, not a --plugin
    with pytest.raises(PluginError, match=r"^objective missing_file.py:score: no such file$"):
        get_objective("missing_file.py:score")

    from hnas.grammar import Tree

    objective = get_objective("plugin_pkg.scores:by_op")
    result = objective.evaluate(Tree("OP", "gcn"), seed=3)
    assert (result.val_error, result.extras) == (0.5, {"depth": 1})
    assert get_objective("plugin_pkg.scores:with_seed").evaluate(Tree("OP", "gcn"), seed=3).val_error == 0.3
    with pytest.raises(HnasError, match="is a function reference: it takes no options"):
        get_objective("plugin_pkg.scores:by_op", epochs=3)
    with pytest.raises(HnasError, match="plugin_pkg.scores:CONSTANT is int, not a function"):
        get_objective("plugin_pkg.scores:CONSTANT")


def test_an_installed_plugin_registers_itself_through_its_entry_point(tmp_path):
    """A real distribution (dist-info with entry_points.txt) on the path: every hnas command loads it."""
    site = tmp_path / "site"
    _write(site / "gnn_topologies.py", (
        "from hnas.semantics import register_primitive, register_topology\n"
        "def register():\n"
        "    register_topology('ep_pair', [(1, 2), (1, 2)])\n"
        "    register_primitive('ep_gcn')\n"
    ))
    _write(site / "gnn_topologies-1.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: gnn-topologies\nVersion: 1.0\n")
    _write(site / "gnn_topologies-1.0.dist-info" / "entry_points.txt", "[hnas.plugins]\ngnn = gnn_topologies:register\n")
    grammar = _write(tmp_path / "pair.cfg", 'NET -> "ep_pair" OP OP\nOP -> "ep_gcn" | "id"\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    info = subprocess.run([sys.executable, "-m", "hnas", "validate", str(grammar)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    assert info.stdout.strip() == f"{grammar}: ok (3 productions, 2 nonterminals, 4 architectures)"

    _write(site / "gnn_topologies.py", "raise RuntimeError('broken on purpose')\n")
    broken = subprocess.run([sys.executable, "-m", "hnas", "validate", str(grammar)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert broken.stderr.strip() == (
        "hnas validate: error: plugin entry point gnn = gnn_topologies:register failed to load: "
        "RuntimeError: broken on purpose (gnn_topologies.py:1)"
    )
