"""Local days for the timeline: where a time zone's UTC offset changes inside a window,
and the per-day distinct-entity counts, summed from ``transition_slots``.

How a day is counted (exact, for any ``tzinfo``):

- a whole local day whose midnight is on a 15-minute slot edge (every zone in use
  today) is a sum over its 96 slots of the slot counters; consecutive such days
  of one UTC offset are one statement;
- a day cut by the window's ends, or lengthened or shortened by a DST change, is
  a sum over the whole slots inside it (at most 100: 25 hours), plus the
  entities that moved only in its partial slots at the ends (at most 15 minutes
  each, read from ``transitions``) — unless the part of such a slot outside the
  day holds no move at all (at "now", nothing has happened later yet): then the
  whole slot is summed from the counters;
- anything else (an offset that is not a multiple of 15 minutes, a day longer
  than 25 hours, a day in two pieces) is counted from ``transitions`` directly.

Jobs' moves are their activity events, not transitions: their days are
distinct-job counts over the events of each local day (``job_moves``).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import Connection

from .._time import from_micros
from ..store.schema.states import SLOT_GAP_CAP, SLOT_MICROS
from ..store.sql import job_moves
from ..store.sql import transitions as tsql

__all__ = ["day_counts", "day_of", "local_days", "offsets_between"]

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
            # Zones change offset on a whole second: the one in (lo, hi].
            second = (lo // 1_000_000 + 1) * 1_000_000
            if second <= hi and _offset_micros(tz, second) != current:
                hi = second
            spans.append((hi, current))
            current = nxt
        t = step
    spans.append((None, current))
    return spans


def day_of(index: int) -> date:
    """The date of a day numbered from the epoch (after the shift to local time)."""
    return datetime.fromtimestamp(index * _DAY_SECONDS, UTC).date()


_DAY = _DAY_SECONDS * 1_000_000


def local_days(
    spans: list[tuple[int | None, int]], since: int, until: int
) -> dict[int, list[tuple[int, int, int]]]:
    """The window [since, until) cut into local days: {day index: [(start, end, offset)]}.

    ``spans`` come from :func:`offsets_between`. A day usually is one piece; it
    has two when the offset changes inside it, and in rare zones (a change at
    midnight) two pieces that do not touch.
    """
    days: dict[int, list[tuple[int, int, int]]] = {}
    start = since
    for end_or_none, offset in spans:
        end = until if end_or_none is None else min(end_or_none, until)
        t = start
        while t < end:
            day = (t + offset) // _DAY
            stop = min(end, (day + 1) * _DAY - offset)
            days.setdefault(day, []).append((t, stop, offset))
            t = stop
        start = max(start, end)
    return days


def day_counts(
    conn: Connection, flt: tsql.TransitionFilter, tz: tzinfo | None, since: int, until: int
) -> list[tuple[int, str, str, int]]:
    """(day index, kind, to_state, distinct entities) for the local days of [since, until)."""
    totals: Counter[tuple[int, str, str]] = Counter()
    runs: list[list[int]] = []  # [offset in slots, first slot, end slot] of whole regular days
    days = sorted(local_days(offsets_between(tz, since, until), since, until).items())
    jobs = (flt.kinds is None or job_moves.JOB_KIND in flt.kinds) and job_moves.job_moves_present(
        conn, flt.project_id
    )
    tracked = flt.kinds is None or any(k != job_moves.JOB_KIND for k in flt.kinds)
    for day, pieces in days:
        merged = [pieces[0][:2]]
        for start, end, _ in pieces[1:]:
            if merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        if jobs:  # a job's moves are its events: counted from them, per day
            for state, n in job_moves.job_move_day_counts(
                conn, flt.project_id, flt.to_states, merged
            ):
                totals[(day, job_moves.JOB_KIND, state)] += n
        if not tracked:
            continue
        if len(merged) > 1:  # a day in two pieces: count the union from the moves
            for kind, state, n in tsql.transition_distinct_edges(conn, flt, merged, (0, 0)):
                totals[(day, kind, state)] += n
            continue
        (x, y), offset = merged[0], pieces[0][2]
        if (
            len(pieces) == 1
            and y - x == _DAY
            and x % SLOT_MICROS == 0
            and offset % SLOT_MICROS == 0
            and x + offset >= 0
        ):
            first, shift = x // SLOT_MICROS, offset // SLOT_MICROS
            if runs and runs[-1][0] == shift and runs[-1][2] == first:
                runs[-1][2] = y // SLOT_MICROS
            else:
                runs.append([shift, first, y // SLOT_MICROS])
            continue
        lo, hi = -(-x // SLOT_MICROS), y // SLOT_MICROS  # whole slots inside [x, y)
        if not 1 <= hi - lo <= SLOT_GAP_CAP:
            for kind, state, n in tsql.transition_distinct_between(conn, flt, x, y):
                totals[(day, kind, state)] += n
            continue
        # A partial slot at an end whose other part holds no move at all (the usual
        # case at "now": nothing has happened after it yet) counts as a whole slot.
        pid = flt.project_id
        if (
            y % SLOT_MICROS
            and hi + 1 - lo <= SLOT_GAP_CAP
            and not tsql.transition_any_between(conn, pid, y, (hi + 1) * SLOT_MICROS)
        ):
            hi, y = hi + 1, (hi + 1) * SLOT_MICROS
        if (
            x % SLOT_MICROS
            and hi - lo + 1 <= SLOT_GAP_CAP
            and not tsql.transition_any_between(conn, pid, (lo - 1) * SLOT_MICROS, x)
        ):
            lo, x = lo - 1, (lo - 1) * SLOT_MICROS
        for kind, state, n in tsql.transition_slot_counts_range(conn, flt, lo, hi):
            totals[(day, kind, state)] += n
        edges = [(a, b) for a, b in ((x, lo * SLOT_MICROS), (hi * SLOT_MICROS, y)) if a < b]
        if edges:
            core = (lo * SLOT_MICROS, hi * SLOT_MICROS)
            for kind, state, n in tsql.transition_distinct_edges(conn, flt, edges, core):
                totals[(day, kind, state)] += n
    for shift, first, end in runs:
        for day, kind, state, n in tsql.transition_slot_counts_days(conn, flt, first, end, shift):
            totals[(day, kind, state)] += n
    return [(d, k, s, n) for (d, k, s), n in totals.items() if n > 0]
