"""The one exception type for problems in grammar files and tree strings."""

from __future__ import annotations

from hnas.errors import HnasError

__all__ = ["GrammarError"]


class GrammarError(HnasError, ValueError):
    """A user error in a grammar file (with ``file`` and ``line``) or a tree string (``position``).

    ``str(error)`` reads ``file:line:column: message`` or ``position N: message``; several problems
    found at once are listed one per line, the first one's location in the attributes.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        position: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.position = position
        super().__init__(self._render())

    def _render(self) -> str:
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            return f"{where}: {self.message}"
        if self.position is not None:
            return f"position {self.position}: {self.message}"
        return self.message

    @classmethod
    def combine(cls, errors: list[GrammarError]) -> GrammarError:
        """One error listing all of ``errors`` (one per line, each distinct line once: a mistake
        repeated on one grammar line is reported once), located at the first."""
        first = errors[0]
        lines = list(dict.fromkeys(str(e) for e in errors))
        if len(lines) == 1:
            return first
        combined = cls(first.message, file=first.file, line=first.line, column=first.column)
        combined.args = ("\n".join(lines),)
        return combined

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple:
        """Pickle with the location attributes (the rendered text may list several problems)."""
        return (_rebuild, (self.args[0], self.message, self.file, self.line, self.column, self.position))


def _rebuild(text: str, message: str, file: str | None, line: int | None, column: int | None,
             position: int | None) -> GrammarError:
    error = GrammarError(message, file=file, line=line, column=column, position=position)
    error.args = (text,)
    return error
