"""``hnas status W`` (where one run stands) and ``hnas runs DIR`` (a table of the runs under a folder)."""

from __future__ import annotations

import argparse


def _status(args: argparse.Namespace) -> int:
    from hnas.runner.inspect import run_status

    print(run_status(args.working_directory))  # a missing or unreadable store: RunError, a UsageError
    return 0


def _runs(args: argparse.Namespace) -> int:
    from hnas.runner.inspect import runs_table

    print(runs_table(args.directory))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``status`` and ``runs`` subcommands (read-only on run stores)."""
    parser = subparsers.add_parser(
        "status", help="progress, incumbent, running and failed trials and an ETA of one run",
        description="Where a run stands (read-only; works while it runs): progress, the incumbent, the "
        "running trials and their workers, failed trials with their messages, and an ETA from the "
        "finished trials' durations.")
    parser.add_argument("working_directory", metavar="W", help="the run directory (holding trials.sqlite)")
    parser.set_defaults(func=_status)
    parser = subparsers.add_parser("runs", help="a table of the runs under a folder",
                                   description="One line per run found under DIR (recursively).")
    parser.add_argument("directory", metavar="DIR", nargs="?", default="runs", help="(default runs)")
    parser.set_defaults(func=_runs)
