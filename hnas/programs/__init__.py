"""Algorithm search from basic math operations (AutoML-Zero): a grammar of programs, a numpy
evaluator on linear-regression tasks, and regularized evolution with instruction-list mutations.
See docs/automl_zero.md."""

from hnas.programs.evaluator import LinearTasks, ProgramEvaluator, run_program
from hnas.programs.language import OPS, LanguageOptions, grammar_text, write_grammar
from hnas.programs.program import Instruction, Program, format_program, live_program, read_program

__all__ = [
    "OPS",
    "LanguageOptions",
    "grammar_text",
    "write_grammar",
    "Instruction",
    "Program",
    "read_program",
    "live_program",
    "format_program",
    "LinearTasks",
    "ProgramEvaluator",
    "run_program",
]
