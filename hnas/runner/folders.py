"""Output folders and files checked before any work: a bad path is one error naming it and why.

A run's working directory, a salvage's ``--output`` and the experiments' ``--output`` all go
through :func:`create_folder`, so a path below a regular file, an unwritable folder or ``/proc``
fails at once, not after hours of evaluations.
"""

from __future__ import annotations

import os
from pathlib import Path

from hnas.runner.errors import RunError

__all__ = ["create_folder", "remove_folders", "writable_file"]


def create_folder(directory: Path, role: str) -> list[Path]:
    """Create ``directory`` (and missing parents) and check that it is writable; returns the folders
    created, outermost first. ``role`` names the folder in the :class:`RunError` of a bad path
    (``"the working directory"``, ``"--output"``)."""
    directory = Path(directory)
    missing = []
    for path in (directory, *directory.parents):
        if path.is_dir():
            break
        if path.exists() or path.is_symlink():
            raise RunError(f"cannot use {directory} as {role}: {path} is not a folder")
        missing.append(path)
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise RunError(f"cannot use {directory} as {role}: {path} is not a folder") from None
        except OSError as error:
            remove_folders(list(reversed(missing[missing.index(path) + 1 :])))
            raise RunError(f"cannot create {role} {directory}: {error.strerror}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        remove_folders(list(reversed(missing)))
        raise RunError(f"cannot write in {role} {directory}: permission denied")
    return list(reversed(missing))


def remove_folders(created: list[Path]) -> None:
    """Remove the folders a failed start created, innermost first, if they are empty."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            return


def writable_file(path: Path, role: str) -> Path:
    """``path`` as a file to write: its folder created, the path not a folder nor read-only."""
    path = Path(path)
    if path.is_dir():
        raise RunError(f"cannot write {role} {path}: it is a folder")
    create_folder(path.parent, role)
    if path.exists() and not os.access(path, os.W_OK):
        raise RunError(f"cannot write {role} {path}: permission denied")
    return path
