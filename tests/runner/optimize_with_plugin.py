"""experiments/optimize.py with the test plugin :mod:`deadly_primitives` loaded first; worker
processes import this main module too, so they know the primitives."""

import sys
from pathlib import Path

import deadly_primitives  # noqa: F401  (registers the primitives)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from optimize import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
