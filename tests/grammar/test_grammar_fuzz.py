"""Hypothesis: malformed grammar files and tree strings raise GrammarError and nothing else; every
problem found in a grammar file is located at file:line."""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hnas.grammar import GrammarError, Tree, load_space

GRAMMAR_TOKENS = st.sampled_from(
    ["A", "B", "OPS", "CELL", "->", "|", ";", "#", "\n", " ", '"', "'", '"id"', '"zero"', '"conv3x3"', '"Linear1"',
     '"Linear2"', '"Cell"', '"Residual2"', '"resBlock"', '"Blk"', '"Foo"', '"Linear0"', '"Linear300"', "(", "$",
     "é", "\t", '""', '"a b"', "[0.5]", "[2]", "[0]", "[-1]", "[nan]", "[x", "]", '"Linear2" B B [3]']
)
TREE_TOKENS = st.sampled_from(
    ["(", ")", " ", "CELL", "OPS", "NETWORK", "STAGE", "Cell", "Linear5", "id", "zero", "conv3x3", "avg_pool",
     "SharedCell", "resBlock", "x", "((", "))", "\n", "D2", "C", "Linear3"]
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(tokens=st.lists(GRAMMAR_TOKENS, max_size=40), raw=st.text(max_size=30), blk=st.lists(GRAMMAR_TOKENS, max_size=12))
def test_malformed_grammar_files_raise_grammar_error_only(tokens, raw, blk):
    with tempfile.TemporaryDirectory() as folder:
        main = Path(folder) / "main.cfg"
        main.write_text(" ".join(tokens) + raw, encoding="utf-8")
        block = Path(folder) / "blk.cfg"
        block.write_text(" ".join(blk), encoding="utf-8")
        for spec in ([str(main)], [str(main), f"Blk={block}"]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    space = load_space(spec)
                except GrammarError as error:
                    files = "|".join(re.escape(str(f)) for f in (main, block))
                    for line in str(error).splitlines():
                        assert re.match(rf"({files}):[1-9][0-9]*(:[1-9][0-9]*)?: \S", line), line
                    assert error.file in (str(main), str(block)) and error.line >= 1
                    continue
            assert space.grammar.start in space.grammar.rules


@SETTINGS
@given(tokens=st.lists(TREE_TOKENS, max_size=60))
def test_malformed_tree_strings_raise_grammar_error_only(cell_space, hierarchical, tokens):
    text = " ".join(tokens)
    for space in (cell_space, hierarchical):
        try:
            tree = space.parse(text)
        except GrammarError as error:
            assert error.position is None or 1 <= error.position <= len(text) + 1
            continue
        assert isinstance(tree, Tree) and tree in space


@SETTINGS
@given(cut=st.integers(min_value=0, max_value=2000), insert=TREE_TOKENS, seed=st.integers(0, 2**32 - 1))
def test_damaged_real_strings_raise_grammar_error_only(hierarchical, cut, insert, seed):
    import numpy as np

    text = hierarchical.to_string(hierarchical.sample(np.random.default_rng(seed)))
    cut %= len(text)
    for damaged in (text[:cut], text[:cut] + insert + text[cut:], text[:cut] + text[cut + 1 :]):
        try:
            tree = hierarchical.parse(damaged)
        except GrammarError:
            continue
        assert tree in hierarchical
