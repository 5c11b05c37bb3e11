"""Save a compiled architecture (its canonical string and weights) and load it back."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import torch

from hnas.grammar import SearchSpace, load_space
from hnas.grammar.tree import Tree
from hnas.semantics.compiler import Network, compile_network
from hnas.semantics.errors import SemanticsError

__all__ = ["save_architecture", "load_architecture"]

FORMAT = "hnas-architecture-1"


def save_architecture(path: str | PathLike[str], space: SearchSpace, tree: Tree, module: Network) -> None:
    """Write ``space``'s ``spec``, ``tree``'s canonical string, the shell sizes and ``module``'s weights."""
    if not isinstance(module, Network):
        raise TypeError(f"save_architecture needs a network from compile_network, got {type(module).__name__}")
    torch.save(
        {
            "format": FORMAT,
            "space": list(space.spec),
            "architecture": space.to_string(tree),
            "num_classes": module.num_classes,
            "in_channels": module.in_channels,
            "stem_channels": module.stem_channels,
            "state_dict": module.state_dict(),
        },
        Path(path),
    )


def load_architecture(path: str | PathLike[str], space: SearchSpace | None = None) -> tuple[Tree, Network]:
    """``(tree, network)`` saved by :func:`save_architecture`; the network has the saved weights.

    ``space`` defaults to the saved space (a registered name, or absolute grammar file paths).
    """
    path = Path(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SemanticsError(f"{path}: no such architecture file") from None
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        raise SemanticsError(f"{path}: not a saved hnas architecture ({error})") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise SemanticsError(f"{path}: not a saved hnas architecture (expected format {FORMAT!r})")
    if space is None:
        if not saved["space"]:
            raise SemanticsError(f"{path}: saved without a loadable search space; pass space=")
        space = load_space(saved["space"])
    tree = space.parse(saved["architecture"])
    network = compile_network(
        tree,
        num_classes=saved["num_classes"],
        in_channels=saved["in_channels"],
        stem_channels=saved["stem_channels"],
    )
    network.load_state_dict(saved["state_dict"])
    return tree, network
