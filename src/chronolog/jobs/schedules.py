"""Schedules (``cl.jobs.schedules``): recurring jobs, fired by the workers themselves.

A schedule names a job (kind, payload, queue, priority, attempts) and when to
enqueue it: a five-field ``cron`` expression in a time zone, or ``every`` N
seconds (see :mod:`._timing`). There is no scheduler process and no leader:
every worker (and the HTTP server, for remote workers) calls
:meth:`Schedules.fire_due` about once a second, and each fire time enqueues
exactly one job however many of them do it at once (see
``store/sql/schedules.py`` for the three guards). Each fire is the job's
first event: type ``job``, action ``fired``, actor ``scheduler:<who fired
it>``, with the schedule and the fire time in its metadata.

A fire time found more than :data:`GRACE` seconds after it passed was
*missed* (no worker ran, or the schedule was paused); ``catch_up`` says what
happens to missed fire times:

* ``latest`` (default): one job for the newest missed fire time, unless a
  fire on time follows it anyway;
* ``none``: skip them;
* ``all``: one job per missed fire time, at most ``max_catch_up`` (the newest).

Skipped fire times are counted (``Schedule.missed``) and recorded as one
``schedule`` event (action ``missed``).
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .. import _json
from .._scope import Scope
from .._time import from_micros, to_micros
from ..errors import Conflict, NotFound, ValidationError
from ..events import Events
from ..models import Actor
from ..store.schema.schedules import CATCH_UP_POLICIES
from ..store.sql import jobs as job_sql
from ..store.sql import schedules as sql
from ..store.sql.events import EventRow
from ._checks import check_actor, check_int, check_word
from ._timing import Timing, timing
from ._trail import Move, record
from .models import DEFAULT_MAX_ATTEMPTS
from .schedule_models import DEFAULT_MAX_CATCH_UP, Schedule, ScheduleFire

__all__ = ["DEFAULT_MAX_CATCH_UP", "FIRE_KEEP", "GRACE", "Schedules"]

GRACE = 5.0
"""Seconds after its time a fire still counts as on time (workers look every second)."""


FIRE_KEEP = timedelta(days=7)
"""How long a fire's row (the key of its fire time) is kept; its events stay."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_SECOND = 1_000_000
_DUE_BATCH = 50  # schedules fired per transaction


def check_name(name: Any) -> str:
    """A schedule name: 1 to 64 letters, digits, ``.``, ``_``, ``:`` or ``-`` (URL-safe)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            "a schedule name is 1 to 64 letters, digits, '.', '_', ':' or '-', "
            f"starting with a letter or digit; got {name!r}",
            field="name",
        )
    return name


def _timing_of(row: Any) -> Timing:
    return timing(row.cron, row.every_seconds, row.tz)


def schedule_from_row(row: Any) -> Schedule:
    """Build a :class:`Schedule` from a ``job_schedules`` row."""
    payload = row.payload
    if isinstance(payload, str):
        payload = _json.loads(payload)
    return Schedule(
        name=row.name,
        kind=row.kind,
        cron=row.cron,
        every=None if row.every_seconds is None else timedelta(seconds=row.every_seconds),
        tz=row.tz,
        payload=payload,
        queue=row.queue,
        priority=row.priority,
        max_attempts=row.max_attempts,
        catch_up=row.catch_up,
        max_catch_up=row.max_catch_up,
        paused=bool(row.paused),
        next_fire_at=from_micros(row.next_fire_at),
        last_fire_at=None if row.last_fire_at is None else from_micros(row.last_fire_at),
        last_job_id=row.last_job_id,
        fires=int(row.fires),
        missed=int(row.missed),
        created_at=from_micros(row.created_at),
        updated_at=from_micros(row.updated_at),
    )


class Schedules:
    """The schedules of one project (``cl.jobs.schedules``). See ``docs/schedules.md``.

    Managing: :meth:`add` (also changes one: same name), :meth:`pause`,
    :meth:`resume`, :meth:`remove`. Reading: :meth:`get`, :meth:`list`,
    :meth:`next_fires`, :meth:`fires`. Firing: :meth:`fire_due` (workers call
    it; so can anyone, any number of times).
    """

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    # -- managing --------------------------------------------------------------------------

    def add(
        self,
        name: str,
        kind: str,
        *,
        cron: str | None = None,
        every: timedelta | int | None = None,
        payload: Mapping[str, Any] | str | None = None,
        queue: str = "default",
        tz: str = "UTC",
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        catch_up: str = "latest",
        max_catch_up: int = DEFAULT_MAX_CATCH_UP,
        actor: Actor | None = None,
    ) -> Schedule:
        """Create the schedule ``name``, or change it (an ``add`` with the same name).

        Give ``cron`` (five fields, read in ``tz``) or ``every`` (seconds or a
        timedelta, 1 s to a year), not both. Re-adding a schedule with the same
        timing (as every process does at start-up) keeps its next fire time and
        its pause; a new timing starts from the next fire time from now.
        """
        scope = self._scope
        check_name(name)
        check_word(kind, "kind")
        check_word(queue, "queue")
        when = timing(cron, every, tz)
        priority = check_int(priority, "priority", -1_000_000, 1_000_000)
        max_attempts = check_int(max_attempts, "max_attempts", 1, 1000)
        if catch_up not in CATCH_UP_POLICIES:
            raise ValidationError(
                f"catch_up must be one of {list(CATCH_UP_POLICIES)}, got {catch_up!r}",
                field="catch_up",
            )
        max_catch_up = check_int(max_catch_up, "max_catch_up", 1, 10_000)
        payload_obj, _text = _json.check_object(
            payload, name="payload", limit=scope.limits.metadata_bytes
        )
        who = check_actor(actor, scope.limits)
        now = to_micros(scope.clock())
        values = {
            "project_id": scope.project_id,
            "name": name,
            "kind": kind,
            "cron": when.cron,
            "every_seconds": when.every,
            "tz": when.tz,
            "payload": payload_obj,
            "queue": queue,
            "priority": priority,
            "max_attempts": max_attempts,
            "catch_up": catch_up,
            "max_catch_up": max_catch_up,
            "paused": False,
            "next_fire_at": when.after(now - 1),
            "created_at": now,
            "updated_at": now,
        }
        dialect = scope.store.dialect
        with scope.store.write() as conn:
            old = sql.schedule_get(conn, dialect, scope.project_id, name, lock=True)
            same = old is not None and (old.cron, old.every_seconds, old.tz) == (
                when.cron,
                when.every,
                when.tz,
            )
            sql.schedule_upsert(conn, dialect, values, keep_timing=same)
            action = "added" if old is None else "changed"
            self._event(conn, name, action, who, now, {"timing": _describe(when)})
            row = sql.schedule_get(conn, dialect, scope.project_id, name)
        scope.store.notifier.publish("events")
        assert row is not None
        return schedule_from_row(row)

    def pause(self, name: str, *, actor: Actor | None = None) -> Schedule:
        """Stop firing ``name``; fire times passing meanwhile follow its ``catch_up`` on resume."""
        return self._set_paused(name, True, actor)

    def resume(self, name: str, *, actor: Actor | None = None) -> Schedule:
        """Fire ``name`` again (the fire times missed while paused follow its ``catch_up``)."""
        return self._set_paused(name, False, actor)

    def remove(self, name: str, *, actor: Actor | None = None) -> None:
        """Delete the schedule ``name`` (its jobs stay); ``NotFound`` if there is none."""
        scope = self._scope
        check_name(name)
        who = check_actor(actor, scope.limits)
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            if not sql.schedule_delete(conn, scope.project_id, name):
                raise NotFound(f"schedule {name!r} not found")
            self._event(conn, name, "removed", who, now, None)
        scope.store.notifier.publish("events")

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str) -> Schedule:
        """The schedule ``name`` (``NotFound`` if there is none)."""
        scope = self._scope
        check_name(name)
        with scope.store.read() as conn:
            row = sql.schedule_get(conn, scope.store.dialect, scope.project_id, name)
        if row is None:
            raise NotFound(f"schedule {name!r} not found")
        return schedule_from_row(row)

    def list(self) -> builtins.list[Schedule]:
        """Every schedule of the project, by name."""
        scope = self._scope
        with scope.store.read() as conn:
            rows = sql.schedule_list(conn, scope.project_id)
        return [schedule_from_row(r) for r in rows]

    def next_fires(self, name: str, n: int = 5) -> builtins.list[datetime]:
        """The next ``n`` fire times of ``name`` from now (UTC), as if it were not paused."""
        n = check_int(n, "n", 1, 1000)
        schedule = self.get(name)
        when = timing(
            schedule.cron,
            None if schedule.every is None else int(schedule.every.total_seconds()),
            schedule.tz,
        )
        now = to_micros(self._scope.clock())
        return [from_micros(t) for t in when.upcoming(now, n)]

    def fires(self, name: str, limit: int = 20) -> builtins.list[ScheduleFire]:
        """The newest fires of ``name`` (kept for :data:`FIRE_KEEP`), newest first."""
        limit = check_int(limit, "limit", 1, 1000)
        scope = self._scope
        check_name(name)
        with scope.store.read() as conn:
            row = sql.schedule_get(conn, scope.store.dialect, scope.project_id, name)
            if row is None:
                raise NotFound(f"schedule {name!r} not found")
            rows = sql.schedule_fire_page(conn, row.id, limit)
        return [
            ScheduleFire(
                name,
                from_micros(r.fire_at),
                None if r.job_id is None else int(r.job_id),
                r.fired_by,
                from_micros(r.fired_at),
            )
            for r in rows
        ]

    # -- firing ----------------------------------------------------------------------------

    def fire_due(self, fired_by: str | None = None) -> builtins.list[int]:
        """Enqueue the jobs of every due fire time; returns their ids (oldest fire first).

        Safe to call from any number of processes at once: each fire time
        enqueues one job in all. ``fired_by`` names the caller in the fire's
        event (default ``host:pid``). Cheap when nothing is due (one index read).
        """
        scope = self._scope
        who = fired_by or f"{os.uname().nodename}:{os.getpid()}"
        if not isinstance(who, str) or len(who) > 255:
            raise ValidationError("fired_by must be text of at most 255 characters")
        now = to_micros(scope.clock())
        if not self._anything_due(now):
            return []
        dialect = scope.store.dialect
        enqueued: builtins.list[int] = []
        with scope.store.write() as conn:
            rows = sql.schedule_due(conn, dialect, scope.project_id, now, _DUE_BATCH)
            moves: builtins.list[Move] = []
            for row in rows:
                enqueued += self._fire_one(conn, row, now, who, moves)
            record(scope, conn, moves)
            if moves:
                job_sql.job_notify(conn, dialect, scope.project_id)
        if rows:
            scope.store.notifier.publish("jobs", "events")
        return enqueued

    def due_projects(self) -> builtins.list[str]:
        """Names of the store's projects with a schedule due now (a server fires them all)."""
        now = to_micros(self._scope.clock())
        with self._scope.store.read() as conn:
            return sql.schedule_due_projects(conn, now)

    def _anything_due(self, now: int) -> bool:
        scope = self._scope
        # Every worker asks this twice a second: one statement, no BEGIN / COMMIT.
        with scope.store.read_single() as conn:
            return sql.schedule_any_due(conn, scope.project_id, now)

    def _fire_one(
        self, conn: Any, row: Any, now: int, who: str, moves: builtins.list[Move]
    ) -> builtins.list[int]:
        scope = self._scope
        dialect = scope.store.dialect
        when = _timing_of(row)
        seen = int(row.next_fire_at)
        room = row.max_catch_up if row.catch_up == "all" else 1
        # Every fire within GRACE of now (at most 6: every >= 1 s), then `room` missed ones.
        times = when.newest(now, seen, room + int(GRACE) + 1)
        on_time = [t for t in times if now - t <= GRACE * _SECOND]
        late = [t for t in times if now - t > GRACE * _SECOND]
        if row.catch_up == "all":
            chosen = late[:room]
        elif row.catch_up == "latest" and not on_time:
            chosen = late[:1]
        else:
            chosen = []
        missed = (when.count(seen, late[0]) if late else 0) - len(chosen)
        fired: builtins.list[tuple[int, int]] = []
        for fire_at in sorted(chosen + on_time):
            if not sql.schedule_fire_insert(conn, dialect, row.id, fire_at, who, now):
                continue  # fired already: that fire's job is the one
            job_id = job_sql.job_insert_unique(conn, dialect, _job_row(scope, row, fire_at, now))
            assert job_id is not None  # no unique key: always inserted
            sql.schedule_fire_set_job(conn, row.id, fire_at, job_id)
            fired.append((fire_at, job_id))
            moves.append(
                Move(
                    job_id, row.kind, row.queue, 1, None, "fired", 0,
                    ("scheduler", who, None), now,
                    extra={
                        "schedule": row.name,
                        "fire_at": _iso(fire_at),
                        "fired_by": who,
                    },
                )
            )  # fmt: skip
        advanced = sql.schedule_advance(
            conn,
            row.id,
            seen_next=seen,
            next_fire_at=when.after(now),
            last_fire_at=fired[-1][0] if fired else None,
            last_job_id=fired[-1][1] if fired else None,
            fired=len(fired),
            missed=max(0, missed),
            now=now,
        )
        if not advanced:  # pragma: no cover - the row is locked: nobody else moved it
            raise Conflict(f"schedule {row.name!r} was fired meanwhile; try again")
        if missed > 0:
            self._event(
                conn,
                row.name,
                "missed",
                ("scheduler", who, None),
                now,
                {"missed": missed, "catch_up": row.catch_up, "since": _iso(seen)},
            )
        sql.schedule_fire_purge(conn, row.id, now - int(FIRE_KEEP.total_seconds()) * _SECOND)
        return [job_id for _, job_id in fired]

    # -- helpers ---------------------------------------------------------------------------

    def _set_paused(self, name: str, paused: bool, actor: Actor | None) -> Schedule:
        scope = self._scope
        check_name(name)
        who = check_actor(actor, scope.limits)
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            if not sql.schedule_set_paused(conn, scope.project_id, name, paused, now):
                raise NotFound(f"schedule {name!r} not found")
            self._event(conn, name, "paused" if paused else "resumed", who, now, None)
            row = sql.schedule_get(conn, scope.store.dialect, scope.project_id, name)
        scope.store.notifier.publish("events")
        assert row is not None
        return schedule_from_row(row)

    def _event(
        self,
        conn: Any,
        name: str,
        action: str,
        who: tuple[str | None, str | None, str | None],
        at: int,
        metadata: dict[str, Any] | None,
    ) -> None:
        """One ``schedule`` event: added, changed, paused, resumed, removed or missed."""
        row = EventRow(
            self._scope.project_id, at, "schedule", action,
            "error" if action == "missed" else "success",
            who[0], who[1], who[2], "schedule", name, name, None,
            None if metadata is None else _json.dumps(metadata),
        )  # fmt: skip
        Events(self._scope).write_prepared(conn, [row], check_types=False)


def _iso(at: int) -> str:
    return from_micros(at).isoformat().replace("+00:00", "Z")


def _describe(when: Timing) -> str:
    return f"cron {when.cron} ({when.tz})" if when.cron else f"every {when.every}s"


def _job_row(scope: Scope, row: Any, fire_at: int, now: int) -> job_sql.NewJobRow:
    payload = row.payload
    if isinstance(payload, dict):
        payload = _json.dumps(payload)
    return job_sql.NewJobRow(
        scope.project_id, row.queue, row.kind, payload, "pending", row.priority,
        fire_at, 0, row.max_attempts, None, None, 0, 1, now, now,
    )  # fmt: skip
