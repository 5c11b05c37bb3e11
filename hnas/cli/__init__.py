"""The ``hnas`` command line: one module per group of subcommands, each with ``register(subparsers)``.

A registered subcommand sets ``func(args) -> int`` on its parser; errors meant for the user are
raised as :class:`hnas.errors.HnasError` (``UsageError``, ``GrammarError``, ...) and printed without
a traceback. Every subcommand takes ``--plugin MODULE_OR_FILE.py`` (repeatable), loaded with the
installed ``hnas.plugins`` entry points before the subcommand runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from hnas.errors import EXIT_INTERRUPTED, HnasError, UsageError

__all__ = ["main", "UsageError", "add_plugin_argument", "bounded", "EXIT_INTERRUPTED", "run_interruptibly"]

_COMMAND_MODULES = (
    "hnas.cli.grammar_commands", "hnas.cli.describe", "hnas.cli.datasets", "hnas.cli.salvage",
    "hnas.cli.status", "hnas.cli.task",
)  # fmt: skip

PLUGIN_HELP = (
    "a Python module or .py file that registers topologies, primitives, objectives, searchers, ... "
    "when imported (repeatable)"
)


def run_interruptibly(prog: str, main: Callable[[], int]) -> int:
    """``main()``'s exit status, or :data:`EXIT_INTERRUPTED` after Ctrl-C with one line, not a traceback."""
    try:
        return main()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def bounded(kind: Callable[[str], float], low: float, high: float | None = None) -> Callable[[str], float]:
    """An argparse ``type``: ``kind(text)`` within ``[low, high]`` (no upper bound when ``high`` is
    None), else an error naming the bound, which argparse reports with the flag."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    """``--plugin MODULE_OR_FILE.py`` (repeatable): collected in ``args.plugin``."""
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE.py", help=PLUGIN_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hnas", description="Hierarchical search spaces from context-free grammars: inspect, sample, parse, describe."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for subparser in subparsers.choices.values():
        add_plugin_argument(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; exit status 0, 1 for an error (one line), 130 when interrupted."""
    try:
        args = build_parser().parse_args(argv)
        from hnas.plugins import load_plugins

        try:
            load_plugins(args.plugin)
            return int(args.func(args) or 0)
        except HnasError as error:
            print(f"hnas {args.command}: error: {error}", file=sys.stderr)
            return getattr(error, "code", 1)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("hnas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
