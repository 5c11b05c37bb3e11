"""Rediscover linear regression by gradient descent from basic math operations (AutoML-Zero).

Regularized evolution over the program grammar (grammars/automl_zero_linear.cfg: the scalar and
vector operations; grammars/automl_zero.cfg has the full set with matrices), starting from empty
programs, scored on random linear-regression tasks by hnas.programs.ProgramEvaluator. Prints every
improvement and the best program as code (dead code removed). See docs/automl_zero.md.

    python experiments/automl_zero.py --workers 2 --seed 1 --verbose
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence
from pathlib import Path

from hnas.cli import bounded
from hnas.grammar import Tree, load_space
from hnas.grammar.spaces import GRAMMAR_DIR
from hnas.programs import LinearTasks, ProgramEvaluator, format_program, live_program, read_program
from hnas.programs.evolution import EvolutionOptions, evolve

_evaluator: ProgramEvaluator | None = None


def _init(tasks: LinearTasks) -> None:
    global _evaluator
    _evaluator = ProgramEvaluator(tasks)


def _score(tree: Tree) -> float:
    assert _evaluator is not None
    return _evaluator(tree)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grammar", default=str(GRAMMAR_DIR / "automl_zero_linear.cfg"))
    parser.add_argument("--workers", type=bounded(int, 1), default=2, help="evaluating processes (1: in this process)")
    parser.add_argument("--seed", type=bounded(int, 0), default=0)
    parser.add_argument("--population_size", type=int, default=1000)
    parser.add_argument("--tournament_size", type=int, default=10)
    parser.add_argument("--max_length", type=int, default=6, help="most instructions per function")
    parser.add_argument("--max_evaluations", type=int, default=2_000_000)
    parser.add_argument("--max_seconds", type=float, default=900.0)
    parser.add_argument("--target_fitness", type=float, default=0.999)
    parser.add_argument("--init", choices=("random", "empty"), default="random",
                        help="the first population: programs sampled from the grammar, or empty ones (default random)")
    parser.add_argument("--verbose", action="store_true", help="print every improving program")
    parser.add_argument("--n_tasks", type=int, default=10)
    parser.add_argument("--dim", type=int, default=4)
    parser.add_argument("--n_train", type=int, default=100)
    parser.add_argument("--n_valid", type=int, default=20)
    args = parser.parse_args(argv)
    if not Path(args.grammar).is_file():
        print(f"error: --grammar {args.grammar}: no such file", file=sys.stderr)
        return 2
    space = load_space(args.grammar)
    tasks = LinearTasks(args.n_tasks, args.dim, args.n_train, args.n_valid, seed=args.seed)
    options = EvolutionOptions(args.population_size, args.tournament_size, args.max_length, args.max_evaluations,
                               args.max_seconds, args.target_fitness, args.seed, args.init == "random")

    def report(n: int, seconds: float, tree: Tree, fitness: float) -> None:
        print(f"{seconds:8.1f} s  {n:9d} evaluations  fitness {fitness:.4f}", flush=True)
        if args.verbose:
            print("    " + format_program(live_program(read_program(tree))).replace("\n", "\n    "), flush=True)

    if args.workers > 1:
        with multiprocessing.get_context("spawn").Pool(args.workers, _init, (tasks,)) as pool:
            result = evolve(space, lambda batch: pool.map(_score, batch, chunksize=max(1, len(batch) // args.workers)),
                            options, report)
    else:
        evaluator = ProgramEvaluator(tasks)
        result = evolve(space, lambda batch: [evaluator(t) for t in batch], options, report)
    print(f"\nbest fitness {result.best_fitness:.4f} after {result.evaluations} evaluations "
          f"in {result.seconds:.1f} s ({args.workers} worker(s), seed {args.seed})")
    print(format_program(live_program(read_program(result.best))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
