"""When a schedule fires: five-field cron in a time zone (cronsim) or a fixed interval.

Cron expressions are parsed and stepped by `cronsim`_ (a small, maintained
parser, used by Healthchecks.io, that follows cronie on daylight-saving
changes: a time skipped by a spring-forward gap fires at the first minute
after the gap, a time repeated by a fall-back fires once). A fixed interval of
``every`` seconds fires at the multiples of ``every`` since the Unix epoch
(UTC), so ``every=60`` fires on the minute and every process agrees on the
fire times without asking anyone.

.. _cronsim: https://github.com/cuu508/cronsim
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .._time import from_micros, to_micros
from ..errors import ValidationError

__all__ = ["MAX_EVERY", "Timing", "check_tz", "timing"]

MAX_EVERY = 366 * 86400
"""The longest fixed interval, in seconds (a year; use cron for anything calendar-like)."""

_SECOND = 1_000_000
_TZ = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")


def check_tz(tz: object) -> ZoneInfo:
    """An IANA time zone name (``UTC``, ``Europe/Berlin``) → its zone; else ValidationError."""
    if not isinstance(tz, str) or not tz or len(tz) > 64 or not _TZ.match(tz):
        raise ValidationError(
            f"tz must be an IANA time zone name such as 'Europe/Berlin', got {tz!r}", field="tz"
        )
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(f"unknown time zone {tz!r}", field="tz") from None


@dataclass(frozen=True, slots=True)
class Timing:
    """A checked schedule timing: ``cron`` (in ``tz``) or ``every`` seconds."""

    cron: str | None
    every: int | None
    tz: str
    zone: ZoneInfo

    def after(self, at: int) -> int:
        """The first fire time strictly after ``at`` (µs UTC)."""
        if self.every is not None:
            step = self.every * _SECOND
            return (at // step + 1) * step
        assert self.cron is not None
        start = from_micros(at).astimezone(self.zone)
        return to_micros(next(CronSim(self.cron, start)).astimezone(UTC))

    def newest(self, at: int, since: int, limit: int) -> list[int]:
        """Up to ``limit`` fire times in [since, at], newest first."""
        if at < since or limit < 1:
            return []
        if self.every is not None:
            step = self.every * _SECOND
            last = at // step * step
            return [t for t in range(last, max(since, 0) - 1, -step)[:limit] if t >= since]
        assert self.cron is not None
        # cronsim steps whole minutes strictly before its start: start just past ``at``.
        start = from_micros(at + _SECOND).astimezone(self.zone).replace(second=0, microsecond=0)
        start += timedelta(minutes=1)
        found: list[int] = []
        for moment in CronSim(self.cron, start, reverse=True):
            t = to_micros(moment.astimezone(UTC))
            if t > at:
                continue
            if t < since or len(found) >= limit:
                break
            found.append(t)
        return found

    def count(self, since: int, until: int, cap: int = 100_000) -> int:
        """How many fire times fall in [since, until] (at most ``cap``: cron is stepped)."""
        if until < since:
            return 0
        if self.every is not None:
            step = self.every * _SECOND
            return max(0, until // step - (since - 1) // step)
        assert self.cron is not None
        n = 0
        start = from_micros(since - 1).astimezone(self.zone)
        for moment in CronSim(self.cron, start):
            if to_micros(moment.astimezone(UTC)) > until or n >= cap:
                break
            n += 1
        return n

    def upcoming(self, at: int, n: int) -> list[int]:
        """The next ``n`` fire times at or after ``at``."""
        times: list[int] = []
        t = at - 1
        for _ in range(n):
            t = self.after(t)
            times.append(t)
        return times


def timing(cron: object, every: object, tz: object) -> Timing:
    """Check ``cron`` / ``every`` / ``tz`` (exactly one of cron and every) into a Timing."""
    zone = check_tz(tz)
    assert isinstance(tz, str)
    if (cron is None) == (every is None):
        raise ValidationError("give exactly one of cron and every", field="cron")
    if cron is not None:
        if not isinstance(cron, str) or len(cron) > 255:
            raise ValidationError("cron must be a five-field cron expression", field="cron")
        expr = " ".join(cron.split())
        if len(expr.split(" ")) != 5:
            raise ValidationError(
                f"cron must have five fields (minute hour day month weekday), got {cron!r}",
                field="cron",
            )
        try:
            next(CronSim(expr, datetime(2000, 1, 1, tzinfo=zone)))
        except (CronSimError, StopIteration, ValueError, IndexError, OverflowError) as exc:
            raise ValidationError(f"bad cron expression {cron!r}: {exc}", field="cron") from None
        return Timing(expr, None, tz, zone)
    if isinstance(every, timedelta):
        whole = every.total_seconds()
        if whole != int(whole):
            raise ValidationError("every must be a whole number of seconds", field="every")
        every = int(whole)
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= MAX_EVERY:
        raise ValidationError(
            f"every must be from 1 to {MAX_EVERY} seconds (an int or a timedelta)", field="every"
        )
    return Timing(None, every, tz, zone)
