"""Options of search components: one frozen dataclass per component, checked once.

Every searcher, acquisition function and pool strategy declares its options as a frozen
dataclass whose fields all have defaults; ``__post_init__`` validates them with the checks
below and raises :class:`OptionsError` naming the option. Defaults live only there: the command
line, ``RunConfig`` and the docs read them from the dataclass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

from hnas.errors import UsageError

__all__ = [
    "OptionsError",
    "check_int",
    "check_number",
    "check_probability",
    "build_options",
    "option_defaults",
    "parse_option_value",
]

T = TypeVar("T")


class OptionsError(UsageError, ValueError):
    """A component option that does not exist or has a bad value; ``option`` names it."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` if it is an integer >= ``low``, else OptionsError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise OptionsError(f"option {name} must be an integer >= {low}, got {value!r}", name)
    return value


def check_number(name: str, value: Any, low: float = -math.inf) -> float:
    """``float(value)`` if it is a finite number >= ``low``, else OptionsError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < low:
        bound = "" if low == -math.inf else f" >= {low}"
        raise OptionsError(f"option {name} must be a finite number{bound}, got {value!r}", name)
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """``float(value)`` if it is a number in [0, 1], else OptionsError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise OptionsError(f"option {name} must be a probability in [0, 1], got {value!r}", name)
    return float(value)


def option_defaults(options_class: type) -> dict[str, Any]:
    """The option names of a dataclass with their defaults, in declaration order."""
    out = {}
    for f in fields(options_class):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
        else:
            raise TypeError(f"option {f.name} of {options_class.__qualname__} needs a default")
    return out


def build_options(options_class: type[T], values: Mapping[str, Any], owner: str) -> T:
    """``options_class(**values)``; an unknown option is an OptionsError listing the accepted ones."""
    if not is_dataclass(options_class):
        raise TypeError(f"{owner}: Options must be a dataclass, got {options_class!r}")
    accepted = option_defaults(options_class)
    for name in values:
        if name not in accepted:
            listed = ", ".join(accepted) or "none"
            raise OptionsError(f"{owner} takes no option {name!r} (its options: {listed})", name)
    return options_class(**values)


def parse_option_value(text: str) -> Any:
    """A command-line value: an int, a float, true/false, none, or else the string itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
