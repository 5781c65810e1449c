"""Integer inputs of ``cl.states`` checked against the columns they are compared with.

PostgreSQL refuses a bound value outside the column's type (``sort_key`` is an
INTEGER, times and row keys are BIGINT) with a driver error; SQLite's driver
refuses anything beyond 64 bits. Checking first turns both into a
``ValidationError`` that names the argument.
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError

__all__ = ["INT32_MAX", "INT64_MAX", "INT64_MIN", "check_int", "keyset_position"]

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def check_int(value: Any, name: str, low: int, high: int) -> int:
    """``value`` if it is an integer (not a bool) in [low, high]; else ``ValidationError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}", field=name)
    return value


def keyset_position(position: dict[str, Any]) -> tuple[tuple[int, int], int]:
    """((time, row key), page number) of a decoded cursor, every part range-checked."""
    try:
        at, key, page = position["t"], position["i"], position.get("p", 1)
        return (
            (check_int(at, "cursor", INT64_MIN, INT64_MAX), check_int(key, "cursor", 0, INT64_MAX)),
            check_int(page, "cursor", 1, INT64_MAX),
        )
    except (KeyError, ValidationError):
        raise ValidationError("cursor is not valid", field="cursor") from None
