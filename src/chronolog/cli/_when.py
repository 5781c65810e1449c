"""Times and durations on the command line, read and shown one way in every command.

- A **duration** flag (``--delay``, ``--lease``, ``--older-than``, ``--keep-events`` …)
  takes ``90s``, ``5m``, ``2h``, ``7d``, ``2w``, a compound such as ``1h30m``, or a
  plain number of seconds (``45``, ``2.5``).
- A **time** flag (``--since``, ``--until``, ``--at``) takes an ISO 8601 date or
  time, ``now``, ``today``, ``yesterday``, or a duration meaning that long ago
  (``2h``, ``7d ago``). A time without an offset is in ``--tz`` (``$CHRONOLOG_TZ``),
  which is UTC unless given; ``Z`` or ``+02:00`` in the text always wins.
- Tables show times in the same zone, and their headers name it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

__all__ = [
    "DURATION_HELP",
    "TIME_HELP",
    "TzOption",
    "duration_option",
    "parse_duration",
    "parse_time",
    "seconds",
    "show_time",
    "zone",
    "zone_label",
]

DURATION_HELP = "90s, 5m, 2h, 7d, 1h30m or seconds"
TIME_HELP = "ISO 8601 (no offset: --tz), now, today, or 2h / 7d ago"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def parse_duration(value: str) -> timedelta:
    """``"90s"``, ``"1h30m"``, ``"45"`` (seconds) → a positive ``timedelta``.

    Raises ``typer.BadParameter`` (the flag's name is added by the caller's option).
    """
    text = value.strip().lower()
    if _NUMBER.match(text):
        total = float(text)
    elif _WHOLE.match(text):
        total = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    else:
        raise typer.BadParameter(f"{value!r} is not a duration: use {DURATION_HELP}")
    if total <= 0:
        raise typer.BadParameter(f"{value!r} is not a duration: it must be more than 0")
    try:
        return timedelta(seconds=total)
    except OverflowError:
        raise typer.BadParameter(f"{value!r} is too long") from None


def seconds(value: timedelta | None) -> float | None:
    """A duration as seconds, for the library's ``float`` parameters."""
    return None if value is None else value.total_seconds()


def zone(name: str | None) -> tzinfo:
    """The zone named ``name`` (``None``, ``""`` and ``UTC`` are UTC)."""
    if not name or name.upper() in {"UTC", "Z"}:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise typer.BadParameter(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Paris, or UTC"
        ) from None


def zone_label(tz: tzinfo) -> str:
    """``"UTC"`` or the zone's IANA name, for table headers."""
    return "UTC" if tz is UTC else str(getattr(tz, "key", tz))


def parse_time(value: str, tz: tzinfo, *, now: datetime | None = None) -> datetime:
    """An aware time from the command line (see the module's rules).

    Raises ``typer.BadParameter`` with what is accepted.
    """
    text = value.strip()
    low = text.lower()
    current = now or datetime.now(UTC)
    if low == "now":
        return current
    if low in {"today", "yesterday"}:
        day = current.astimezone(tz).date() - timedelta(days=1 if low == "yesterday" else 0)
        return datetime.combine(day, time(), tzinfo=tz)
    ago = low.removesuffix("ago").strip()
    if ago and _WHOLE.match(ago):
        return current - parse_duration(ago)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time: use {TIME_HELP}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def show_time(value: datetime | None, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time for a table, in ``tz`` (blank for none)."""
    return "" if value is None else value.astimezone(tz).strftime(fmt)


def _zone_callback(value: str | None) -> str | None:
    zone(value)  # refuse an unknown zone before the command runs
    return value


TzOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        envvar="CHRONOLOG_TZ",
        metavar="ZONE",
        callback=_zone_callback,
        help="Time zone of times given without an offset, and of times shown "
        "(e.g. Europe/Paris). Default: UTC.",
        show_default=False,
    ),
]


def duration_option(help: str, *decls: str) -> Any:
    """A ``typer.Option`` that reads a duration (``Annotated[timedelta | None, …]``)."""
    return typer.Option(
        *decls,
        parser=parse_duration,
        metavar="DURATION",
        help=f"{help} ({DURATION_HELP}).",
        show_default=False,
    )
