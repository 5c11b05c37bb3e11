"""The NAS-Bench-Graph plugin (benchmarks/nasbench_graph): its grammar builds each cell's data flow,
and trees map onto the benchmark's table. Skipped without the optional ``nasbench`` extra."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nas_bench_graph")

from nas_bench_graph import Arch  # noqa: E402

from benchmarks.nasbench_graph.plugin import LINKS, OPS, TableObjective, arch_key, nbg_space  # noqa: E402
from hnas.semantics import hierarchical_graph_arrays  # noqa: E402


def test_every_link_pattern_builds_the_benchmarks_data_flow() -> None:
    space = nbg_space()
    assert space.count() == len(LINKS) * len(OPS) ** 4
    for link in LINKS:
        ops = ["gcn", "gat", "sage", "fc"]
        tree = space.parse(f"(CELL NBG_{''.join(map(str, link))} " + " ".join(f"(OP {op})" for op in ops) + ")")
        graph = hierarchical_graph_arrays(tree, 0)[0]
        assert sorted(graph.labels) == sorted(["input", *ops, "output"])
        # Benchmark node k (0 = input, 1..4 = operations, 5 = output) by its (distinct) label.
        name = ["input", *ops, "output"]
        edges = {(name.index(graph.labels[a]), name.index(graph.labels[b])) for a, b in zip(graph.sources, graph.targets)}
        read = set(link) - {0}
        expected = {(src, i + 1) for i, src in enumerate(link)}  # node i + 1 reads node link[i]
        expected |= {(i, 5) for i in range(1, 5) if i not in read}  # unread nodes feed the output
        assert edges == expected and len(graph.sources) == len(expected), link
        assert arch_key(tree) == Arch(list(link), ops).valid_hash()


@pytest.mark.slow  # ~5 s on a quiet machine: 59,049 trees parsed and hashed
def test_the_grammar_reaches_every_table_entry() -> None:
    objective = TableObjective("cora")
    trees, errors = objective.all_trees()
    assert len(trees) == len(objective.table) == 26206
    assert errors.min() == pytest.approx(objective.best)
    best = objective.table[arch_key(trees[int(np.argmin(errors))])]
    assert 1.0 - best["valid_perf"] == pytest.approx(objective.best)
