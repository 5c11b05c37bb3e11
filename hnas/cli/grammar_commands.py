"""Grammar subcommands: ``info``, ``sample``, ``validate``, ``parse``.

``--search_space`` takes a registered name (``nb201_variable_multi_multi``, ``nb201_fixed_1_none``)
or grammar files: plain paths are concatenated (the first holds the start symbol) and
``TERMINAL=path.cfg`` maps a shared terminal to a sub-grammar, e.g.
``--search_space macro.cfg blocks.cfg SharedCell=cell.cfg``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from hnas.cli import bounded
from hnas.grammar import GrammarError, SearchSpace, load_space
from hnas.grammar.analysis import MAX_COUNT_DIGITS, power_of_ten

__all__ = ["register", "add_search_space_argument", "space_from_args"]

_SPACE_HELP = "a registered name, or grammar files: paths (the first holds the start symbol) and TERMINAL=path.cfg items"


def add_search_space_argument(parser: argparse.ArgumentParser) -> None:
    """``--search_space NAME | FILE... [TERMINAL=FILE ...]`` (required)."""
    parser.add_argument("--search_space", nargs="+", required=True, metavar="SPACE", help=_SPACE_HELP)


def space_from_args(items: list[str], command: str) -> SearchSpace:
    """Load the space; grammar warnings (duplicate productions) go to stderr as one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        space = load_space(items)
    for warning in caught:
        print(f"hnas {command}: warning: {warning.message}", file=sys.stderr)
    return space


def register(subparsers: argparse._SubParsersAction) -> None:
    info = subparsers.add_parser("info", help="size and shape of a search space")
    add_search_space_argument(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--exact", action="store_true",
                      help=f"print sizes of more than {_DIGITS:,} digits in full too (default: log10 only)")
    info.set_defaults(func=_info)

    sample = subparsers.add_parser("sample", help="sample architectures (one bracket string per line)")
    add_search_space_argument(sample)
    sample.add_argument("-n", type=bounded(int, 1), default=1, help="number of samples (default 1)")
    sample.add_argument("--seed", type=bounded(int, 0), default=0, help="random seed (default 0)")
    sample.set_defaults(func=_sample)

    validate = subparsers.add_parser("validate", help="check grammar files; exit 1 with file:line messages")
    validate.add_argument("files", nargs="+", metavar="FILE", help="grammar files, as for --search_space")
    validate.set_defaults(func=_validate)

    parse = subparsers.add_parser("parse", help="read bracket strings from stdin, print their canonical form")
    add_search_space_argument(parse)
    parse.set_defaults(func=_parse)


_DIGITS = 4300
"""Sizes with more digits are given as log10 unless ``--exact`` (Python's default limit for int -> str)."""


@contextmanager
def _any_digits() -> Iterator[None]:
    """Lift Python's limit on the digits of int -> str conversions, for this block only."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(before)


def _size(space: SearchSpace, constrained: bool, exact: bool) -> tuple[str | None, float | None]:
    """(the exact size as a string, or None when it is too long to print or to count; its log10).
    An infinite space is ("inf", None)."""
    if not space.is_finite:
        return "inf", None
    log10 = space.log10_count(constrained)
    try:
        size = space.count(constrained)
    except GrammarError:  # more than hnas.grammar.analysis.MAX_COUNT_DIGITS digits
        return None, log10
    if size >= 10**_DIGITS and not exact:
        return None, log10
    with _any_digits():
        return str(size), log10


def _describe(space: SearchSpace, exact: bool = False) -> dict[str, object]:
    grammar = space.grammar
    size, log10 = _size(space, True, exact)
    unconstrained, unconstrained_log10 = _size(space, False, exact)
    return {
        "name": space.name,
        "size": size,
        "log10_size": log10,
        "unconstrained_size": unconstrained,
        "log10_unconstrained_size": unconstrained_log10,
        "productions": grammar.n_productions,
        "nonterminals": len(grammar.rules),
        "start": grammar.start,
        "shared": dict(grammar.shared),
        "hierarchy_depth": space.hierarchy_depth,
        "recursive": not space.is_finite,
    }


def _size_line(size: str | None, log10: float | None) -> str:
    if log10 is None:
        return str(size)
    if size is not None:
        return f"{size} ({power_of_ten(log10)})"
    if math.floor(log10) + 1 <= MAX_COUNT_DIGITS:
        return f"{power_of_ten(log10)} ({math.floor(log10) + 1:,} digits; --exact prints them)"
    return f"{power_of_ten(log10)} (more than {MAX_COUNT_DIGITS:,} digits: too large to count exactly)"


def _info(args: argparse.Namespace) -> int:
    facts = _describe(space_from_args(args.search_space, "info"), args.exact)
    if args.json:
        print(json.dumps(facts))
        return 0
    print(f"search space      {facts['name']}")
    print(f"size              {_size_line(facts['size'], facts['log10_size'])}")
    print(f"unconstrained     {_size_line(facts['unconstrained_size'], facts['log10_unconstrained_size'])}")
    print(f"productions       {facts['productions']}")
    print(f"nonterminals      {facts['nonterminals']} (start {facts['start']})")
    if facts["shared"]:
        print("shared blocks     " + ", ".join(f"{t} -> {nt}" for t, nt in facts["shared"].items()))
    capped = " (capped: the grammar is recursive, so its trees may nest deeper)" if facts["recursive"] else ""
    print(f"hierarchy depth   {facts['hierarchy_depth']}{capped}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise GrammarError(f"-n must be >= 0, got {args.n}")
    space = space_from_args(args.search_space, "sample")
    rng = np.random.default_rng(args.seed)
    out = sys.stdout
    for _ in range(args.n):
        out.write(space.to_string(space.sample(rng)) + "\n")
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        space = space_from_args(args.files, "validate")
    except GrammarError as error:
        for line in str(error).splitlines():
            print(line, file=sys.stderr)
        return 1
    if not space.is_finite:
        size = "infinitely many architectures"
    elif space.log10_count() < 6:
        size = f"{space.count()} architecture{'s' if space.count() != 1 else ''}"
    else:
        size = f"{power_of_ten(space.log10_count())} architectures"
    print(f"{' '.join(args.files)}: ok ({space.grammar.n_productions} productions, "
          f"{len(space.grammar.rules)} nonterminals, {size})")
    return 0


def _parse(args: argparse.Namespace) -> int:
    space = space_from_args(args.search_space, "parse")
    for lineno, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            tree = space.parse(line)
        except GrammarError as error:
            raise GrammarError(f"line {lineno}: {error}") from None
        print(space.to_string(tree))
    return 0


