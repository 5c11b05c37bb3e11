"""``python -m hnas``: the command line (Ctrl-C while it imports is one line too)."""

import sys

try:
    from hnas.cli import main
except KeyboardInterrupt:
    print("hnas: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
