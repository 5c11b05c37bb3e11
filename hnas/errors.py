"""Errors meant for users, shared by every layer: the command lines print them as one line."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """A user error (a bad flag, option or file) that a command line prints as one line and exits
    with status 1 (or ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
