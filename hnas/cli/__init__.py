"""The ``hnas`` command line: one module per group of subcommands, each with ``register(subparsers)``.

A registered subcommand sets ``func(args) -> int`` on its parser; errors meant for the user are
raised as :class:`hnas.errors.UsageError` (or ``hnas.grammar.GrammarError``) and printed without a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hnas.errors import UsageError

__all__ = ["main", "UsageError"]

_COMMAND_MODULES = ("hnas.cli.grammar_commands", "hnas.cli.describe", "hnas.cli.status", "hnas.cli.task")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hnas", description="Hierarchical search spaces from context-free grammars: inspect, sample, parse, describe."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hnas.grammar.errors import GrammarError

    try:
        return int(args.func(args) or 0)
    except (UsageError, GrammarError) as error:
        print(f"hnas {args.command}: error: {error}", file=sys.stderr)
        return getattr(error, "code", 1)
    except BrokenPipeError:
        return 0
