"""The grammar subcommands through real subprocesses: ``python -m hnas info|sample|validate|parse``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from grammar_checks import write

ROOT = Path(__file__).resolve().parents[2]
PAPER_ID = "(CELL Cell (OPS id) (OPS zero) (OPS conv1x1) (OPS id) (OPS id) (OPS conv3x3))"


def hnas(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "hnas", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def test_info_json_gives_exact_sizes():
    result = hnas("info", "--search_space", "nb201_fixed_1_none", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["size"] == "15284" and facts["unconstrained_size"] == "15625"
    assert abs(facts["log10_size"] - 4.18424) < 1e-4
    assert (facts["productions"], facts["nonterminals"]) == (8, 4)
    result = hnas("info", "--search_space", "nb201_variable_multi_multi")
    assert result.returncode == 0
    assert "(10^375.84)" in result.stdout and "hierarchy depth   6" in result.stdout
    assert "duplicate production OPS" in result.stderr and "Traceback" not in result.stderr


def test_sample_is_seeded_and_parse_round_trips():
    first = hnas("sample", "--search_space", "nb201_variable_multi_multi", "-n", "5", "--seed", "3")
    prefix = hnas("sample", "--search_space", "nb201_variable_multi_multi", "-n", "2", "--seed", "3")
    lines = first.stdout.splitlines()
    assert first.returncode == 0 and len(lines) == 5 and all(line.startswith("(D2 ") for line in lines)
    assert len(set(lines)) == 5 and prefix.stdout.splitlines() == lines[:2]
    parsed = hnas("parse", "--search_space", "nb201_variable_multi_multi", stdin=first.stdout)
    assert parsed.returncode == 0 and parsed.stdout == first.stdout


def test_parse_prints_canonical_forms_and_stops_at_the_first_invalid_line():
    spaced = PAPER_ID.replace(" ", "   ")
    result = hnas("parse", "--search_space", "nb201_fixed_1_none", stdin=f"{spaced}\n\n{PAPER_ID.replace('id)', 'idd)', 1)}\n{PAPER_ID}\n")
    assert result.returncode == 1
    assert result.stdout == PAPER_ID + "\n"
    assert result.stderr.strip() == (
        "hnas parse: error: line 3: position 17: OPS has no production with operator 'idd' "
        "(expected one of avg_pool, conv1x1, conv3x3, id, zero)"
    )


def test_user_space_with_shared_block(tmp_path):
    macro = write(tmp_path, "macro.cfg", 'NET -> "Linear3" "Blk" "resBlock" "Blk"\n')
    cell = write(tmp_path, "cell.cfg", 'CELL -> "Diamond2" OPS OPS OPS OPS\nOPS -> "id" | "zero" | "conv3x3"\n')
    result = hnas("info", "--search_space", macro, f"Blk={cell}", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["size"] == str(3**4 - 5 * 5)  # Diamond2 is cut when each branch has a zero (5 of 9 pairs)


def test_validate_reports_file_and_line(tmp_path):
    good = write(tmp_path, "good.cfg", 'A -> "Linear2" B B\nB -> "id" | "conv3x3"\n')
    result = hnas("validate", good)
    assert result.returncode == 0 and result.stdout.startswith(f"{good}: ok (3 productions, 2 nonterminals")
    bad = write(tmp_path, "bad.cfg", 'A -> "Linear2" B C\nB -> "id"\n')
    result = hnas("validate", bad)
    assert result.returncode == 1
    assert result.stderr.strip() == f"{bad}:1: undefined nonterminal C"


def test_usage_errors_exit_nonzero_without_traceback():
    result = hnas("info", "--search_space", "no_such_space")
    assert result.returncode == 1
    assert result.stderr.startswith("hnas info: error: unknown search space 'no_such_space'")
    result = hnas("sample", "--search_space", "nb201_fixed_1_none", "-n", "-1")
    assert result.returncode == 1 and "-n must be >= 0" in result.stderr and "Traceback" not in result.stderr
