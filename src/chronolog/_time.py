"""Time: UTC inside, timezone-aware at the edges.

The store keeps every instant as integer microseconds since the Unix epoch
(UTC). Integers range-scan and bucket the same way on SQLite and PostgreSQL,
so bucket arithmetic is plain integer division on both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo

from .errors import ValidationError

__all__ = [
    "DURATION_HELP",
    "TIME_HELP",
    "Clock",
    "from_micros",
    "parse_duration",
    "parse_when",
    "require_aware",
    "system_clock",
    "to_micros",
    "utcnow",
]

Clock = Callable[[], datetime]
"""A function returning the current time as an aware datetime (a test seam)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")

MAX_DURATION = timedelta(days=100 * 366)
"""The longest duration accepted (a century): a job's delay, a lease, a token's life…
Anything added to now stays a date Python can hold (a delay of 10**12 seconds was
written, then broke every read of the job)."""
DURATION_HELP = "90s, 5m, 2h, 7d, 1h30m or seconds"
"""What a duration may be written as (:func:`parse_duration`)."""
TIME_HELP = "ISO 8601 (no offset: the zone in use), now, today, yesterday, or 2h / 7d ago"
"""What a time may be written as (:func:`parse_when` with ``relative=True``)."""


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
    """Integer microseconds since the epoch → aware UTC datetime (a value past what a
    datetime holds, written before durations were bounded, reads as the latest one)."""
    try:
        return _EPOCH + timedelta(microseconds=value)
    except OverflowError:
        return _LATEST if value > 0 else _EARLIEST


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
        text = value.strip().lower()
        if _NUMBER.match(text):
            total = float(text)
        elif _WHOLE.match(text):
            total = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        else:
            raise ValidationError(
                f"{name} {value!r} is not a duration: use {DURATION_HELP}", field=name
            )
        try:
            result = timedelta(seconds=total)
        except OverflowError:
            raise ValidationError(f"{name} {value!r} is too long", field=name) from None
    else:
        raise ValidationError(f"{name} must be a duration, got {type(value).__name__}", field=name)
    if result <= timedelta(0):
        raise ValidationError(f"{name} must be positive, got {value!r}", field=name)
    if result > MAX_DURATION:
        raise ValidationError(f"{name} {value!r} is too long: at most 100 years", field=name)
    return result


def parse_when(
    value: str,
    name: str,
    *,
    tz: tzinfo | None = None,
    now: datetime | None = None,
    relative: bool = False,
) -> datetime:
    """A time written by a person or sent as text: the one parser of the CLI, the HTTP
    routes, the dashboard and the TUI.

    ISO 8601 / RFC 3339 (``Z`` allowed). A time without an offset is read in ``tz``;
    with ``tz=None`` it is refused (the HTTP API). With ``relative``, also ``now``,
    ``today``, ``yesterday`` (midnight in ``tz``) and a duration meaning that long
    ago (``2h``, ``7d ago``). ``ValidationError`` naming ``name`` otherwise.
    """
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationError(f"{name} must be a time written as text", field=name)
    text = value.strip()
    low = text.lower()
    if relative:
        current = now or utcnow()
        zone = tz or UTC
        if low == "now":
            return current
        if low in {"today", "yesterday"}:
            day = current.astimezone(zone).date() - timedelta(days=1 if low == "yesterday" else 0)
            return datetime.combine(day, time(), tzinfo=zone)
        ago = low.removesuffix("ago").strip()
        if ago and _WHOLE.match(ago):
            try:
                return current - parse_duration(ago, name)
            except OverflowError:
                raise ValidationError(f"{name} {value!r} is too long ago", field=name) from None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        accepted = TIME_HELP if relative else "an ISO 8601 time, e.g. 2026-11-21T09:30:00Z"
        raise ValidationError(
            f"{name}: {value!r} is not a time: use {accepted}", field=name
        ) from None
    if parsed.tzinfo is None:
        if tz is None:
            raise ValidationError(
                f"{name} must be an RFC 3339 time with a zone, e.g. 2026-11-21T09:30:00Z",
                field=name,
            )
        parsed = parsed.replace(tzinfo=tz)
    if not 1 <= parsed.year <= 9998:
        raise ValidationError(f"{name} is out of range", field=name)
    return parsed
