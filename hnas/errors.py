"""Errors meant for users, shared by every layer: the command lines print them as one line.

Every error hnas raises for a user's input derives from :class:`HnasError`, so
``except hnas.errors.HnasError`` catches exactly the problems a user can fix (a bad flag, grammar
file, tree string, option, data file or registration), never a bug.
"""

from __future__ import annotations

__all__ = ["HnasError", "UsageError", "RegistryError", "EXIT_INTERRUPTED"]

EXIT_INTERRUPTED = 130
"""The exit status of every command after Ctrl-C or SIGTERM (the shell's 128 + SIGINT)."""


class HnasError(Exception):
    """Base of every error meant for users; a command line prints it as one line and exits with
    ``code`` (1 unless a subclass says otherwise)."""

    code: int = 1


class UsageError(HnasError):
    """A user error (a bad flag, option or file) that a command line prints as one line and exits
    with status 1 (or ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class RegistryError(UsageError, ValueError):
    """A name that is not registered, or registered twice without ``replace=True``."""
