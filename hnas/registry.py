"""``Registry``: the one mechanism behind every ``register_*`` function of hnas.

Topologies, primitives, compilers, objectives, searchers, surrogates, acquisition functions and
pool strategies each live in a ``Registry``. Its rules hold everywhere:

- registering a name that exists raises :class:`~hnas.errors.RegistryError` unless
  ``replace=True`` is given (a plugin cannot silently shadow a built-in or another plugin);
- looking a name up never registers anything; an unknown name is a ``RegistryError`` that lists
  the known names;
- built-ins can be registered lazily by a ``loader`` (e.g. a module that needs torch), which runs
  once before the first lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from hnas.errors import RegistryError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind (``kind`` is used in messages, e.g. ``"searcher"``)."""

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self.version = 0
        """Incremented by every registration, so a cache derived from the entries can tell it is stale."""
        self._loader = loader
        self._loading = False

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Add ``entry`` as ``name``; an existing name needs ``replace=True``. Returns ``entry``."""
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        self._load()
        if name in self._entries and not replace:
            raise RegistryError(
                f"{self.kind} {name!r} is already registered; pass replace=True to replace it"
            )
        self._entries[name] = entry
        self.version += 1
        return entry

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name lists the registered ones."""
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self._entries)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}; registered: {known}") from None

    def find(self, name: str) -> T | None:
        """The entry registered as ``name``, or ``None``."""
        self._load()
        return self._entries.get(name)

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        self._load()
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def _load(self) -> None:
        if self._loader is not None and not self._loading:
            loader, self._loading = self._loader, True
            try:
                loader()
            finally:
                self._loader, self._loading = None, False
