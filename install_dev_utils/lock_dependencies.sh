#!/usr/bin/env bash
# Regenerate poetry.lock after a change to pyproject.toml's dependencies.
#
# Why not plain `poetry lock`: Poetry reads PyPI through its JSON API, and the registry mirror on our
# machines serves only the simple index. So we lock against that simple index as a temporary
# explicit source in a scratch copy, then drop the source entries (the packages and their file
# hashes are PyPI's) and recompute the content hash against the real pyproject.toml; `poetry check
# --lock` then accepts the result. Usage:
#   LOCK_INDEX_URL=<your PyPI simple index URL> bash install_dev_utils/lock_dependencies.sh
# Needs poetry >= 2 on PATH (or POETRY=/path/to/poetry).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LOCK_INDEX_URL:?set LOCK_INDEX_URL to a PyPI simple index URL}"
poetry="${POETRY:-poetry}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/hnas" "$scratch/grammars"
cp pyproject.toml README.md "$scratch/"
touch "$scratch/hnas/__init__.py" "$scratch/grammars/__init__.py"
printf '\n[[tool.poetry.source]]\nname = "lock-index"\nurl = "%s"\npriority = "primary"\n' "$LOCK_INDEX_URL" >>"$scratch/pyproject.toml"
(cd "$scratch" && "$poetry" lock --no-interaction)
"$(dirname "$(command -v "$poetry")")/python" - "$scratch/poetry.lock" <<'PY'
import re
import sys
from pathlib import Path

from poetry.factory import Factory

text = Path(sys.argv[1]).read_text()
text = re.sub(r'\n\[package\.source\]\ntype = "legacy"\nurl = "[^"]*"\nreference = "lock-index"\n', "", text)
content_hash = Factory().create_poetry(Path(".")).locker._get_content_hash()
text = re.sub(r'content-hash = "[0-9a-f]+"', f'content-hash = "{content_hash}"', text)
Path("poetry.lock").write_text(text)
PY
"$poetry" check --lock
