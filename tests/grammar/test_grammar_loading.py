"""Grammar files: notation, multi-file spaces, shared blocks and every error with file and line."""

from __future__ import annotations

import pytest

from hnas.grammar import GrammarError, load_space, space_names

from grammar_checks import write

CELL = 'CELL -> "Cell" OPS OPS OPS OPS OPS OPS\nOPS -> "id" | "zero" | "conv3x3" | "conv1x1" | "avg_pool"\n'


def test_named_spaces_load_with_their_structure(hierarchical, cell_space):
    assert {"nb201_variable_multi_multi", "nb201_fixed_1_none"} <= set(space_names())
    assert hierarchical.grammar.start == "D2"
    assert len(hierarchical.grammar.rules) == 11
    assert hierarchical.hierarchy_depth == 6  # D2, D1, DOWN, CELL, OPS Linear1, CONVBLOCK
    assert cell_space.grammar.shared == {"SharedCell": "CELL"}
    assert cell_space.hierarchy_depth == 3  # NETWORK, STAGE, CELL


def test_duplicate_production_warns_and_becomes_weight(tmp_path):
    path = write(tmp_path, "dup.cfg", 'A -> "Linear1" B\nB -> "id" | "conv3x3"\nB -> "id"  # again\n')
    with pytest.warns(UserWarning, match=r"dup.cfg:3: duplicate production B -> \"id\".*weight 2"):
        space = load_space(path)
    (first, second) = space.grammar.rules["B"]
    assert (first.op, first.weight, second.op, second.weight) == ("id", 2, "conv3x3", 1)
    assert space.count() == 2


def test_notation_comments_semicolons_continuations_single_quotes(tmp_path):
    path = write(tmp_path, "n.cfg", "# comment\nA -> 'Linear2' B C  # tail # comment\n| \"id\"\nB -> \"id\" ; C -> \"conv1x1\" | 'zero'\n")
    space = load_space(path)
    assert space.grammar.start == "A"
    assert [p.op for p in space.grammar.rules["A"]] == ["Linear2", "id"]
    assert space.count() == 2  # Linear2(id, conv1x1) and id: zero may not cut a Linear edge
    assert space.count(constrained=False) == 3


def test_several_files_are_concatenated(tmp_path):
    macro = write(tmp_path, "macro.cfg", 'NET -> "Linear2" CELL CELL\n')
    cell = write(tmp_path, "cell.cfg", CELL)
    space = load_space([macro, cell])
    assert space.count() == 15284**2
    assert space.grammar.files == (macro, cell)


def test_shared_terminal_maps_to_one_derivation_everywhere(tmp_path):
    macro = write(tmp_path, "macro.cfg", 'NET -> "Linear3" "Blk" "resBlock" "Blk"\n')
    cell = write(tmp_path, "cell.cfg", CELL)
    space = load_space([macro, f"Blk={cell}"])
    assert space.count() == 15284
    tree = space.parse("(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id) (OPS conv3x3))")
    assert tree.children[0] is tree.children[2] and tree.children[1].op == "resBlock"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('A -> "id"\nB "id"\n', 2, "expected a rule"),
        ('A -> "id" |\n', 1, "empty alternative"),
        ('A -> B\nB -> "id"\n', 1, "must start with a quoted operator terminal"),
        ('A -> "id\n', 1, "unterminated quote"),
        ('A -> "id" $\n', 1, "unexpected character"),
        ('A -> "Linear1" B\n', 1, "undefined nonterminal B"),
        ('A -> "id"\nB -> "id"\n', 2, "unreachable rule for B"),
        ('A -> "Linear1" A\n', 1, "cannot derive any finite architecture"),
        ('A -> "Linear1" Z\nZ -> "zero"\n', 1, "cannot derive any finite architecture"),
        ('A -> "Foo" B\nB -> "id"\n', 1, "unknown terminal 'Foo'"),
        ('A -> "Linear2" B "bogus"\nB -> "id"\n', 1, "unknown terminal 'bogus'"),
        ('A -> "Linear2" B\nB -> "id"\n', 1, "Linear2 is a topology with 2 edges but has 1 children"),
        ('A -> "id" B\nB -> "id"\n', 1, "id is a primitive but has 1 children"),
        ('A -> "Linear2" "id" "Cell"\n', 1, "topology 'Cell' used as a leaf"),
        ('A -> "Linear99999" B\nB -> "id"\n', 1, "at most 256 edges"),
        ('| "id"\n', 1, "continues no rule"),
        ('A -> "id" -> "x"\n', 1, "unexpected '->'"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, "bad.cfg", text)
    with pytest.raises(GrammarError, match=message) as info:
        load_space(path)
    assert info.value.file == path and info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}")


def test_all_problems_are_listed_one_per_line(tmp_path):
    path = write(tmp_path, "bad.cfg", 'A -> "Linear2" B C\nB -> "nope"\nC -> "Cell" B\n')
    with pytest.raises(GrammarError) as info:
        load_space(path)
    lines = str(info.value).splitlines()
    assert lines == [
        f"{path}:2: unknown terminal 'nope': neither a registered topology nor a primitive nor a shared terminal",
        f"{path}:3: Cell is a topology with 6 edges but has 1 children in C -> \"Cell\" B",
    ]


def test_shared_block_errors(tmp_path):
    macro = write(tmp_path, "macro.cfg", 'NET -> "Linear2" "Blk" "Blk"\n')
    zero_cell = write(tmp_path, "zero.cfg", 'CELL -> "zero" | "id"\n')
    with pytest.raises(GrammarError, match="must not derive 'zero'") as info:
        load_space([macro, f"Blk={zero_cell}"])
    assert (info.value.file, info.value.line) == (zero_cell, 1)
    clash = write(tmp_path, "clash.cfg", 'NET -> "Linear1" "Blk"\n')
    same_names = write(tmp_path, "same.cfg", 'NET -> "id"\n')
    with pytest.raises(GrammarError, match="nonterminal NET is defined in two grammars"):
        load_space([clash, f"Blk={same_names}"])
    op = write(tmp_path, "op.cfg", 'NET -> "Blk"\n')
    cell = write(tmp_path, "cell.cfg", CELL)
    with pytest.raises(GrammarError, match="shared terminal Blk cannot be an operator"):
        load_space([op, f"Blk={cell}"])
    unused = write(tmp_path, "unused.cfg", 'NET -> "id"\n')
    with pytest.raises(GrammarError, match="sub-grammar for Blk, which the grammar never uses"):
        load_space([unused, f"Blk={cell}"])


def test_missing_files_and_unknown_names_are_clear(tmp_path):
    with pytest.raises(GrammarError, match="unknown search space 'nb201_nope'"):
        load_space("nb201_nope")
    missing = str(tmp_path / "missing.cfg")
    with pytest.raises(GrammarError, match="cannot read grammar file") as info:
        load_space(missing)
    assert info.value.file == missing
    empty = write(tmp_path, "empty.cfg", "# nothing\n")
    with pytest.raises(GrammarError, match="the grammar has no rules") as info:
        load_space(empty)
    assert str(info.value).startswith(f"{empty}:1: ")
    latin = tmp_path / "latin.cfg"
    latin.write_bytes('A -> "Linear1" B\nB -> "id" # café\n'.encode("latin-1"))
    with pytest.raises(GrammarError) as info:
        load_space(str(latin))
    assert str(info.value) == f"{latin}:2: not UTF-8 text: invalid continuation byte (byte 33)"


def test_shared_blocks_that_use_each_other_are_located(tmp_path):
    main = write(tmp_path, "m.cfg", 'N -> "Linear2" "B1" "B2"\n')
    b1 = write(tmp_path, "b1.cfg", 'P -> "Linear1" "B2" | "id"\n')
    b2 = write(tmp_path, "b2.cfg", 'Q -> "Linear1" "B1" | "conv3x3"\n')
    with pytest.raises(GrammarError, match="the shared building blocks P, Q use each other") as info:
        load_space([main, f"B1={b1}", f"B2={b2}"])
    assert (info.value.file, info.value.line) == (b1, 1)


def test_recursive_grammar_is_infinite_but_samples(tmp_path):
    import numpy as np

    path = write(tmp_path, "rec.cfg", 'A -> "Linear2" B A | "id" | "id"\nB -> "conv3x3" | "zero"\n')
    with pytest.warns(UserWarning):
        space = load_space(path)
    assert not space.is_finite
    assert space.hierarchy_depth == 8  # capped
    with pytest.raises(GrammarError, match="the space is infinite"):
        space.count()
    trees = [space.sample(np.random.default_rng(seed)) for seed in range(50)]
    assert all(space.parse(space.to_string(t)) == t for t in trees)
    assert max(t.depth() for t in trees) > 1


def test_grammar_layer_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, hnas.grammar; hnas.grammar.load_space('nb201_fixed_1_none'); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_grammar_errors_pickle_with_their_location(tmp_path):
    import pickle

    path = write(tmp_path, "bad.cfg", 'A -> "Linear2" B C\nB -> "nope"\nC -> "id"\nD -> "id"\n')
    with pytest.raises(GrammarError) as info:
        load_space(path)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.file, copy.line, str(copy)) == (path, 2, str(info.value))
    assert len(str(copy).splitlines()) == 2  # the unknown terminal and the unreachable rule D
