"""Programs as instruction lists: read from derivation trees, dead code removed, printed as code."""

from __future__ import annotations

from typing import NamedTuple

from hnas.grammar.tree import Tree
from hnas.programs.language import END, FUNCTIONS, OP_BY_NAME, SEQ

__all__ = ["Instruction", "Program", "read_program", "live_program", "format_program", "LABEL", "PREDICTION",
           "FEATURES"]

LABEL, PREDICTION, FEATURES = "s0", "s1", "v0"


class Instruction(NamedTuple):
    op: str
    out: str
    ins: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.out} = " + OP_BY_NAME[self.op].text.format(*self.ins)


class Program(NamedTuple):
    setup: tuple[Instruction, ...]
    predict: tuple[Instruction, ...]
    learn: tuple[Instruction, ...]


def _instructions(node: Tree) -> tuple[Instruction, ...]:
    out = []
    while node.op == SEQ:
        instr, node = node.children
        target, *ins = (c.op for c in instr.children)
        out.append(Instruction(instr.op, target, tuple(ins)))
    if node.op != END:
        raise ValueError(f"not an instruction list: {node}")
    return tuple(out)


def read_program(tree: Tree) -> Program:
    """The program a derivation of the program grammar denotes."""
    if tree.op != "program" or [c.op for c in tree.children] != list(FUNCTIONS):
        raise ValueError(f"not a program tree (program setup predict learn): {str(tree)[:80]}")
    return Program(*(_instructions(f.children[0]) for f in tree.children))


def _backward(instrs: tuple[Instruction, ...], live_out: set[str]) -> tuple[tuple[Instruction, ...], set[str]]:
    """The instructions whose results are used, and what must be live before them."""
    live = set(live_out)
    kept = []
    for ins in reversed(instrs):
        if ins.out in live:
            kept.append(ins)
            live.discard(ins.out)
            live.update(a for a in ins.ins if a[0] in "svm")
    return tuple(reversed(kept)), live


def live_program(program: Program) -> Program:
    """``program`` without the instructions that cannot affect a prediction. Training runs
    ``v0 = x; Predict; s0 = y; Learn`` per example and validation runs ``Predict``, so liveness is
    a fixed point around that loop."""
    loop_in: set[str] = set()
    while True:
        learn, learn_in = _backward(program.learn, loop_in)
        predict, predict_in = _backward(program.predict, {PREDICTION} | (learn_in - {LABEL}))
        new = loop_in | (predict_in - {FEATURES})
        if new == loop_in:
            break
        loop_in = new
    setup, _ = _backward(program.setup, loop_in)
    return Program(setup, predict, learn)


def format_program(program: Program) -> str:
    """The program as readable Python-like code."""
    blocks = []
    for name, instrs in zip(("Setup", "Predict", "Learn"), program):
        body = [f"    {i}" for i in instrs] or ["    pass"]
        blocks.append(f"def {name}():\n" + "\n".join(body))
    return "\n".join(blocks)
