"""Named search spaces and ``load_space``: a name, grammar files with ``TERMINAL=path`` blocks, or an
nltk grammar object."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hnas.collector import collector_paused
from hnas.grammar.cfg import load_grammar
from hnas.grammar.errors import GrammarError
from hnas.grammar.nltk_interop import grammar_from_nltk, is_nltk_grammar
from hnas.grammar.space import SearchSpace
from hnas.grammar.terminals import declare_primitive, register_topology

if TYPE_CHECKING:
    import nltk

__all__ = ["load_space", "register_space", "space_names", "GRAMMAR_DIR"]


def _grammar_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    installed = here / "grammars"  # the wheel ships grammars/ as hnas/grammars
    return installed if installed.is_dir() else here.parent / "grammars"


GRAMMAR_DIR = _grammar_dir()

_SPACES: dict[str, tuple[str, ...]] = {
    "nb201_variable_multi_multi": ("nb201_variable_multi_multi.cfg",),
    "nb201_fixed_1_none": ("nb201_fixed_1_none.cfg", "SharedCell=nb201_cell.cfg"),
    "activation": ("activation.cfg",),
    "darts": ("darts.cfg",),
}

# Terminal signatures of the named spaces beyond NAS-Bench-201's (names and edge lists only; the
# compilers in hnas.semantics give them meaning, see docs/spaces/). Edge lists are in child order.
_SPACE_TOPOLOGIES: dict[str, tuple[tuple[int, int], ...]] = {
    # activation: (BinOp, left, right, id, id); node 4 stacks the two branches, BinOp maps 4 -> 5
    "BinaryTopo": ((4, 5), (1, 2), (1, 3), (2, 4), (3, 4)),
    "UnaryTopo": ((1, 2),),
    # darts: network (normal cell, reduction cell); cell (4 nodes); node (op_a, op_b, input_a, input_b)
    "DARTS": ((1, 2), (2, 3)),
    "DARTSCell": ((1, 2), (2, 3), (3, 4), (4, 5)),
    "DARTSNode": ((2, 4), (3, 4), (1, 2), (1, 3)),
}
_SPACE_PRIMITIVES: tuple[str, ...] = (
    # activation: binary and unary operations ("id" is NAS-Bench-201's already)
    "add", "multi", "sub", "div", "bmax", "bmin", "bsigmoid", "bgaussian_sq", "bgaussian_abs", "wavg",
    "neg", "abs", "square", "cubic", "square_root", "mconst", "aconst", "log", "exp", "sin", "cos",
    "sinh", "cosh", "tanh", "asinh", "atanh", "sinc", "umax", "umin", "sigmoid", "logexp", "gaussian",
    "erf", "const",
    # darts: operations and input indices (0, 1: the two cell inputs; k + 2: intermediate node k)
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool_3x3", "avg_pool_3x3",
    "skip_connect", "0", "1", "2", "3", "4",
)
for _name, _edges in _SPACE_TOPOLOGIES.items():
    register_topology(_name, _edges)
for _name in _SPACE_PRIMITIVES:
    declare_primitive(_name)
del _name, _edges
_SHARED_ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.+)")


def register_space(name: str, items: Sequence[str]) -> None:
    """Make ``load_space(name)`` load ``items`` (paths, ``TERMINAL=path``; relative to grammars/)."""
    _SPACES[name] = tuple(items)


def space_names() -> list[str]:
    return sorted(_SPACES)


def load_space(spec: str | Sequence[str] | nltk.CFG) -> SearchSpace:
    """A search space by registered name, from grammar files, or from an nltk grammar.

    ``spec``: a name (``nb201_variable_multi_multi``, ``nb201_fixed_1_none``, ...), one path, a
    sequence of items: plain paths are concatenated (the first holds the start symbol) and
    ``TERMINAL=path.cfg`` maps a shared terminal to a sub-grammar (one derivation reused at every
    occurrence of the terminal); or an ``nltk.CFG`` / ``nltk.PCFG`` (its probabilities become the
    weights; the space's ``spec`` is then empty: it cannot be rebuilt from a name or path).
    """
    with collector_paused():
        return _load(spec)


def _load(spec: str | Sequence[str] | nltk.CFG) -> SearchSpace:
    if is_nltk_grammar(spec):
        return SearchSpace(grammar_from_nltk(spec), f"nltk {type(spec).__name__} (start {spec.start()})")
    items = [spec] if isinstance(spec, str) else list(spec)
    if not items or not all(isinstance(item, str) and item for item in items):
        raise GrammarError(f"a search space is a name, grammar file paths or an nltk grammar, got {spec!r}")
    if len(items) == 1 and items[0] in _SPACES:
        name = items[0]
        spec = (name,)
        items = [_in_grammar_dir(item) for item in _SPACES[name]]
    else:
        name = " ".join(items)
        spec = tuple(_absolute(item) for item in items)
    paths: list[str] = []
    shared: list[tuple[str, str]] = []
    for item in items:
        match = _SHARED_ITEM.fullmatch(item)
        if match and not Path(item).exists():
            shared.append((match.group(1), match.group(2)))
        else:
            paths.append(item)
    if not paths:
        raise GrammarError(f"no main grammar file in {' '.join(items)} (only TERMINAL=path items)")
    if len(paths) == 1 and not Path(paths[0]).exists() and not paths[0].endswith(".cfg"):
        raise GrammarError(f"unknown search space {paths[0]!r}: neither a registered name "
                           f"({', '.join(space_names())}) nor a grammar file")
    duplicates = {t for t, _ in shared if sum(t == u for u, _ in shared) > 1}
    if duplicates:
        raise GrammarError(f"shared terminal {sorted(duplicates)[0]} is mapped twice")
    return SearchSpace(load_grammar(paths, shared), name, spec)


def _absolute(item: str) -> str:
    """``item`` with its file path made absolute (a ``TERMINAL=path`` item keeps its terminal)."""
    match = _SHARED_ITEM.fullmatch(item)
    if match and not Path(item).exists():
        return f"{match.group(1)}={Path(match.group(2)).resolve()}"
    return str(Path(item).resolve())


def _in_grammar_dir(item: str) -> str:
    match = _SHARED_ITEM.fullmatch(item)
    if match:
        return f"{match.group(1)}={GRAMMAR_DIR / match.group(2)}"
    return str(GRAMMAR_DIR / item)
