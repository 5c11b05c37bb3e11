"""Errors of a search run that are meant for the user (printed as one line by the command lines)."""

from __future__ import annotations

from hnas.errors import UsageError

__all__ = ["RunError", "RunConfigError", "ConfigMismatchError", "RunLockedError", "StoreDamagedError"]


class RunError(UsageError):
    """A search run cannot start or continue; the message says why."""


class RunConfigError(RunError):
    """A configuration value is invalid; ``field`` names it (the flag of the same name)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ConfigMismatchError(RunError):
    """The working directory holds a run with another configuration; ``differences`` lists the keys."""

    def __init__(self, working_directory: str, differences: dict[str, tuple[object, object]]) -> None:
        listed = "; ".join(f"{key}: stored {old!r}, given {new!r}" for key, (old, new) in differences.items())
        super().__init__(
            f"{working_directory} holds a run with a different configuration ({listed}); "
            "use another --working_directory or the stored values"
        )
        self.differences = differences


class RunLockedError(RunError):
    """Another process is running the search in the same working directory."""


class StoreDamagedError(RunError):
    """A run store file (``trials.sqlite`` or its write-ahead log) is damaged; ``path`` names it."""

    def __init__(self, path: object, problem: str, run_dir: object) -> None:
        super().__init__(
            f"{path} is damaged: {problem}; `hnas salvage {run_dir}` copies its readable trials into a new run directory"
        )
        self.path = path
