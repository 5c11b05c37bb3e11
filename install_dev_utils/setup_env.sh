#!/usr/bin/env bash
# Create (or update) the virtual environment .venv with hnas and its test tools.
# Usage: bash install_dev_utils/setup_env.sh [EXTRAS]   (default extras: dev)
# torch is pinned to exactly 2.13.0: on our machines pip finds a local CPU build for that pin.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
echo "hnas environment ready: $(.venv/bin/python -c 'import sys, torch, hnas; print(f"python {sys.version.split()[0]}, torch {torch.__version__}, hnas {hnas.__version__}")')"
