"""grakel's WL kernel, the oracle our kernels are tested against."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
from grakel.kernels import VertexHistogram, WeisfeilerLehman
from grakel.utils import graph_from_networkx


def grakel_gram(graphs: Sequence[nx.DiGraph], depth: int, others: Sequence[nx.DiGraph] | None = None) -> np.ndarray:
    """Normalised WL Gram of ``graphs`` (or ``others`` x ``graphs``): ``n_iter=depth``; depth 0 is
    the vertex histogram, since grakel refuses ``n_iter=0``."""
    kernel = (
        VertexHistogram(normalize=True)
        if depth == 0
        else WeisfeilerLehman(n_iter=depth, base_graph_kernel=VertexHistogram, normalize=True)
    )
    fitted = kernel.fit_transform(list(graph_from_networkx(graphs, node_labels_tag="label")))
    if others is None:
        return fitted
    return kernel.transform(list(graph_from_networkx(others, node_labels_tag="label")))
