"""A foreign search space for hnas, as a plugin: GNN cells scored from a table, no torch needed.

    python experiments/optimize.py --plugin my_space.py --search_space my.cfg \
        --objective my_space:objective --searcher my_searcher

Importing this file registers four link patterns (topologies), nine GNN layers (primitives
without a torch module: the space is never compiled into a network) and a searcher
``my_searcher``; it imports no torch, so ``hnas info --plugin my_space.py`` stays fast. ``objective`` reads the validation accuracy of every layer on
its link pattern from ``accuracy.csv`` (illustrative numbers, shipped next to this file).
See docs/extending.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from hnas.grammar import Tree
from hnas.searchers import OptionsError, Searcher, register_searcher
from hnas.semantics import register_primitive, register_topology

LINK_PATTERNS = {  # node 1 is the cell's input, the largest node its output; edge i takes child i
    "chain4": [(1, 2), (2, 3), (3, 4), (4, 5)],
    "residual4": [(1, 2), (2, 3), (3, 4), (1, 4)],
    "diamond4": [(1, 2), (1, 3), (2, 4), (3, 4)],
    "fork4": [(1, 2), (2, 3), (2, 4), (3, 4)],
}
GNN_LAYERS = ("gcn", "gat", "sage", "gin", "cheb", "arma", "graph", "fc", "skip")

for _name, _edges in LINK_PATTERNS.items():
    register_topology(_name, _edges)
for _name in GNN_LAYERS:
    register_primitive(_name)  # declared for grammars; no torch module (never compiled)

TABLE = Path(__file__).with_name("accuracy.csv")


def read_table(path: Path = TABLE) -> dict[tuple[str, str], float]:
    """``{(link pattern, layer): validation accuracy}`` from the CSV columns link, layer, accuracy."""
    with open(path, newline="") as handle:
        return {(row["link"], row["layer"]): float(row["accuracy"]) for row in csv.DictReader(handle)}


ACCURACY = read_table()


def objective(tree: Tree) -> dict[str, float]:
    """The cell's validation error: 1 - the mean accuracy of its layers on its link pattern.

    ``tree.op`` is the link pattern; ``tree.children`` are the layers on its edges, in edge order.
    Keys other than the EvaluationResult fields (val_error, test_error, params, ...) are recorded
    as extras.
    """
    accuracies = [ACCURACY[tree.op, layer.op] for layer in tree.children]
    return {"val_error": 1.0 - sum(accuracies) / len(accuracies), "worst_layer_accuracy": min(accuracies)}


class LocalSearch(Searcher):
    """``n_init`` random cells, then mutations of the best cell so far (a random cell when
    ``tries`` mutations in a row were all evaluated or pending)."""

    @dataclass(frozen=True)
    class Options:
        """Set from the command line with ``--searcher_option n_init=3`` (validated here, once)."""

        n_init: int = 5
        tries: int = 20

        def __post_init__(self) -> None:
            for name in ("n_init", "tries"):
                value = getattr(self, name)
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise OptionsError(f"option {name} must be an integer >= 1, got {value!r}", name)

    def propose(self) -> Tree:
        best = self.incumbent
        if best is None or self.n_told < self.options.n_init:
            return self.sample_new()
        for _ in range(self.options.tries):
            tree = self.space.mutate(best[0], self.rng)
            if not self.is_known(tree):
                return tree
        return self.sample_new()


register_searcher("my_searcher", LocalSearch)
