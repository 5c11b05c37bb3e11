"""Weisfeiler-Lehman kernels on the labelled graphs of architectures (flattened graph and levels)."""

from hnas.kernels.wl import WLFeatures, WLFeaturizer, feature_matrix, gram, normalise_gram

__all__ = ["WLFeatures", "WLFeaturizer", "feature_matrix", "gram", "normalise_gram"]
