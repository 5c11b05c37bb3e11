"""Errors of the objectives layer.

:class:`ObjectiveError` (and :class:`DataFileError`) are user errors, i.e. bad names, options or
data files: they derive from :class:`hnas.errors.UsageError`, so the command line prints them as one
line. :class:`EvaluationError` means one architecture failed (e.g. its training loss diverged): the
runner records a failed trial and goes on.
"""

from __future__ import annotations

from hnas.errors import UsageError

__all__ = ["ObjectiveError", "DataFileError", "EvaluationError"]


class ObjectiveError(UsageError, ValueError):
    """An unknown objective, a bad option, or unusable data."""


class DataFileError(ObjectiveError):
    """A data file under ``--data_path`` is missing or malformed; the message names it and the layout."""


class EvaluationError(RuntimeError):
    """The evaluation of one architecture failed (e.g. a non-finite training loss)."""
