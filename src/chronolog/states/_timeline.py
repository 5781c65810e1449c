"""Local days for the timeline: where a time zone's UTC offset changes inside a window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from .._time import from_micros

__all__ = ["day_of", "offsets_between"]

_DAY_SECONDS = 86_400


def _offset_micros(tz: tzinfo, micros: int) -> int:
    offset = from_micros(micros).astimezone(tz).utcoffset() or timedelta(0)
    return int(offset.total_seconds()) * 1_000_000


def offsets_between(tz: tzinfo | None, since: int, until: int) -> list[tuple[int | None, int]]:
    """(until, offset) spans covering [since, until): a move before ``until`` is shifted by
    ``offset`` microseconds to local time. One span unless the zone changes offset (DST)."""
    if tz is None or tz is UTC:
        return [(None, 0)]
    spans: list[tuple[int | None, int]] = []
    hour = 3_600_000_000
    current = _offset_micros(tz, since)
    t = since
    while t < until:
        step = min(t + hour, until)
        nxt = _offset_micros(tz, step)
        if nxt != current:
            lo, hi = t, step  # the change happens in (lo, hi]: find it to the second
            while hi - lo > 1_000_000:
                mid = (lo + hi) // 2
                if _offset_micros(tz, mid) == current:
                    lo = mid
                else:
                    hi = mid
            spans.append((hi, current))
            current = nxt
        t = step
    spans.append((None, current))
    return spans


def day_of(index: int) -> date:
    """The date of a day numbered from the epoch (after the shift to local time)."""
    return datetime.fromtimestamp(index * _DAY_SECONDS, UTC).date()
