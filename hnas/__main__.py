"""``python -m hnas``: the command line."""

from hnas.cli import main

raise SystemExit(main())
