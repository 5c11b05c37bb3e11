"""The grammar subcommands through real subprocesses: ``python -m hnas info|sample|validate|parse``.

Every command starts a fresh interpreter, so they are all launched at once (one per core) by a
module fixture and each test checks the results of its own commands.
"""

from __future__ import annotations

import json
import math
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
        "weights": write(folder, "weights.cfg", 'A -> "Linear1" B\nB -> "id" [2] | "conv3x3"\n'),
        "d15": write(folder, "d15.cfg", _doubling(15)),
        "d40": write(folder, "d40.cfg", _doubling(40)),
        "recursive": write(folder, "recursive.cfg", 'S -> "Linear2" S O | "Linear1" O\nO -> "conv3x3" | "id"\n'),
    }


def _doubling(n: int) -> str:
    """A_i -> Linear2 A_{i+1} A_{i+1} | id: c_i = c_{i+1}^2 + 1 architectures, A_n has 2."""
    return "\n".join([f'A{i} -> "Linear2" A{i + 1} A{i + 1} | "id"' for i in range(n)] + [f'A{n} -> "id" | "conv3x3"'])


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
        "validate_weights": (["validate", files["weights"]], ""),
        "info_d15": (["info", "--search_space", files["d15"]], ""),
        "info_d15_exact": (["info", "--search_space", files["d15"], "--exact"], ""),
        "info_d15_json": (["info", "--search_space", files["d15"], "--json"], ""),
        "info_d40": (["info", "--search_space", files["d40"], "--exact"], ""),
        "info_recursive": (["info", "--search_space", files["recursive"]], ""),
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
    assert "(10^375.84)" in text.stdout and "hierarchy depth   6\n" in text.stdout and not facts["recursive"]
    recursive = runs["info_recursive"].stdout
    assert "size              inf\n" in recursive
    assert "hierarchy depth   8 (capped: the grammar is recursive, so its trees may nest deeper)\n" in recursive
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


def test_validate_names_file_and_line_of_a_weight_mixup(runs, files):
    result = runs["validate_weights"]
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{files['weights']}:2: B mixes weighted and unweighted alternatives: this one has none, the first "
        f"({files['weights']}:2) has one; give every alternative of B a weight, or none")


def test_info_gives_sizes_beyond_4300_digits_as_log10_and_exactly_on_request(runs):
    size = 2
    for _ in range(15):
        size = size * size + 1  # 11,595 digits
    log10 = math.log10(size)
    assert len(_digits(size)) == 11_595
    plain = runs["info_d15"]
    assert plain.returncode == 0 and plain.stderr == ""
    assert f"size              10^{log10:.2f} (11,595 digits; --exact prints them)\n" in plain.stdout
    exact = runs["info_d15_exact"]
    assert exact.returncode == 0
    line = next(x for x in exact.stdout.splitlines() if x.startswith("size"))
    assert line == f"size              {_digits(size)} (10^{log10:.2f})"
    facts = json.loads(runs["info_d15_json"].stdout)
    assert facts["size"] is None and facts["log10_size"] == pytest.approx(log10)


def test_info_on_a_doubly_exponential_space_stops_at_the_count_bound(runs):
    result = runs["info_d40"]
    assert result.returncode == 0 and result.stderr == ""
    assert "size              10^389033209449.65 (more than 100,000 digits: too large to count exactly)" in result.stdout


def _digits(n: int) -> str:
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(n)
    finally:
        sys.set_int_max_str_digits(old)
