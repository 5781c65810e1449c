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

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from .. import _time
from .._time import DURATION_HELP, TIME_HELP
from ..errors import ValidationError

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


def parse_duration(value: str) -> timedelta:
    """``"90s"``, ``"1h30m"``, ``"45"`` (seconds) → a positive ``timedelta``
    (:func:`chronolog._time.parse_duration`, the library's one reader).

    Raises ``typer.BadParameter`` (the flag's name is added by the caller's option).
    """
    try:
        return _time.parse_duration(value, "duration")
    except ValidationError as exc:
        raise typer.BadParameter(exc.message.removeprefix("duration ")) from None


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
    """An aware time from the command line (see the module's rules and
    :func:`chronolog._time.parse_when`, the one time parser).

    Raises ``typer.BadParameter`` with what is accepted.
    """
    try:
        return _time.parse_when(value, "time", tz=tz, now=now, relative=True)
    except ValidationError as exc:
        raise typer.BadParameter(exc.message.removeprefix("time: ")) from None


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
