"""hnas: neural architecture search over hierarchical search spaces defined by context-free grammars.

Importing ``hnas`` stays light (no torch): import the layer you need, e.g. ``hnas.grammar``.
"""

__version__ = "0.1.0"
