"""``hnas salvage``: copy the readable trials of a damaged run store into a new store."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``salvage`` subcommand."""
    parser = subparsers.add_parser(
        "salvage",
        help="copy the readable trials of a damaged run store into a new store",
        description="Copy every readable trial, the configuration and (when consistent) the searcher "
        "state of the run store in WORKING_DIRECTORY into a new store. By default in place: the damaged "
        "files are kept as trials.sqlite.damaged (-wal, -shm) and the same optimize.py command then "
        "resumes the run. With --output the new store goes to that directory instead (resume with "
        "--working_directory OUTPUT) and the damaged one is left untouched.",
    )
    parser.add_argument("working_directory", metavar="WORKING_DIRECTORY", help="the run directory")
    parser.add_argument("--output", metavar="DIR", help="write the new store here instead of in place")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hnas.runner.salvage import salvage_store

    print(salvage_store(args.working_directory, args.output))
    return 0
