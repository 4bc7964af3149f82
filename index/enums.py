"""Parsing of the engine's option enums, with an error that lists the valid values."""

from __future__ import annotations

import enum
from typing import TypeVar

from .errors import InputError

E = TypeVar("E", bound=enum.Enum)


def parse_enum(cls: type[E], value: object, what: str) -> E:
    """`cls(value)` case-insensitively; InputError naming `what` and the valid values otherwise."""
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value).lower())
    except ValueError:
        valid = ", ".join(str(m.value) for m in cls)
        raise InputError(f"unknown {what} {value!r}: use one of {valid}") from None
