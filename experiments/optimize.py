"""Run (or resume) a neural architecture search: a thin command line over ``hnas.runner.run_search``.

    python experiments/optimize.py --searcher bayesian_optimization

runs BANAT on the hierarchical NAS-Bench-201 space with the embedded offline objective. Rerunning
the same command resumes an interrupted run (Ctrl-C, a kill) or prints the summary of a finished
one; raising --max_evaluations_total continues a finished run.

    python experiments/optimize.py --plugin my_space.py --search_space my.cfg \
        --objective my_space:objective --searcher my_searcher

searches a space of the user's own: the plugin registers its topologies, primitives and searcher,
the objective is a function given as module:function (see docs/extending.md).
"""

from __future__ import annotations

import os
import sys

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy/torch start their pools: no threads spinning against other jobs

try:  # Ctrl-C while the modules import is one line too
    import argparse
    from collections.abc import Sequence

    from hnas.cli import add_plugin_argument, bounded
    from hnas.errors import HnasError
    from hnas.grammar import space_names
    from hnas.objectives import DEFAULT_OBJECTIVE, OBJECTIVES
    from hnas.plugins import load_plugins
    from hnas.runner import RunConfig, RunConfigError, run_search
    from hnas.runner.driver import EXIT_ALL_FAILED, EXIT_INTERRUPTED
    from hnas.runner.fidelity import FIDELITY_KINDS
    from hnas.runner.tensorboard import require_tensorboard, write_tensorboard
    from hnas.searchers import EvolutionPool, OptionsError, accepted_options, get_searcher_class, parse_option_value
    from hnas.searchers.bayesian_optimization import BayesianOptimization
    from hnas.searchers.evolution import RegularizedEvolution
    from hnas.searchers.multi_fidelity import MultiFidelitySearcher
    from hnas.searchers.options import option_defaults
except KeyboardInterrupt:
    print("optimize.py: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

DEFAULT_SEARCH_SPACE = "nb201_variable_multi_multi"
DEFAULT_MAX_EVALUATIONS = 20
"""With the embedded objective's default protocol this takes a few minutes on 2 cores."""

_SEARCHER_FLAGS: dict[str, tuple[type, str]] = {
    "surrogate_model": (BayesianOptimization.Options, "BO surrogate model"),
    "acquisition": (BayesianOptimization.Options, "BO acquisition function (ei, pi, ucb or a registered one)"),
    "pool_strategy": (BayesianOptimization.Options, "BO acquisition optimiser (evolution, random, mutation, ...)"),
    "pool_size": (EvolutionPool, "BO candidate pool size"),
    "n_init": (BayesianOptimization.Options, "BO random initial points"),
    "p_self_crossover": (EvolutionPool, "BO evolution pool: probability that a crossover is a self-crossover"),
    "population_size": (RegularizedEvolution.Options, "regularized evolution: population size"),
    "sample_size": (RegularizedEvolution.Options, "regularized evolution: tournament size"),
}
"""Searcher options with a flag of their own; their defaults are read from the Options dataclasses.
Every other option (e.g. xi, beta, n_best) is set with --searcher_option KEY=VALUE."""

EXIT_STATUS = f"""exit status: 0 the run finished (or was already finished) with at least one successful
evaluation; 1 an error before the first evaluation (printed as one line); 2 a bad flag;
{EXIT_ALL_FAILED} every evaluation failed (the summary shows the first error); {EXIT_INTERRUPTED} stopped by Ctrl-C
or SIGTERM (rerun the same command to continue)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optimize.py",
        description="Neural architecture search over a grammar-defined space (resumable).",
        epilog=EXIT_STATUS,
    )
    add = parser.add_argument
    add("--working_directory", help="run directory (default: runs/<searcher>-<space>-<objective>-seed<N>)")
    add("--data_path", help="folder with the objective's data files (not needed for embedded objectives)")
    add("--search_space", nargs="+", default=[DEFAULT_SEARCH_SPACE],
        help=f"a shipped space ({', '.join(space_names())}), or grammar files (the first holds the start symbol)"
        f" and TERMINAL=file.cfg items (default {DEFAULT_SEARCH_SPACE})")
    add("--objective", default=None,
        help=f"what to minimise: {', '.join(OBJECTIVES)} (default {DEFAULT_OBJECTIVE}: embedded, offline,"
        " no --data_path), a name a plugin registers, or a function as module:function or path/file.py:function")
    add("--searcher", default=RunConfig.searcher,
        help="a registered searcher: random_search, regularized_evolution, bayesian_optimization, the"
        " multi-fidelity successive_halving, hyperband, asha, bo_hyperband, the multi-objective mo_random_search,"
        " mo_regularized_evolution, mo_bayesian_optimization (with --objectives), or a plugin's"
        f" (default {RunConfig.searcher})")
    for flag, (options_class, text) in _SEARCHER_FLAGS.items():
        default = option_defaults(options_class)[flag]
        add(f"--{flag}", type=parse_option_value, default=None, help=f"{text} (default {default})")
    add("--searcher_option", action="append", default=[], metavar="KEY=VALUE",
        help="any option of the searcher or of its components (repeatable), e.g. xi=0.01, beta=3, n_best=5")
    add("--canonical_key", default=RunConfig.canonical_key,
        help="architectures with equal keys are one: auto (the space's registered key), none, or a key name"
        f" (default {RunConfig.canonical_key})")
    add("--seed", type=bounded(int, 0), default=0, help="seed of the searcher and the evaluations (default 0)")
    add("--max_evaluations_total", type=bounded(int, 1), default=DEFAULT_MAX_EVALUATIONS,
        help="evaluated (done or failed) trials of the run; raise it to continue a finished run"
        f" (default {DEFAULT_MAX_EVALUATIONS})")
    add("--log", action="store_true",
        help="minimise the log of the validation error (objectives whose values can be negative, such as"
        " the zero-cost proxies, refuse it)")
    add("--epochs", type=bounded(int, 1), default=None, help="training epochs (default: the objective's)")
    add("--batch_size", type=bounded(int, 1), default=None, help="training batch size (default: the objective's)")
    add("--train_subset", type=bounded(int, 1), default=None,
        help="train on a fixed random subset of this many images (default: all)")
    add("--min_epochs", type=bounded(int, 1), default=None,
        help="multi-fidelity searchers (successive_halving, hyperband, asha, bo_hyperband): the lowest fidelity"
        f" in training epochs (default {option_defaults(MultiFidelitySearcher.Options)['min_epochs']})")
    add("--max_epochs", type=bounded(int, 1), default=None,
        help="multi-fidelity searchers: the highest fidelity; every learning-rate schedule spans it"
        f" (default {option_defaults(MultiFidelitySearcher.Options)['max_epochs']})")
    add("--fidelity", choices=FIDELITY_KINDS, default="epochs",
        help="multi-fidelity searchers: what the levels count, training epochs (default) or train_subset: the"
             " number of training images (from --min_train_subset to --max_train_subset; every evaluation trains"
             " the objective's epochs on that many first images, a promoted trial from zero)")
    add("--min_train_subset", type=bounded(int, 1), default=None,
        help="with --fidelity train_subset (required then): the fewest training images of an evaluation")
    add("--max_train_subset", type=bounded(int, 1), default=None,
        help="with --fidelity train_subset (required then): the most training images of an evaluation")
    add("--eta", type=bounded(int, 2), default=None,
        help="multi-fidelity searchers: factor between fidelity levels and kept fraction 1/eta per rung"
        f" (default {option_defaults(MultiFidelitySearcher.Options)['eta']})")
    add("--objectives", default="",
        help="comma-separated values to minimise with a multi-objective searcher (mo_random_search,"
        " mo_regularized_evolution, mo_bayesian_optimization), e.g. val_error,params: val_error, params,"
        " flops, latency (measured on the evaluating device), a zero-cost proxy name (minus its score) or"
        " extras.NAME (docs/searchers.md)")
    add("--max_params", type=bounded(int, 1), default=None,
        help="never train a network with more parameters (counted from the tree before evaluation)")
    add("--max_flops", type=bounded(float, 1), default=None,
        help="never train a network with more FLOPs per input (counted from the tree before evaluation)")
    add("--n_workers", type=bounded(int, 1), default=1,
        help="local worker processes evaluating in parallel (default 1: one worker process)")
    add("--torch_threads", type=bounded(int, 1), default=None,
        help="torch threads per evaluation (default 1: fast when other jobs share the cores)")
    add("--dask_scheduler", default=None, help="evaluate on a dask.distributed cluster at tcp://HOST:PORT")
    add("--no_progress", action="store_true", help="no progress bar")
    add_plugin_argument(parser)
    add("--tensorboard", action="store_true",
        help="write TensorBoard logs of the run to <working_directory>/tensorboard when it stops (needs tensorboard)")
    return parser


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RunConfig:
    """The run configuration of parsed flags; a bad combination is an argparse error naming the flag."""
    options = _searcher_options(args, parser)
    search_space = args.search_space[0] if len(args.search_space) == 1 else args.search_space
    try:
        config = RunConfig(
            search_space=search_space,
            objective=args.objective,
            searcher=args.searcher,
            searcher_options=options,
            canonical_key=args.canonical_key,
            seed=args.seed,
            max_evaluations_total=args.max_evaluations_total,
            log=args.log,
            data_path=args.data_path,
            epochs=args.epochs,
            batch_size=args.batch_size,
            train_subset=args.train_subset,
            min_epochs=args.min_epochs,
            max_epochs=args.max_epochs,
            eta=args.eta,
            fidelity=args.fidelity,
            min_train_subset=args.min_train_subset,
            max_train_subset=args.max_train_subset,
            n_workers=args.n_workers,
            dask_scheduler=args.dask_scheduler,
            torch_threads=args.torch_threads,
            plugins=args.plugin,
            objectives=args.objectives,
            max_params=args.max_params,
            max_flops=args.max_flops,
        )
    except RunConfigError as error:
        flag = error.field if error.field in _SEARCHER_FLAGS or hasattr(args, error.field) else "searcher_option"
        parser.error(f"argument --{flag}: {error}")
    _note_random_only_bo(config)
    return config


def _note_random_only_bo(config: RunConfig) -> None:
    """A model-based searcher whose budget is at most n_init never uses its model: say so first."""
    n_init = config.random_initial_trials
    if n_init is not None and config.max_evaluations_total <= n_init:
        print(f"optimize.py: note: --max_evaluations_total {config.max_evaluations_total} <= --n_init "
              f"{n_init}: every evaluation is one of {config.searcher_name}'s random initial points, so this run "
              f"is a random search; raise --max_evaluations_total above {n_init} or lower --n_init",
              file=sys.stderr)  # fmt: skip


def _searcher_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, object]:
    """The searcher options of the flags: --searcher_option KEY=VALUE items (checked by the
    searcher), and the dedicated flags the searcher takes (a note names those it ignores)."""
    options: dict[str, object] = {}
    for item in args.searcher_option:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            parser.error(f"argument --searcher_option: expected KEY=VALUE, got {item!r}")
        options[key.strip()] = parse_option_value(value)
    given = {flag: getattr(args, flag) for flag in _SEARCHER_FLAGS if getattr(args, flag) is not None}
    if not given:
        return options
    try:
        cls = get_searcher_class(args.searcher)
        taken = accepted_options(cls, cls.Options(**{k: v for k, v in given.items() if k in option_defaults(cls.Options)}))
    except (OptionsError, ValueError) as error:
        flag = getattr(error, "option", None) if getattr(error, "option", None) in given else "searcher"
        parser.error(f"argument --{flag}: {error}")
    ignored = [f"--{flag}" for flag in given if flag not in taken]
    if ignored:
        print(f"optimize.py: note: {args.searcher} takes no {', '.join(ignored)}; ignored", file=sys.stderr)
    return {**{k: v for k, v in given.items() if k in taken}, **options}


def _load_plugins(argv: Sequence[str] | None) -> None:
    """Load the --plugin modules first: the searcher flags are checked against what they register."""
    early = argparse.ArgumentParser(add_help=False)
    add_plugin_argument(early)
    load_plugins(early.parse_known_args(argv)[0].plugin)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit status 0, 1 for an error (one line), 130 when interrupted."""
    try:
        try:
            _load_plugins(argv)
            parser = build_parser()
            args = parser.parse_args(argv)
            config = config_from_args(args, parser)
            if args.tensorboard:
                require_tensorboard()  # before the search, not after hours of it
            summary = run_search(config, args.working_directory, progress=not args.no_progress)
            if args.tensorboard:
                print(f"TensorBoard logs: {write_tensorboard(summary.working_directory)}")
        except HnasError as error:
            print(f"optimize.py: error: {error}", file=sys.stderr)
            return getattr(error, "code", 1)
        print(summary)
        return summary.exit_code
    except KeyboardInterrupt:  # outside the search loop (which stops with its summary): start-up, summary
        print("optimize.py: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
