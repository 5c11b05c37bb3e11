"""The grammar subcommands through real subprocesses: ``python -m hnas info|sample|validate|parse``.

Every command starts a fresh interpreter, so they are all launched at once (one per core) by a
module fixture and each test checks the results of its own commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grammar_checks import write

ROOT = Path(__file__).resolve().parents[2]
PAPER_ID = "(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id) (OPS conv3x3))"
HIERARCHICAL = "nb201_variable_multi_multi"


def hnas(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "hnas", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("cli")
    return {
        "macro": write(folder, "macro.cfg", 'NET -> "Linear3" "Blk" "resBlock" "Blk"\n'),
        "cell": write(folder, "cell.cfg", 'CELL -> "Diamond2" OPS OPS OPS OPS\nOPS -> "id" | "zero" | "conv3x3"\n'),
        "bad": write(folder, "bad.cfg", 'A -> "Linear2" B C\nB -> "id"\n'),
    }


@pytest.fixture(scope="module")
def runs(files) -> dict[str, subprocess.CompletedProcess]:
    bad_line = PAPER_ID.replace("id)", "idd)", 1)
    commands = {
        "info_json": (["info", "--search_space", "nb201_fixed_1_none", "--json"], ""),
        "info_text": (["info", "--search_space", HIERARCHICAL], ""),
        "sample": (["sample", "--search_space", HIERARCHICAL, "-n", "5", "--seed", "3"], ""),
        "sample_prefix": (["sample", "--search_space", HIERARCHICAL, "-n", "2", "--seed", "3"], ""),
        "parse_bad": (["parse", "--search_space", "nb201_fixed_1_none"],
                      f"{PAPER_ID.replace(' ', '   ')}\n\n{bad_line}\n{PAPER_ID}\n"),
        "validate_shared": (["validate", files["macro"], f"Blk={files['cell']}"], ""),
        "validate_bad": (["validate", files["bad"]], ""),
        "unknown_space": (["sample", "--search_space", "no_such_space"], ""),
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(hnas, *args, stdin=stdin) for name, (args, stdin) in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def test_info_gives_exact_sizes(runs):
    result = runs["info_json"]
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["size"] == "15284" and facts["unconstrained_size"] == "15625"
    assert abs(facts["log10_size"] - 4.18424) < 1e-4
    assert (facts["productions"], facts["nonterminals"]) == (8, 4)
    text = runs["info_text"]
    assert text.returncode == 0
    assert "(10^375.84)" in text.stdout and "hierarchy depth   6" in text.stdout
    assert text.stderr == ""  # the shipped grammar states its weights: it loads without a warning


def test_sample_is_seeded_and_parse_round_trips(runs):
    first, prefix = runs["sample"], runs["sample_prefix"]
    lines = first.stdout.splitlines()
    assert first.returncode == 0 and len(lines) == 5 and all(line.startswith("(D2 ") for line in lines)
    assert len(set(lines)) == 5 and prefix.stdout.splitlines() == lines[:2]
    parsed = hnas("parse", "--search_space", HIERARCHICAL, stdin=first.stdout)
    assert parsed.returncode == 0 and parsed.stdout == first.stdout


def test_parse_prints_canonical_forms_and_stops_at_the_first_invalid_line(runs):
    result = runs["parse_bad"]
    assert result.returncode == 1
    assert result.stdout == PAPER_ID + "\n"
    assert result.stderr.strip() == (
        "hnas parse: error: line 3: position 17: OPS has no production with operator 'idd' "
        "(expected one of avg_pool, conv1x1, conv3x3, id, zero)"
    )


def test_validate_user_space_with_shared_block_and_errors(runs, files):
    ok = runs["validate_shared"]
    assert ok.returncode == 0, ok.stderr
    # 3^4 diamonds minus 5 x 5 cut ones (a zero on each branch: 5 of the 9 op pairs per branch)
    assert ok.stdout == f"{files['macro']} Blk={files['cell']}: ok (5 productions, 3 nonterminals, 56 architectures)\n"
    bad = runs["validate_bad"]
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"{files['bad']}:1: undefined nonterminal C"


def test_unknown_space_exits_1_without_traceback(runs):
    result = runs["unknown_space"]
    assert result.returncode == 1
    assert result.stderr.startswith("hnas sample: error: unknown search space 'no_such_space'")
    assert "Traceback" not in result.stderr
