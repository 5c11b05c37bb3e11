"""``hnas describe`` through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np

from hnas.semantics import compile_network

ROOT = Path(__file__).resolve().parents[2]
ALL_CONV3X3 = "(CELL Cell " + " ".join(["(OPS conv3x3)"] * 6) + ")"


def hnas(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hnas", "describe", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_describe_json_of_the_nb201_cell_network(tmp_path):
    drawing = tmp_path / "arch.png"
    result = hnas("--search_space", "nb201_fixed_1_none", "--json", "--draw", str(drawing), ALL_CONV3X3)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["params"] == 1_531_546
    assert report["params_by_terminal"] == {"conv3x3": 1_458_240, "head": 778, "resBlock": 72_064, "stem": 464}
    assert report["output_shape"] == [1, 10]
    assert report["cells"] == 15 and report["depth"] == 3
    assert report["objective"] == "nb201_cifar10" and report["architecture"] == ALL_CONV3X3
    # FLOPs (multiply-accumulates): stem 3*9*16*1024; stage convs 30 * 16*9*16*1024, 30 * 32*9*32*256,
    # 30 * 64*9*64*64; resBlocks; pools; head. NAS-Bench-201 lists 220.11 MFLOPs for this cell.
    assert 219e6 < report["flops"] < 221e6
    assert drawing.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def topology_nodes_on_longest_path(tree) -> int:
    return (1 if tree.children else 0) + max((topology_nodes_on_longest_path(c) for c in tree.children), default=0)


def test_describe_reads_stdin_and_prints_text(hierarchical_space):
    tree = hierarchical_space.sample(np.random.default_rng(1))
    text = hierarchical_space.to_string(tree)
    # grammar files given to --search_space (several items), ARCH "-" last
    grammar = str(ROOT / "grammars" / "nb201_variable_multi_multi.cfg")
    result = hnas("--objective", "nb201_ImageNet16-120", "--search_space", grammar, "-", stdin=text + "\n")
    assert result.returncode == 0, result.stderr
    rows = {line[:13].strip(): line[14:] for line in result.stdout.splitlines()}
    assert rows["architecture"] == text
    assert rows["objective"] == "nb201_ImageNet16-120 (120 classes, input 3x16x16)"
    assert rows["output shape"] == "1x120"
    assert rows["depth"] == str(topology_nodes_on_longest_path(tree))
    assert rows["cells"] == str(sum(node.op == "Cell" for node in tree.walk()))
    network = compile_network(hierarchical_space.parse(text), num_classes=120, in_channels=3)
    assert int(rows["params"].replace(",", "")) == sum(p.numel() for p in network.parameters())


def test_describe_errors_are_one_line(side_by_side):
    result, bad = side_by_side(
        partial(hnas, "--search_space", "nb201_fixed_1_none", "--objective", "imagenet", ALL_CONV3X3),
        partial(hnas, "--search_space", "nb201_fixed_1_none", "(CELL Cell (OPS conv5x5))"),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "hnas describe: error: unknown objective 'imagenet'; known: digits, addnist_mini, nb201_cifar10, "
        "nb201_cifar100, nb201_ImageNet16-120, nb201_cifarTile, nb201_addNIST"
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("hnas describe: error: ") and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_failing_plugin_primitive_and_an_unknown_image_format_are_one_line(tmp_path, side_by_side):
    (tmp_path / "broken_op.py").write_text(
        "from hnas.semantics import register_primitive\n"
        "@register_primitive('broken_op')\n"
        "def factory(channels):\n"
        "    raise TypeError('this factory is broken')\n"
    )
    (tmp_path / "broken.cfg").write_text('S -> "Linear1" O\nO -> "broken_op"\n')
    broken, drawing, function = side_by_side(
        partial(hnas, "--plugin", str(tmp_path / "broken_op.py"), "--search_space", str(tmp_path / "broken.cfg"),
                "(S Linear1 (O broken_op))"),
        partial(hnas, "--search_space", "nb201_fixed_1_none", "--draw", str(tmp_path / "arch.txt"), ALL_CONV3X3),
        partial(hnas, "--search_space", "nb201_fixed_1_none", "--objective", "scores.py:score", ALL_CONV3X3),
    )
    assert function.returncode == 1 and function.stderr.startswith(
        "hnas describe: error: --objective scores.py:score: describe takes a training objective, whose dataset gives "
        "the input shape (digits, ")
    assert broken.returncode == 1 and broken.stderr.strip() == (
        "hnas describe: error: the network fails on a 3x32x32 input of nb201_cifar10: TypeError: this factory is broken"
    )
    assert drawing.returncode == 1 and drawing.stdout == ""
    assert drawing.stderr.startswith(f"hnas describe: error: cannot write the drawing {tmp_path / 'arch.txt'}: "
                                     "Format 'txt' is not supported (supported formats: ")
    assert len(drawing.stderr.strip().splitlines()) == 1
