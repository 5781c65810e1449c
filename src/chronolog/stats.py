"""Counts of events per time bucket, zero-filled, from rollups (``cl.stats``).

Charts never scan events. Every event write adds to per-minute,
per-15-minute, per-hour and per-UTC-day counter rows in the same transaction
(``_rollups.rollup_rows``), so a chart reads a few hundred small rows
whatever the size of the log, and keeps working after the raw events are
purged.

Bucket edges are exact: each bucket is ``[start, end)``, aligned to its size
(calendar days in the requested time zone for day buckets, so a day may last
23 or 25 hours), the last bucket is the one holding *now*, there is no bucket
from the future, and every event falls in exactly one bucket. Whole UTC days
of a bucket are read from day rows, whole hours from hour rows, whole
quarter-hours from 15-minute rows, ragged edges from minute rows.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._rollups import DAY, HOUR, MINUTE, QUARTER
from ._scope import Scope
from ._time import parse_duration, require_aware, to_micros
from .errors import ValidationError
from .models import Bucket, Series
from .query import EventQuery
from .store.sql import stats as sql

__all__ = ["GROUP_BY", "WINDOWS", "Bucket", "Series", "Stats"]

WINDOWS: dict[str, tuple[int, timedelta]] = {
    "1h": (12, timedelta(minutes=5)),
    "3h": (12, timedelta(minutes=15)),
    "6h": (12, timedelta(minutes=30)),
    "1d": (24, timedelta(hours=1)),
    "7d": (7, timedelta(days=1)),
    "30d": (30, timedelta(days=1)),
}
"""Named windows: (number of buckets, bucket size). Day buckets are calendar days."""

GROUP_BY = sql.GROUP_COLUMNS
"""What a chart can be grouped by."""

_FILTER_OF = {
    "action": "actions",
    "event_type": "event_types",
    "status": "statuses",
    "actor_type": "actor_types",
    "target_type": "target_types",
}
MAX_BUCKETS = 5000
_LEVELS = (DAY, HOUR, QUARTER, MINUTE)  # coarsest first


def _zone(tz: str | tzinfo | None) -> tzinfo:
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz or len(tz) > 64:
        raise ValidationError("tz must be an IANA time zone name such as 'Europe/Paris'")
    if tz.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {tz!r}", field="tz") from None


def _seconds(value: datetime) -> int:
    return to_micros(value) // 1_000_000


class _Grid:
    """Bucket arithmetic for one size and zone: floor, next and previous starts (seconds)."""

    def __init__(self, size: timedelta, tz: tzinfo, now: datetime) -> None:
        seconds = size.total_seconds()
        if seconds < MINUTE or seconds % MINUTE:
            raise ValidationError(
                "bucket must be a whole number of minutes, at least 1m", field="bucket"
            )
        self.tz = tz
        self.size = int(seconds)
        self.days = self.size // DAY if self.size % DAY == 0 else 0
        offset = now.astimezone(tz).utcoffset() or timedelta(0)
        # Sub-day buckets follow the zone's offset at "now" (whole hours in most
        # zones, so hour buckets stay on UTC hours; +05:30 shifts them by 30 min).
        self.offset = int(offset.total_seconds())
        if self.offset % MINUTE:
            raise ValidationError("time zones with a sub-minute UTC offset are not supported")

    def _midnight(self, day: date) -> int:
        # fold=0 at a skipped or repeated midnight yields the first instant of that day.
        start = _seconds(datetime(day.year, day.month, day.day, tzinfo=self.tz))
        if start % MINUTE:
            raise ValidationError("this time zone's day does not start on a whole minute")
        return start

    def floor(self, second: int) -> int:
        if self.days:
            local = datetime.fromtimestamp(second, UTC).astimezone(self.tz).date()
            local -= timedelta(days=local.toordinal() % self.days)
            return self._midnight(local)
        return (second + self.offset) // self.size * self.size - self.offset

    def step(self, start: int, n: int) -> int:
        if self.days:
            local = datetime.fromtimestamp(start, UTC).astimezone(self.tz).date()
            return self._midnight(local + timedelta(days=n * self.days))
        return start + n * self.size


def _ranges(edges: list[int]) -> list[tuple[int, int, int]]:
    """Split ``[edges[0], edges[-1])`` into rollup ranges: the coarsest level fitting each bucket.

    Each bucket is covered by whole UTC days where it holds some, whole hours
    around them, whole quarter-hours around those, and minutes at the ragged
    ends; every rollup row read lies inside exactly one bucket, so counts are exact.
    """
    parts: list[tuple[int, int, int]] = []

    def cover(a: int, b: int, levels: tuple[int, ...]) -> None:
        if a >= b:
            return
        size, finer = levels[0], levels[1:]
        lo, hi = -(-a // size) * size, b // size * size
        if not finer:
            parts.append((size, a, b))
        elif lo < hi:
            parts.append((size, lo, hi))
            cover(a, lo, finer)
            cover(hi, b, finer)
        else:
            cover(a, b, finer)

    for a, b in itertools.pairwise(edges):
        cover(a, b, _LEVELS)
    merged: list[tuple[int, int, int]] = []
    for gran, lo, hi in sorted(parts, key=lambda p: (p[0], p[1])):
        if merged and merged[-1][0] == gran and merged[-1][2] == lo:
            merged[-1] = (gran, merged[-1][1], hi)
        else:
            merged.append((gran, lo, hi))
    return merged


class Stats:
    """Zero-filled bucket counts of one project's events."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def buckets(
        self,
        window: str | None = None,
        *,
        query: EventQuery | None = None,
        group_by: str | None = None,
        tz: str | tzinfo | None = None,
        now: datetime | None = None,
        bucket: str | timedelta | int | None = None,
        **filters: Any,
    ) -> Series:
        """Counts per bucket, oldest first, of the events ``query`` matches (an
        :class:`~chronolog.EventQuery`, or its fields as keywords).

        Either a named ``window`` (``1h`` 12 x 5 min, ``3h`` 12 x 15 min, ``6h``
        12 x 30 min, ``1d`` 24 x 1 h, ``7d`` 7 days with today, ``30d``), or
        the query's ``since`` (and optionally ``until``, exclusive) with a ``bucket``
        size. Edges are aligned outwards to the bucket size; the last bucket is the
        one holding ``now`` (default: the clock) or ``until``, never later.
        ``group_by`` is one of :data:`GROUP_BY`. Counts come from rollups, which
        hold no actor id, target id or text: those fields (and ``date_range``:
        use a window) are refused.
        """
        q = EventQuery.build(query, filters)
        q.refuse(
            ("actor_id", "target_id", "search", "date_range"),
            "stats",
            "counts are kept per event type, action, status, actor type and target type "
            "(date_range: give a window)",
        )
        since, until = q.since, q.until
        if group_by is not None and group_by not in GROUP_BY:
            raise ValidationError(
                f"group_by must be one of {list(GROUP_BY)}, got {group_by!r}", field="group_by"
            )
        zone = _zone(tz)
        current = self._scope.clock() if now is None else require_aware(now, "now")
        now_s = _seconds(current)
        try:
            edges = self._edges(window, zone, current, now_s, since, until, bucket)
            # Each edge converted once: a bucket's end is the next one's start.
            times = [datetime.fromtimestamp(edge, UTC).astimezone(zone) for edge in edges]
        except (OverflowError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                raise
            # Bucket edges aligned outwards past year 1 or 9999 (since=0001-01-01, 1000d).
            raise ValidationError(
                "the range is too close to year 1 or 9999 to be cut into these buckets",
                field="since",
            ) from None
        flt = sql.CountFilter(
            project_id=self._scope.project_id,
            event_types=q.event_types,
            actions=q.actions,
            statuses=q.statuses,
            actor_types=q.actor_types,
            target_types=q.target_types,
        )
        with self._scope.store.read() as conn:
            rows = sql.count_ranges(
                conn, self._scope.store.dialect, flt, _ranges(edges), group_by, edges
            )
        asked = getattr(flt, _FILTER_OF[group_by]) if group_by is not None else None
        groups: list[str] = list(dict.fromkeys(asked)) if asked else []
        seen = set(groups)
        n = len(edges) - 1
        cells: list[dict[str, int]] = [{} for _ in range(n)]
        for index, grp, count in rows:
            cell = cells[int(index)]
            cell[grp] = cell.get(grp, 0) + int(count)
            if group_by is not None and grp not in seen:
                seen.add(grp)
                groups.append(grp)
        if not asked:
            groups.sort()
        out = []
        for i, cell in enumerate(cells):
            counts = {g: cell.get(g, 0) for g in groups} if group_by is not None else {}
            out.append(
                Bucket(start=times[i], end=times[i + 1], total=sum(cell.values()), counts=counts)
            )
        return Series(
            buckets=tuple(out),
            group_by=group_by,
            groups=tuple(groups) if group_by is not None else (),
            tz=str(zone),
            window=window,
        )

    def _edges(
        self,
        window: str | None,
        zone: tzinfo,
        current: datetime,
        now_s: int,
        since: datetime | None,
        until: datetime | None,
        bucket: str | timedelta | int | None,
    ) -> list[int]:
        if window is not None:
            if since is not None or until is not None or bucket is not None:
                raise ValidationError("give a window, or since/until/bucket, not both")
            if window not in WINDOWS:
                raise ValidationError(
                    f"window must be one of {list(WINDOWS)}, got {window!r}", field="window"
                )
            count, size = WINDOWS[window]
            grid = _Grid(size, zone, current)
            last = grid.floor(now_s)
            return [grid.step(last, i) for i in range(-(count - 1), 2)]
        if since is None:
            raise ValidationError("give a window (e.g. '1d') or since", field="window")
        lower = _seconds(require_aware(since, "since"))
        now_us = to_micros(current)
        until_us = None if until is None else to_micros(require_aware(until, "until"))
        # Open-ended (or ending in the future): the range runs to now, and the
        # last bucket is the one holding now, never a later one.
        open_ended = until_us is None or until_us > now_us
        upper_us = now_us if open_ended or until_us is None else until_us
        if upper_us <= to_micros(since):
            raise ValidationError("since must be before until (and before now)", field="since")
        size = parse_duration(bucket, "bucket") if bucket is not None else _auto(upper_us, lower)
        grid = _Grid(size, zone, current)
        # Otherwise the last bucket holds the last instant of [since, until): until - 1 µs.
        last = grid.floor(now_s) if open_ended else grid.floor((upper_us - 1) // 1_000_000)
        edges = [grid.floor(lower)]
        while edges[-1] <= last:
            if len(edges) > MAX_BUCKETS:
                raise ValidationError(
                    f"more than {MAX_BUCKETS} buckets: choose a larger bucket", field="bucket"
                )
            edges.append(grid.step(edges[-1], 1))
        return edges


def _auto(upper_us: int, lower_s: int) -> timedelta:
    """The smallest usual bucket size giving at most 60 buckets."""
    span = upper_us / 1_000_000 - lower_s
    for minutes in (1, 5, 15, 30, 60, 180, 360, 720, 1440):
        if span / (minutes * 60) <= 60:
            return timedelta(minutes=minutes)
    return timedelta(days=max(1, int(span // (60 * DAY)) + 1))
