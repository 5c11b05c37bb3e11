"""``hnas describe``: parameters, FLOPs, output shape, cells and depth of one architecture."""

from __future__ import annotations

import argparse
import json
import sys

from hnas.errors import HnasError, UsageError
from hnas.cli.grammar_commands import add_search_space_argument, space_from_args

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``describe`` subcommand (torch is imported only when it runs)."""
    parser = subparsers.add_parser(
        "describe",
        help="describe one architecture (parameters, FLOPs, output shape, cells, depth)",
        description="Compile one architecture for an objective's classes and input shape and report "
        "parameters, FLOPs, output shape, number of cells and hierarchy depth.",
    )
    add_search_space_argument(parser)
    parser.add_argument(
        "--objective",
        default="nb201_cifar10",
        help="the objective whose classes and input shape the network gets (default %(default)s)",
    )
    parser.add_argument(
        "architecture", metavar="ARCH", nargs="?", help="bracket string of the tree, or - to read it from stdin"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--draw", metavar="PNG", help="draw the macro graph and one cell into this image")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hnas.objectives import TASKS, task_shape  # an unknown name is an ObjectiveError, a UsageError
    from hnas.plugins import is_reference
    from hnas.semantics.describe import describe, draw_architecture

    if is_reference(args.objective):
        raise UsageError(f"--objective {args.objective}: describe takes a training objective, whose dataset gives "
                         f"the input shape ({', '.join(TASKS)}); a function objective has no dataset")
    num_classes, input_shape = task_shape(args.objective)
    items, architecture = list(args.search_space), args.architecture
    if architecture is None and len(items) > 1 and (items[-1] == "-" or items[-1].lstrip().startswith("(")):
        architecture = items.pop()  # --search_space takes several items: ARCH may have been swallowed
    if architecture is None:
        raise UsageError("no architecture given: pass ARCH (a bracket string, or - for stdin)")
    text = sys.stdin.read() if architecture == "-" else architecture
    if not text.strip():
        raise UsageError("no architecture given (ARCH is empty)")
    space = space_from_args(items, "describe")
    tree = space.parse(text.strip())
    try:
        report = describe(tree, num_classes=num_classes, input_shape=input_shape)
    except HnasError:
        raise
    except Exception as error:  # user code (a plugin's primitive) or torch: one line, as a failed trial
        shape = "x".join(map(str, input_shape))
        first = (str(error).splitlines() or [""])[0]
        raise UsageError(f"the network fails on a {shape} input of {args.objective}: "
                         f"{type(error).__name__}: {first}") from None
    report["architecture"] = space.to_string(tree)
    report["objective"] = args.objective
    if args.draw:
        try:
            draw_architecture(tree, args.draw)
        except OSError as error:
            raise UsageError(f"cannot write the drawing {args.draw}: {error.strerror or error}") from None
        except ValueError as error:  # matplotlib: an unknown image format, named by the file's suffix
            raise UsageError(f"cannot write the drawing {args.draw}: {error}") from None
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_text(report)
    return 0


def _print_text(report: dict) -> None:
    shape = "x".join(map(str, report["input_shape"]))
    rows = [
        ("architecture", report["architecture"]),
        ("objective", f"{report['objective']} ({report['num_classes']} classes, input {shape})"),
        ("params", f"{report['params']:,}"),
        ("flops", f"{report['flops']:,}"),
        ("output shape", "x".join(map(str, report["output_shape"]))),
        ("cells", str(report["cells"])),
        ("depth", str(report["depth"])),
    ]
    for key, value in rows:
        print(f"{key:<13} {value}")
    print("params by terminal:")
    for terminal, count in report["params_by_terminal"].items():
        print(f"  {terminal:<11} {count:,}")
