"""``hnas make-dataset``: compose CIFARTile or AddNIST from CIFAR-10 / MNIST files the user has."""

from __future__ import annotations

import argparse

from hnas.cli import bounded
from hnas.errors import UsageError

__all__ = ["register"]

# dataset: (subfolder the objective's loader looks in, objective, source described)
_DATASETS = {
    "cifartile": ("cifarTile", "nb201_cifarTile", "the CIFAR-10 python pickles (cifar-10-batches-py or its parent)"),
    "addnist": ("addNIST", "nb201_addNIST", "MNIST idx files (optionally .gz) or an mnist.npz"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``make-dataset`` subcommand (numpy and the loaders are imported only when it runs)."""
    parser = subparsers.add_parser(
        "make-dataset",
        help="compose CIFARTile or AddNIST (the paper's datasets) from CIFAR-10 / MNIST files",
        description="Compose the paper's CIFARTile (4 CIFAR-10 images tiled 2x2, label = distinct classes - 1) "
        "or AddNIST (3 MNIST digits as channels, label = sum - 1) and write the .npy files that the "
        "objectives nb201_cifarTile / nb201_addNIST read into DATA_PATH/cifarTile or DATA_PATH/addNIST.",
    )
    parser.add_argument("dataset", choices=sorted(_DATASETS), help="the dataset to compose")
    parser.add_argument(
        "--source", required=True,
        help="; ".join(f"{name}: {described}" for name, (_, _, described) in _DATASETS.items()),
    )  # fmt: skip
    parser.add_argument("--data_path", required=True, help="the folder to pass later as --data_path")
    parser.add_argument(
        "--sizes", type=int, nargs=3, default=None, metavar=("TRAIN", "VALID", "TEST"),
        help="images per split (default: the published 45000 15000 10000)",
    )  # fmt: skip
    parser.add_argument("--seed", type=bounded(int, 0), default=0, help="seed of the composition (default %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hnas.objectives import generators

    subfolder, objective, _ = _DATASETS[args.dataset]
    sizes = tuple(args.sizes) if args.sizes else generators.PUBLISHED_SIZES
    if min(sizes) < 1:
        raise UsageError(f"--sizes must be positive image counts, got {' '.join(map(str, sizes))}")
    if not Path(args.source).exists():
        raise UsageError(f"--source {args.source} does not exist")
    make = generators.make_cifartile if args.dataset == "cifartile" else generators.make_addnist
    splits = make(args.source, sizes=sizes, seed=args.seed)
    folder = Path(args.data_path) / subfolder
    try:
        generators.write_npy_task(splits, folder)
    except OSError as error:
        raise UsageError(f"cannot write into {folder}: {error.strerror or error}") from None
    counts = ", ".join(f"{len(y)} {split}" for split, (_, y) in splits.items())
    print(f"wrote {folder}/{{train,valid,test}}_{{x,y}}.npy ({counts}); "
          f"use it with --objective {objective} --data_path {args.data_path}")  # fmt: skip
    return 0
