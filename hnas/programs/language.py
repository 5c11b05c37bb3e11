"""AutoML-Zero's program language as a grammar (Real et al., ICML 2020).

A program is three functions, ``Setup``, ``Predict`` and ``Learn``, each a list of instructions over
scalar (``s0, s1, ...``), vector (``v0, ...``) and matrix (``m0, ...``) memory. Conventions: the
features are in ``v0``, ``Predict`` leaves its prediction in ``s1``, the label is in ``s0`` while
``Learn`` runs. In the grammar an instruction is ``(INSTR op out in...)`` whose operands are
address terminals, and a function body is the list nonterminal
``INSTRS -> "end" | "seq" INSTR INSTRS``:

    PROGRAM -> "program" SETUP PREDICT LEARN
    LEARN -> "learn" INSTRS
    INSTRS -> "end" | "seq" INSTR INSTRS
    INSTR -> "ssub" S S S | "vscale" V S V | "dot" S V V | "sconst" S C | ...
    S -> "s0" | "s1" | "s2" | "s3"

Operation and address names are declared as grammar terminals on import (operations as
topologies of their operand count, addresses as primitives), so ``load_space`` reads the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hnas.grammar.terminals import declare_primitive, register_topology

__all__ = ["Op", "OPS", "LanguageOptions", "grammar_text", "write_grammar", "FUNCTIONS", "LIST", "INSTR", "END", "SEQ"]

FUNCTIONS = ("setup", "predict", "learn")
LIST, INSTR, END, SEQ = "INSTRS", "INSTR", "end", "seq"


@dataclass(frozen=True)
class Op:
    """One instruction kind: ``out = expr(ins)``; kinds are ``s``, ``v``, ``m`` or ``c`` (a constant).

    ``fn`` computes it on batched operands (leading axis: the tasks; a constant operand is an array
    of that constant), ``text`` is the readable form with operands ``{0}, {1}``."""

    name: str
    out: str
    ins: tuple[str, ...]
    fn: Callable[..., np.ndarray]
    text: str


OPS: tuple[Op, ...] = (
    Op("sadd", "s", ("s", "s"), np.add, "{0} + {1}"),
    Op("ssub", "s", ("s", "s"), np.subtract, "{0} - {1}"),
    Op("smul", "s", ("s", "s"), np.multiply, "{0} * {1}"),
    Op("sdiv", "s", ("s", "s"), np.divide, "{0} / {1}"),
    Op("sabs", "s", ("s",), np.abs, "abs({0})"),
    Op("sconst", "s", ("c",), lambda c: c, "{0}"),
    Op("vadd", "v", ("v", "v"), np.add, "{0} + {1}"),
    Op("vsub", "v", ("v", "v"), np.subtract, "{0} - {1}"),
    Op("vmul", "v", ("v", "v"), np.multiply, "{0} * {1}"),
    Op("vscale", "v", ("s", "v"), lambda s, v: s[:, None] * v, "{0} * {1}"),
    Op("dot", "s", ("v", "v"), lambda a, b: (a * b).sum(1), "dot({0}, {1})"),
    Op("vnorm", "s", ("v",), lambda v: np.sqrt((v * v).sum(1)), "norm({0})"),
    Op("vmean", "s", ("v",), lambda v: v.mean(1), "mean({0})"),
    Op("madd", "m", ("m", "m"), np.add, "{0} + {1}"),
    Op("mscale", "m", ("s", "m"), lambda s, m: s[:, None, None] * m, "{0} * {1}"),
    Op("outer", "m", ("v", "v"), lambda a, b: a[:, :, None] * b[:, None, :], "outer({0}, {1})"),
    Op("matvec", "v", ("m", "v"), lambda m, v: (m @ v[:, :, None])[:, :, 0], "{0} @ {1}"),
    Op("mtrans", "m", ("m",), lambda m: m.transpose(0, 2, 1), "{0}.T"),
)
OP_BY_NAME = {op.name: op for op in OPS}
CONSTANTS = ("0.001", "0.01", "0.1", "0.5", "1.0", "2.0")
_KIND_SYMBOL = {"s": "S", "v": "V", "m": "M", "c": "C"}


@dataclass(frozen=True)
class LanguageOptions:
    """Which operations and how much memory a program grammar offers."""

    ops: tuple[str, ...] = tuple(op.name for op in OPS)
    n_scalars: int = 4
    n_vectors: int = 3
    n_matrices: int = 2
    constants: tuple[str, ...] = CONSTANTS

    def __post_init__(self) -> None:
        unknown = [o for o in self.ops if o not in OP_BY_NAME]
        if unknown:
            raise ValueError(f"unknown operations {unknown}; known: {sorted(OP_BY_NAME)}")
        if self.n_scalars < 2 or self.n_vectors < 1:
            raise ValueError("programs need s0 (label), s1 (prediction) and v0 (features)")
        kinds = {k for o in self.ops for k in (OP_BY_NAME[o].out, *OP_BY_NAME[o].ins)}
        if "m" in kinds and self.n_matrices < 1:
            raise ValueError(f"operations {self.ops} use matrices but n_matrices is 0")
        if "c" in kinds and not self.constants:
            raise ValueError("sconst needs at least one constant")

    def addresses(self, kind: str) -> tuple[str, ...]:
        if kind == "c":
            return self.constants
        n = {"s": self.n_scalars, "v": self.n_vectors, "m": self.n_matrices}[kind]
        return tuple(f"{kind}{i}" for i in range(n))


def _declare_terminals() -> None:
    for op in OPS:
        register_topology(op.name, tuple((i, i + 1) for i in range(1, len(op.ins) + 2)))
    register_topology("program", ((1, 2), (2, 3), (3, 4)))
    for name in FUNCTIONS:
        register_topology(name, ((1, 2),))
    register_topology(SEQ, ((1, 2), (2, 3)))
    declare_primitive(END)
    for kind in "svm":
        for i in range(16):
            declare_primitive(f"{kind}{i}")
    for c in CONSTANTS:
        declare_primitive(c)


_declare_terminals()


def grammar_text(options: LanguageOptions = LanguageOptions()) -> str:
    """The grammar of programs under ``options`` (NLTK CFG notation, as ``load_space`` reads it)."""
    for c in options.constants:
        declare_primitive(c)
    ops = [OP_BY_NAME[o] for o in options.ops]
    kinds = sorted({k for op in ops for k in (op.out, *op.ins)}, key="svmc".index)
    instrs = " | ".join(f'"{op.name}" ' + " ".join(_KIND_SYMBOL[k] for k in (op.out, *op.ins)) for op in ops)
    lines = [
        "# AutoML-Zero programs (generated by hnas.programs.grammar_text; see docs/automl_zero.md)",
        'PROGRAM -> "program" SETUP PREDICT LEARN',
        *(f'{f.upper()} -> "{f}" {LIST}' for f in FUNCTIONS),
        f'{LIST} -> "{END}" | "{SEQ}" {INSTR} {LIST}',
        f"{INSTR} -> {instrs}",
        *(f"{_KIND_SYMBOL[k]} -> " + " | ".join(f'"{a}"' for a in options.addresses(k)) for k in kinds),
    ]
    return "\n".join(lines) + "\n"


def write_grammar(path: str | Path, options: LanguageOptions = LanguageOptions()) -> Path:
    """Write :func:`grammar_text` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(grammar_text(options), encoding="utf-8")
    return path
