"""The read side of ``cl.states`` across entities: lists by :class:`~chronolog.EntityQuery`,
counts, the timeline."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection

from .._cursor import cursor_int, decode_cursor, encode_cursor, fingerprint
from .._pages import fitting
from .._scope import Scope
from .._time import to_micros
from ..errors import NotFound, ValidationError
from ..models import Page
from ..query import EntityQuery
from ..store.sql import states as sql
from ..store.sql import transitions as tsql
from ..store.sql.job_moves import JOB_KIND
from ..store.sql.job_moves import job_move_page as job_page
from ._bounds import keyset_position
from ._rows import entity_from_row, job_transition_from_row, transition_from_row
from ._timeline import day_counts, day_of
from .machine import check_kind, machine_from_json
from .models import DayCount, Entity, Timeline, Transition
from .views import EntityViews

__all__ = ["Queries"]

MAX_TIMELINE_DAYS = 1000


def _window_start(end: datetime, days: int) -> int:
    try:
        return to_micros(end - timedelta(days=days))
    except OverflowError:
        raise ValidationError(
            f"until is too close to year 1 for a window of {days} days", field="until"
        ) from None


class Queries(EntityViews):
    """Pages of entities and transitions; the base of :class:`~chronolog.states.States`."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def _limit(self, limit: int) -> int:
        cap = self._scope.limits.page_size
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= cap:
            raise ValidationError(f"limit must be between 1 and {cap}", field="limit")
        return limit

    def _entity_page(
        self, flt: sql.EntityFilter, limit: int, cursor: str | None, label: str
    ) -> Page[Entity]:
        limit = self._limit(limit)
        fp = fingerprint(label, *(getattr(flt, f) for f in flt.__slots__))
        before: tuple[int, int] | None = None
        page = 1
        if cursor is not None:
            before, page = keyset_position(decode_cursor(self._scope.store, cursor, "entities", fp))
        with self._scope.store.read() as conn:
            rows = sql.entity_page(conn, flt, limit=limit + 1, before=before)
        items = [entity_from_row(r) for r in rows[:limit]]
        kept = fitting(items, self._scope.limits.page_bytes)
        next_cursor = None
        if len(rows) > limit or kept < len(items):
            items = items[:kept]
            last = rows[kept - 1]
            next_cursor = encode_cursor(
                self._scope.store, "entities", fp, t=last.state_since, i=last.pk, p=page + 1
            )
        return Page(
            items=items,
            total=None,
            page=page,
            limit=limit,
            next_cursor=next_cursor,
        )

    def list(
        self,
        query: EntityQuery | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Any,
    ) -> Page[Entity]:
        """Entities newest move first, matching ``query`` (an
        :class:`~chronolog.EntityQuery`, or its fields as keywords:
        ``list(kinds="movie", active=True)``), with their current transition;
        continue with ``next_cursor``. ``in_state``, ``active`` and ``entities``
        are this with a query made for them."""
        q = EntityQuery.build(query, filters)
        scope = self._scope
        parent_pk = None
        terminal = None
        with scope.store.read() as conn:
            if q.parent is not None:
                pkind, pid = q.parent
                parent_pk = sql.entity_pk_get(conn, scope.project_id, pkind, pid)
                if parent_pk is None:
                    raise NotFound(f"parent {pkind}/{pid} not found", field="parent")
            if q.active is not None:
                machines = sql.machine_list(conn, scope.project_id, q.kinds)
                terminal = tuple(
                    (k, tuple(sorted(machine_from_json(k, d).terminal))) for k, d in machines
                )
        flt = sql.EntityFilter(
            scope.project_id,
            kinds=q.kinds,
            states=q.states,
            parent_pk=parent_pk,
            since=None if q.since is None else to_micros(q.since),
            until=None if q.until is None else to_micros(q.until),
            terminal=terminal,
            finished=q.active is False,
        )
        return self._entity_page(flt, limit, cursor, "entities")

    def counts(self, kind: str) -> dict[str | None, int]:
        """How many entities of ``kind`` are in each state (``None``: not moved yet)."""
        kind = check_kind(kind)
        with self._scope.store.read() as conn:
            return dict(sql.entity_counts(conn, self._scope.project_id, kind))

    def timeline(
        self,
        query: EntityQuery | None = None,
        *,
        days: int | None = None,
        tz: tzinfo | None = None,
        limit: int = 50,
        cursor: str | None = None,
        with_counts: bool = True,
        **filters: Any,
    ) -> Timeline:
        """Moves of every kind (jobs too) in a window, newest first, one page; and per
        (day, kind, to_state) the number of distinct entities that made that move.

        ``query`` (an :class:`~chronolog.EntityQuery`, or its fields as keywords)
        picks the moves: ``kinds``, ``states`` (the state moved to), and the
        window: from ``since``, or ``days`` days (default 7) before its end,
        to ``until`` (default now), both inclusive. ``active`` and ``parent``
        are refused. Days are UTC unless ``tz`` is given (DST-aware).
        """
        q = EntityQuery.build(query, filters)
        q.refuse(
            ("active", "parent"),
            "the timeline",
            "it reads moves, not entities (list the entities with states.list)",
        )
        if days is not None and q.since is not None:
            raise ValidationError("give days or since, not both", field="days")
        if days is None:
            days = 7
        if (
            isinstance(days, bool)
            or not isinstance(days, int)
            or not 1 <= days <= MAX_TIMELINE_DAYS
        ):
            raise ValidationError(f"days must be between 1 and {MAX_TIMELINE_DAYS}", field="days")
        if tz is not None and not isinstance(tz, tzinfo):
            raise ValidationError("tz must be a tzinfo (e.g. ZoneInfo('Europe/Paris'))", field="tz")
        limit = self._limit(limit)
        store = self._scope.store
        given = None if q.until is None else to_micros(q.until)
        start = None if q.since is None else to_micros(q.since)
        # The fingerprint holds the window's length and its given ends, not "now":
        # page 2 is asked later. The cursor carries page 1's window instead.
        fp = fingerprint("timeline", self._scope.project_id, q.kinds, q.states, days, start, given)
        before: tuple[int, int] | None = None
        page = 1
        after_job = False
        if cursor is None:
            end = self._scope.clock() if q.until is None else q.until
            upper = to_micros(end) + 1  # include a move made at this very instant
            if q.since is None:
                lower = _window_start(end, days)
            elif end - q.since > timedelta(days=MAX_TIMELINE_DAYS):
                raise ValidationError(
                    f"the window from since to until spans more than {MAX_TIMELINE_DAYS} days",
                    field="since",
                )
            else:
                lower = to_micros(q.since)
        else:
            position = decode_cursor(store, cursor, "timeline", fp)
            before, page = keyset_position(position)
            lower, upper = cursor_int(position, "w"), cursor_int(position, "u")
            # The cursor's row: a job's move (1) or another kind's (0).
            after_job = position.get("j", 0) == 1
        flt = tsql.TransitionFilter(
            self._scope.project_id,
            kinds=q.kinds,
            to_states=q.states,
            since=lower,
            until=upper,
        )
        with store.read() as conn:
            moves = self._timeline_page(conn, flt, limit + 1, before, after_job)
            try:
                counts = day_counts(conn, flt, tz, lower, upper) if with_counts else []
            except (OverflowError, ValueError) as exc:
                if isinstance(exc, ValidationError):
                    raise
                raise ValidationError(
                    "the window is too close to year 1 or 9999 to count its days", field="until"
                ) from None
        more = len(moves) > limit
        moves = moves[:limit]
        kept = fitting(moves, self._scope.limits.page_bytes)
        next_cursor = None
        if more or kept < len(moves):
            moves = moves[:kept]
            last = moves[-1]
            next_cursor = encode_cursor(
                store,
                "timeline",
                fp,
                t=to_micros(last.occurred_at),
                i=last.id,
                p=page + 1,
                w=lower,
                u=upper,
                # Which table the row came from: their ids are not comparable.
                j=1 if last.kind == JOB_KIND else 0,
            )
        items = Page(
            items=moves,
            total=None,
            page=page,
            limit=limit,
            next_cursor=next_cursor,
        )
        rows_by_day = sorted(
            (DayCount(day_of(d), k, s, n) for d, k, s, n in counts),
            key=lambda c: (c.day, c.kind, c.to_state),
            reverse=True,
        )
        return Timeline(page=items, days=rows_by_day)

    def _timeline_page(
        self,
        conn: Connection,
        flt: tsql.TransitionFilter,
        limit: int,
        before: tuple[int, int] | None,
        after_job: bool,
    ) -> builtins.list[Transition]:
        """Up to ``limit`` moves newest first: entities' transitions and jobs' events, merged.

        The order is (occurred_at, jobs before other kinds, id), all descending:
        ids of the two tables are not comparable, so the cursor says which one
        its row came from (``after_job``).
        """
        moves: builtins.list[tuple[int, int, int, Transition]] = []
        if flt.kinds is None or any(k != JOB_KIND for k in flt.kinds):
            start = before
            if before is not None and after_job:  # every transition of that instant is next
                start = (before[0] + 1, 0)
            for r in tsql.transition_page(
                conn, tsql.transition_where(flt), limit=limit, before=start
            ):
                moves.append((r.occurred_at, 0, r.id, transition_from_row(r)))
        if flt.kinds is None or JOB_KIND in flt.kinds:
            rows = job_page(
                conn,
                project_id=flt.project_id,
                to_states=flt.to_states,
                since=flt.since,
                until=flt.until,
                limit=limit,
                # After another kind's move, the jobs of its instant were shown already.
                before=before if before is None or after_job else (before[0], 0),
            )
            moves += [(r.occurred_at, 1, r.id, job_transition_from_row(r)) for r in rows]
        moves.sort(key=lambda m: m[:3], reverse=True)
        return [m[3] for m in moves[:limit]]
