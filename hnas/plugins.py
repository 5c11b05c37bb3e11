"""Plugins: a user's Python module or file that registers its own parts of hnas when imported.

A plugin calls the public ``register_*`` functions at import (``register_topology``,
``register_primitive``, ``register_objective``, ``register_searcher``, ``register_compiler``, ...).
It is named on a command line with ``--plugin MODULE`` or ``--plugin path/file.py`` (repeatable),
or installed: a distribution that declares an entry point in the group ``hnas.plugins`` is loaded
by every hnas command line and worker process. See ``docs/extending.md``.

- A plugin file is imported as a module named after its stem (``my_space.py`` -> ``my_space``), so
  ``--objective my_space:objective`` finds it.
- Loading a plugin twice in one process does nothing the second time.
- A plugin that fails to import is a :class:`PluginError` of one line naming it.
- :func:`resolve_plugin` gives the form a run records (an absolute file path or a module name),
  from which resumed runs and worker processes load the same plugins again.

This module imports nothing of hnas but its errors, so every layer may use it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from hnas.errors import UsageError

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "resolve_plugin",
    "load_plugin",
    "load_plugins",
    "load_entry_points",
    "is_reference",
    "normalise_reference",
    "resolve_reference",
]

ENTRY_POINT_GROUP = "hnas.plugins"
"""The entry-point group whose entries hnas loads: a module (imported) or a callable (called)."""


class PluginError(UsageError):
    """A plugin or a ``module:name`` reference that cannot be loaded; the message names it."""


_entry_point_names: tuple[str, ...] | None = None  # None: not loaded yet in this process


def _is_file(reference: str) -> bool:
    return reference.endswith(".py") or "/" in reference or "\\" in reference


def resolve_plugin(reference: str) -> str:
    """The recorded form of a plugin: the absolute path of a file, or the module name as given."""
    if not isinstance(reference, str) or not reference.strip():
        raise PluginError(f"a plugin is a module name or a .py file, got {reference!r}")
    reference = reference.strip()
    if _is_file(reference):
        return str(Path(reference).expanduser().resolve())
    if not all(part.isidentifier() for part in reference.split(".")):
        raise PluginError(f"plugin {reference!r} is neither a .py file nor a module name")
    return reference


def _failure(what: str, error: BaseException, path: str | None = None) -> PluginError:
    """One line: what failed, the error, and the innermost line of the plugin's own file."""
    where = ""
    frames = traceback.extract_tb(error.__traceback__)
    if path is not None:
        frames = [frame for frame in frames if frame.filename == path]
    if frames and not isinstance(error, UsageError):
        where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return PluginError(f"{what} failed to load: {type(error).__name__}: {message}{where}")


def _module_of_file(file: Path) -> ModuleType | None:
    """The imported module whose source is ``file``, if any."""
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if source and source.endswith(file.name) and Path(source).resolve() == file:
            return module
    return None


def _load_file(path: str, label: str) -> ModuleType:
    file = Path(path)
    if not file.is_file():
        raise PluginError(f"{label}: no such file")
    name = file.stem
    if not name.isidentifier():
        raise PluginError(f"{label}: the file name must be a Python identifier (it becomes the module name)")
    same = _module_of_file(file)
    if same is not None:
        return same  # loaded before (as a plugin file or as a module): a no-op
    loaded = sys.modules.get(name)
    if loaded is not None:
        raise PluginError(
            f"{label}: a module named {name!r} is already imported "
            f"(from {getattr(loaded, '__file__', None) or 'built-in'}); rename the plugin file"
        )
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise PluginError(f"{label}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise _failure(label, error, str(file)) from None
    return module


def _import_module(name: str, what: str) -> ModuleType:
    top = name.partition(".")[0]
    if top not in sys.modules and importlib.util.find_spec(top) is None and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # as `python -m` would: a module in the current folder
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            raise PluginError(f"{what}: no module named {error.name!r} (is it on PYTHONPATH?)") from None
        raise _failure(what, error) from None
    except Exception as error:
        raise _failure(what, error) from None


def load_plugin(reference: str, label: str | None = None) -> ModuleType:
    """Import the plugin ``reference`` (a module name or a ``.py`` file) once; returns the module.
    ``label`` starts an error's message (default ``plugin REFERENCE``)."""
    resolved = resolve_plugin(reference)
    label = f"plugin {resolved}" if label is None else label
    if _is_file(resolved):
        return _load_file(resolved, label)
    return _import_module(resolved, label)


def load_entry_points() -> tuple[str, ...]:
    """Load the installed plugins of the ``hnas.plugins`` entry-point group (once per process);
    returns their names."""
    global _entry_point_names
    if _entry_point_names is not None:
        return _entry_point_names
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    _entry_point_names = tuple(entry.name for entry in found)
    for entry in found:
        what = f"plugin entry point {entry.name} = {entry.value}"
        try:
            loaded = entry.load()
        except Exception as error:
            raise _failure(what, error) from None
        if callable(loaded) and not isinstance(loaded, ModuleType):
            try:
                loaded()
            except Exception as error:
                raise _failure(what, error) from None
    return _entry_point_names


def load_plugins(references: Iterable[str] = ()) -> tuple[str, ...]:
    """Load the installed entry points (once), then each plugin in order; returns the plugins'
    recorded forms (absolute file paths, module names), without repeats."""
    load_entry_points()
    resolved: dict[str, None] = {}
    for reference in references:
        load_plugin(reference)
        resolved[resolve_plugin(reference)] = None
    return tuple(resolved)


def is_reference(text: object) -> bool:
    """Whether ``text`` is a ``module:name`` or ``path/file.py:name`` reference."""
    if not isinstance(text, str):
        return False
    module, colon, name = text.rpartition(":")
    return bool(colon and module and name.isidentifier())


def normalise_reference(text: str) -> str:
    """``text`` with a file's path made absolute (``g/f.py:fn`` -> ``/abs/g/f.py:fn``)."""
    module, _, name = text.rpartition(":")
    return f"{resolve_plugin(module)}:{name}"


def resolve_reference(text: str, role: str = "") -> Any:
    """The object ``text`` (``module:name`` or ``path/file.py:name``) refers to; the file or
    module is loaded as a plugin would be. ``role`` (e.g. ``objective``) starts error messages."""
    label = f"{role} {text}".strip()
    if not is_reference(text):
        raise PluginError(f"{text!r} is not a reference of the form module:name or path/file.py:name")
    module_text, _, name = text.rpartition(":")
    module = load_plugin(module_text, label)
    try:
        return getattr(module, name)
    except AttributeError:
        raise PluginError(f"{label}: {module_text} has no attribute {name!r}") from None
