"""Regularized evolution of programs with AutoML-Zero's mutation kinds, as grammar edits.

* insert: a freshly derived ``INSTR`` becomes ``seq INSTR <rest>`` at a random list position;
* remove: a ``seq INSTR <rest>`` node is replaced by ``<rest>``;
* randomize an instruction: re-derive one ``INSTR`` subtree;
* randomize an operand: re-derive one address (an ``INSTR`` node's child).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hnas.grammar import SearchSpace, Tree
from hnas.grammar.treeops import Site, replace_at, sites
from hnas.programs.language import END, FUNCTIONS, INSTR, LIST, SEQ

__all__ = ["MUTATIONS", "mutate_program", "empty_program", "EvolutionOptions", "evolve", "EvolutionResult"]


def _lists(tree: Tree) -> list[Site]:
    return [s for s in sites(tree, ()) if s.node.symbol == LIST]


def _length(tree: Tree, site: Site) -> int:
    """Instructions in the function the list at ``site`` belongs to."""
    node = tree.children[site.path[0]].children[0]
    n = 0
    while node.op == SEQ:
        n, node = n + 1, node.children[1]
    return n


def _insert(space: SearchSpace, tree: Tree, rng: np.random.Generator, max_length: int) -> Tree | None:
    options = [s for s in _lists(tree) if _length(tree, s) < max_length]
    if not options:
        return None
    site = options[rng.integers(len(options))]
    return replace_at(tree, site.path, Tree(LIST, SEQ, (space.derive(INSTR, rng), site.node)))


def _remove(space: SearchSpace, tree: Tree, rng: np.random.Generator, max_length: int) -> Tree | None:
    options = [s for s in _lists(tree) if s.node.op == SEQ]
    if not options:
        return None
    site = options[rng.integers(len(options))]
    return replace_at(tree, site.path, site.node.children[1])


def _instructions(tree: Tree) -> list[Site]:
    return [s for s in sites(tree, ()) if s.node.symbol == INSTR]


def _randomize_instruction(space: SearchSpace, tree: Tree, rng: np.random.Generator, max_length: int) -> Tree | None:
    options = _instructions(tree)
    if not options:
        return None
    site = options[rng.integers(len(options))]
    return replace_at(tree, site.path, space.derive(INSTR, rng))


def _randomize_operand(space: SearchSpace, tree: Tree, rng: np.random.Generator, max_length: int) -> Tree | None:
    options = [(s, i) for s in _instructions(tree) for i in range(len(s.node.children))]
    if not options:
        return None
    site, i = options[rng.integers(len(options))]
    operand = site.node.children[i]
    return replace_at(tree, site.path + (i,), space.derive(operand.symbol, rng))


Mutation = Callable[[SearchSpace, Tree, np.random.Generator, int], "Tree | None"]
MUTATIONS: dict[str, Mutation] = {
    "insert": _insert,
    "remove": _remove,
    "randomize_instruction": _randomize_instruction,
    "randomize_operand": _randomize_operand,
}


def mutate_program(space: SearchSpace, tree: Tree, rng: np.random.Generator, max_length: int = 16,
                   kinds: Sequence[str] = tuple(MUTATIONS)) -> Tree:
    """A child of ``tree`` by one mutation of a kind drawn uniformly among those that apply and
    change the program (insert only into functions shorter than ``max_length``)."""
    for _ in range(64):
        child = MUTATIONS[kinds[rng.integers(len(kinds))]](space, tree, rng, max_length)
        if child is not None and child != tree:
            return child
    return tree


def empty_program() -> Tree:
    """The program whose three functions are empty (AutoML-Zero's starting point)."""
    return Tree("PROGRAM", "program", tuple(Tree(f.upper(), f, (Tree(LIST, END),)) for f in FUNCTIONS))


@dataclass(frozen=True)
class EvolutionOptions:
    """Regularized evolution (Real et al. 2019) as AutoML-Zero runs it."""

    population_size: int = 100
    tournament_size: int = 10
    max_length: int = 8
    max_evaluations: int = 20000
    max_seconds: float = float("inf")
    target_fitness: float = 1.0
    """Stop once a program reaches this fitness."""
    seed: int = 0
    random_init: bool = False
    """Start from programs sampled from the grammar instead of empty ones."""


@dataclass
class EvolutionResult:
    best: Tree
    best_fitness: float
    evaluations: int
    seconds: float
    history: list[tuple[int, float, float]]
    """(evaluations, seconds, best fitness) at every improvement."""


def evolve(space: SearchSpace, fitness: Callable[[Sequence[Tree]], Sequence[float]],
           options: EvolutionOptions = EvolutionOptions(),
           on_improvement: Callable[[int, float, Tree, float], None] | None = None) -> EvolutionResult:
    """Regularized evolution from a population of empty (or random) programs. ``fitness`` scores a batch of trees
    (a batch is ``population_size`` programs at first, then ``tournament_size``-many children bred from
    independent tournaments, so a process pool can evaluate it in parallel)."""
    rng = np.random.default_rng(options.seed)
    start = time.perf_counter()
    population: deque[tuple[Tree, float]] = deque()
    best: tuple[Tree, float] = (empty_program(), -np.inf)
    history: list[tuple[int, float, float]] = []
    evaluations = 0
    if options.random_init:
        batch = [space.sample(rng) for _ in range(options.population_size)]
    else:
        batch = [empty_program()] * options.population_size
    while True:
        scores = fitness(batch)
        for tree, score in zip(batch, scores):
            evaluations += 1
            population.append((tree, score))
            if len(population) > options.population_size:
                population.popleft()
            if score > best[1]:
                best = (tree, score)
                elapsed = time.perf_counter() - start
                history.append((evaluations, elapsed, score))
                if on_improvement is not None:
                    on_improvement(evaluations, elapsed, tree, score)
        if (best[1] >= options.target_fitness or evaluations >= options.max_evaluations
                or time.perf_counter() - start >= options.max_seconds):
            break
        batch = []
        for _ in range(min(options.tournament_size, options.max_evaluations - evaluations)):
            picks = rng.choice(len(population), size=options.tournament_size, replace=False)
            parent = max((population[i] for i in picks), key=lambda p: p[1])[0]
            batch.append(mutate_program(space, parent, rng, options.max_length))
    return EvolutionResult(best[0], float(best[1]), evaluations, time.perf_counter() - start, history)
