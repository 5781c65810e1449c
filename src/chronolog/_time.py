"""Time: UTC inside, timezone-aware at the edges.

The store keeps every instant as integer microseconds since the Unix epoch
(UTC). Integers range-scan and bucket the same way on SQLite and PostgreSQL,
so bucket arithmetic is plain integer division on both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from .errors import ValidationError

__all__ = [
    "Clock",
    "from_micros",
    "parse_duration",
    "require_aware",
    "system_clock",
    "to_micros",
    "utcnow",
]

Clock = Callable[[], datetime]
"""A function returning the current time as an aware datetime (a test seam)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


system_clock: Clock = utcnow


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC, or raise ``ValidationError`` if it is naive."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{name} must be a datetime, got {type(value).__name__}", field=name)
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValidationError(
            f"{name} must be timezone-aware (naive datetimes are ambiguous); "
            "pass e.g. datetime.now(UTC)",
            field=name,
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise ValidationError(f"{name} is out of range once moved to UTC", field=name) from None


def to_micros(value: datetime) -> int:
    """Aware datetime → integer microseconds since the epoch."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """Integer microseconds since the epoch → aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=value)


def parse_duration(value: str | timedelta | int | float, name: str = "duration") -> timedelta:
    """Parse ``90s``, ``15m``, ``24h``, ``7d``, ``2w``, a number of seconds or a timedelta."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValidationError(f"{name} must be a duration, got a boolean", field=name)
    elif isinstance(value, int | float):
        try:
            result = timedelta(seconds=value)
        except (OverflowError, ValueError):  # huge, NaN or infinite
            raise ValidationError(
                f"{name} {value!r} is not a usable duration", field=name
            ) from None
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValidationError(
                f"{name} {value!r} is not a duration: use a number and a unit (s, m, h, d, w), e.g. '24h'",
                field=name,
            )
        try:
            result = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
        except OverflowError:
            raise ValidationError(f"{name} {value!r} is too long", field=name) from None
    else:
        raise ValidationError(f"{name} must be a duration, got {type(value).__name__}", field=name)
    if result <= timedelta(0):
        raise ValidationError(f"{name} must be positive, got {value!r}", field=name)
    return result
