"""Saving and loading architectures; exporting compiled networks with torch.export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hnas.grammar import load_space
from hnas.grammar.tree import Tree
from hnas.semantics import SemanticsError, compile_network, load_architecture, save_architecture
from tests.semantics.conftest import cell


@pytest.mark.filterwarnings("ignore:.*duplicate production")
def test_save_and_load_give_the_same_outputs(hierarchical_space, tmp_path):
    tree = hierarchical_space.sample(np.random.default_rng(4))
    network = compile_network(tree, num_classes=20, rng=np.random.default_rng(9))
    x = torch.randn(3, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    network(x).sum().backward()  # one step of training changes BN running statistics
    with torch.no_grad():
        for p in network.parameters():
            p.sub_(0.1 * p.grad)
    network.eval()
    expected = network(x)
    path = tmp_path / "arch.pt"
    save_architecture(path, hierarchical_space, tree, network)
    loaded_tree, loaded = load_architecture(path)
    assert loaded_tree == tree and loaded.num_classes == 20
    torch.testing.assert_close(loaded.eval()(x), expected, rtol=0, atol=0)
    _, again = load_architecture(path, hierarchical_space)
    torch.testing.assert_close(again.eval()(x), expected, rtol=0, atol=0)


def test_a_user_space_reloads_from_another_folder(tmp_path, monkeypatch):
    folder = tmp_path / "my grammars"  # a space in the path, loaded by relative paths
    folder.mkdir()
    (folder / "macro.cfg").write_text('NET -> "Linear2" "SharedCell" "SharedCell"\n')
    (folder / "cell.cfg").write_text('CELL -> "Cell" OPS OPS OPS OPS OPS OPS\nOPS -> "id" | "conv3x3" | "zero"\n')
    monkeypatch.chdir(folder)
    space = load_space(["macro.cfg", "SharedCell=cell.cfg"])
    tree = space.sample(np.random.default_rng(0))
    network = compile_network(tree, num_classes=3, rng=np.random.default_rng(1)).eval()
    save_architecture(tmp_path / "arch.pt", space, tree, network)
    monkeypatch.chdir(tmp_path)
    loaded_tree, loaded = load_architecture(tmp_path / "arch.pt")
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert loaded_tree == tree
    torch.testing.assert_close(loaded.eval()(x), network(x), rtol=0, atol=0)


def test_loading_a_file_that_is_not_an_architecture_is_a_clear_error(tmp_path):
    with pytest.raises(SemanticsError, match="no such architecture file"):
        load_architecture(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(SemanticsError, match="not a saved hnas architecture"):
        load_architecture(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(SemanticsError, match="not a saved hnas architecture"):
        load_architecture(tmp_path / "text.pt")


def test_torch_export_round_trip(tmp_path):
    # a Dag (Residual2 with a cell and resBlocks) and Sequentials, on a small input
    first = cell("conv3x3", "avg_pool", "id", "zero", "conv1x1", "id")
    down = Tree("DOWN", "Residual2", (first, Tree(None, "resBlock"), Tree(None, "resBlock")))
    second = cell("id", "conv3x3", "avg_pool", "conv1x1", "zero", "id")
    network = compile_network(Tree("NET", "Linear2", (down, second)), num_classes=6).eval()
    assert network.body[0].topology == "Residual2" and network.body[1].topology == "Cell"
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    program = torch.export.export(network, (x,))
    path = tmp_path / "net.pt2"
    torch.export.save(program, path)
    restored = torch.export.load(path).module()
    torch.testing.assert_close(restored(x), network(x))
