"""Semantics of derivation trees: torch primitives, compilers to modules, hierarchical graphs.

Each space has its compiler (``compile_tree`` picks it from the tree's root terminal, see
:mod:`hnas.semantics.compilers`); ``compile_network`` is the default ``"network"`` compiler.

Names are imported lazily, so ``import hnas.semantics`` alone does not import torch (the graph
functions do not need it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "SemanticsError",
    "Primitive",
    "register_primitive",
    "register_topology",
    "get_primitive",
    "primitives",
    "compile_network",
    "Network",
    "Compiler",
    "DEFAULT_COMPILER",
    "register_compiler",
    "get_compiler",
    "compiler_names",
    "compiler_name_for",
    "compile_tree",
    "Dag",
    "count_parameters",
    "count_flops",
    "params_by_terminal",
    "hierarchical_graphs",
    "hierarchical_graph_arrays",
    "hierarchical_graph_level",
    "flattened_label_counts",
    "GraphArrays",
    "save_architecture",
    "load_architecture",
]

_WHERE = {
    "SemanticsError": "hnas.semantics.errors",
    "Primitive": "hnas.semantics.registry",
    "register_primitive": "hnas.semantics.registry",
    "register_topology": "hnas.semantics.registry",
    "get_primitive": "hnas.semantics.registry",
    "primitives": "hnas.semantics.registry",
    "compile_network": "hnas.semantics.compiler",
    "Network": "hnas.semantics.compiler",
    "Dag": "hnas.semantics.compiler",
    "Compiler": "hnas.semantics.compilers",
    "DEFAULT_COMPILER": "hnas.semantics.compilers",
    "register_compiler": "hnas.semantics.compilers",
    "get_compiler": "hnas.semantics.compilers",
    "compiler_names": "hnas.semantics.compilers",
    "compiler_name_for": "hnas.semantics.compilers",
    "compile_tree": "hnas.semantics.compilers",
    "count_parameters": "hnas.semantics.counting",
    "count_flops": "hnas.semantics.counting",
    "params_by_terminal": "hnas.semantics.counting",
    "hierarchical_graphs": "hnas.semantics.graphs",
    "hierarchical_graph_arrays": "hnas.semantics.graphs",
    "hierarchical_graph_level": "hnas.semantics.graphs",
    "flattened_label_counts": "hnas.semantics.graphs",
    "GraphArrays": "hnas.semantics.graphs",
    "save_architecture": "hnas.semantics.persistence",
    "load_architecture": "hnas.semantics.persistence",
}

if TYPE_CHECKING:
    from hnas.semantics.compiler import Dag, Network, compile_network
    from hnas.semantics.compilers import (
        DEFAULT_COMPILER,
        Compiler,
        compile_tree,
        compiler_name_for,
        compiler_names,
        get_compiler,
        register_compiler,
    )
    from hnas.semantics.counting import count_flops, count_parameters, params_by_terminal
    from hnas.semantics.errors import SemanticsError
    from hnas.semantics.graphs import (
        GraphArrays,
        flattened_label_counts,
        hierarchical_graph_arrays,
        hierarchical_graph_level,
        hierarchical_graphs,
    )
    from hnas.semantics.persistence import load_architecture, save_architecture
    from hnas.semantics.registry import Primitive, get_primitive, primitives, register_primitive, register_topology


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'hnas.semantics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
