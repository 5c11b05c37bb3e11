"""Benchmark of hnas.semantics: compile time, graph construction, and forward+backward overhead.

1. Compile time per architecture of ``nb201_variable_multi_multi`` (median over ``--samples``
   sampled trees; built-in prototypes warmed up first, as in any search after its first trial).
2. Hierarchical graph construction per tree: the numpy fast path and networkx graphs.
3. Forward+backward time (batch 64, 3x32x32) of the median-size sampled architecture (by
   parameter count), compiled, against a hand-written equivalent: one module whose forward is
   the network written out as straight-line code (``v3 = self.m2(v1) + self.m5(v2)``...), on the
   very same leaf modules, so only the structure differs. Runs alternate; medians are reported.

Usage: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_compile.py [--samples 200]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from torch import nn

from hnas.grammar import load_space
from hnas.grammar.tree import Tree
from hnas.semantics import compile_network, count_parameters, hierarchical_graph_arrays, hierarchical_graphs
from hnas.semantics.build import TERMINAL_ATTRIBUTE
from hnas.semantics.compiler import Dag, Network


class HandWritten(nn.Module):
    """``network`` written out as straight-line code over its own leaf modules.

    Like a hand-written forward, it drops each intermediate as soon as it is no longer needed
    (``del`` after its last use), so it holds no more tensors than the compiled network.
    """

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.stem, self.head = network.stem, network.head
        statements: list[tuple[str, str, tuple[str, ...]]] = []  # (target, expression, inputs)
        counter = iter(range(10**9))

        def leaf(module: nn.Module, var: str) -> str:
            name = f"m{len(self._modules) - 2}"
            self.add_module(name, module)
            out = f"v{next(counter)}"
            statements.append((out, f"self.{name}({var})", (var,)))
            return out

        def emit(module: nn.Module, var: str) -> str:
            if TERMINAL_ATTRIBUTE in module.__dict__ or not isinstance(module, (Dag, nn.Sequential)):
                return leaf(module, var)
            if isinstance(module, nn.Sequential):
                for child in module:
                    var = emit(child, var)
                return var
            states: list[str | None] = [var] + [None] * (module.n_slots - 1)
            for i, src, dst, accumulate in module.steps:
                y = emit(module.edges[i], states[src])
                if accumulate:
                    total = f"v{next(counter)}"
                    statements.append((total, f"{states[dst]} + {y}", (states[dst], y)))
                    y = total
                states[dst] = y
            return states[-1]

        result = emit(network.body, "x")
        last_use = {var: k for k, (_, _, inputs) in enumerate(statements) for var in inputs}
        lines = ["def forward(self, x):", "    x = self.stem(x)"]
        for k, (target, expression, inputs) in enumerate(statements):
            lines.append(f"    {target} = {expression}")
            done = sorted({v for v in inputs if last_use[v] == k and v != result})
            if done:
                lines.append(f"    del {', '.join(done)}")
        lines.append(f"    return self.head({result})")
        namespace: dict[str, object] = {}
        exec(compile("\n".join(lines) + "\n", "<hand-written network>", "exec"), namespace)
        self._forward = namespace["forward"]
        self.n_statements = len(statements)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(self, x)


def time_compile(trees: list[Tree]) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and process CPU seconds per compile (CPU time is steadier on a shared machine)."""
    for tree in trees[:20]:  # warm-up: prototypes of the built-in primitives
        compile_network(tree, num_classes=10)
    wall, cpu = [], []
    for tree in trees:
        start, start_cpu = time.perf_counter(), time.process_time()
        compile_network(tree, num_classes=10)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return np.array(wall), np.array(cpu)


def time_graphs(space, trees: list[Tree]) -> tuple[float, float]:
    start = time.perf_counter()
    for tree in trees:
        hierarchical_graph_arrays(tree, space.hierarchy_depth)
    arrays = (time.perf_counter() - start) / len(trees)
    start = time.perf_counter()
    for tree in trees:
        hierarchical_graphs(tree, space.hierarchy_depth)  # arrays are cached: this is the conversion
    return arrays, arrays + (time.perf_counter() - start) / len(trees)


def fwd_bwd(module: nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    module(x).sum().backward()
    elapsed = time.perf_counter() - start
    module.zero_grad(set_to_none=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        space = load_space("nb201_variable_multi_multi")
    rng = np.random.default_rng(args.seed)
    trees = [space.sample(rng) for _ in range(args.samples)]

    wall, cpu = time_compile(trees)
    print(f"compile_network, {len(trees)} sampled architectures (target <= 10 ms):")
    for what, times in (("wall", wall * 1e3), ("cpu", cpu * 1e3)):
        print(f"  {what}: median {np.median(times):.2f} ms, mean {times.mean():.2f} ms, "
              f"p90 {np.percentile(times, 90):.2f} ms")

    fresh = [space.sample(rng) for _ in range(args.samples)]
    arrays, graphs = time_graphs(space, fresh)
    print(f"hierarchical graphs ({space.hierarchy_depth} levels + flattened) per tree: "
          f"arrays {arrays * 1e3:.3f} ms, networkx {graphs * 1e3:.3f} ms")

    sizes = [count_parameters(compile_network(tree, num_classes=10)) for tree in trees]
    median_tree = trees[int(np.argsort(sizes)[len(sizes) // 2])]
    network = compile_network(median_tree, num_classes=10, rng=rng)
    hand = HandWritten(network)
    x = torch.randn(args.batch, 3, 32, 32, generator=torch.Generator().manual_seed(args.seed))
    network.eval()
    with torch.no_grad():
        torch.testing.assert_close(hand(x), network(x))  # the same function
    network.train()
    compiled_times, hand_times = [], []
    for _ in range(2):
        fwd_bwd(network, x), fwd_bwd(hand, x)
    for _ in range(args.repeats):
        compiled_times.append(fwd_bwd(network, x))
        hand_times.append(fwd_bwd(hand, x))
    compiled, written = statistics.median(compiled_times), statistics.median(hand_times)
    print(f"forward+backward, batch {args.batch}x3x32x32, median-size architecture "
          f"({count_parameters(network):,} params, {hand.n_statements} straight-line statements), "
          f"torch threads {torch.get_num_threads()}:")
    print(f"  compiled {compiled * 1e3:.1f} ms, hand-written {written * 1e3:.1f} ms, "
          f"ratio {compiled / written:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
