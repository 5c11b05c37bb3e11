"""The error raised when a derivation tree cannot be turned into a network or graph."""

from __future__ import annotations

from hnas.grammar.errors import GrammarError

__all__ = ["SemanticsError"]


class SemanticsError(GrammarError):
    """A tree the semantics cannot realise: an unregistered terminal, a resBlock path mismatch, ...

    A :class:`~hnas.grammar.errors.GrammarError` (hence a ``ValueError``), so the command line
    prints it as one line.
    """
