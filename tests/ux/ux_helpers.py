"""Running the command lines as users do (real subprocesses in a temporary folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAILING_GRAMMAR = 'NET -> "Linear5" "resBlock" "resBlock" "resBlock" "resBlock" OP\nOP -> "avg_pool" | "conv3x3"\n'
"""Four resBlocks take the 8x8 digits to 1x1: with --train_subset 1 (a batch of one image) every
network fails in training (BatchNorm needs more than one value per channel)."""


def run_script(script: str, *args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python experiments/<script> args`` (or ``python -m hnas args`` for ``script="hnas"``)."""
    if script == "hnas":
        command = [sys.executable, "-m", "hnas"]
    else:
        command = [sys.executable, str(ROOT / "experiments" / script)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
