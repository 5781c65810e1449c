"""Reading the queue: one job, pages of jobs, failures, logs, history, counts."""

from __future__ import annotations

import builtins
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .. import _json
from .._build import builder
from .._cursor import cursor_int, decode_cursor, encode_cursor, fingerprint
from .._pages import fitting
from .._scope import Scope
from .._time import from_micros, require_aware, to_micros
from ..errors import NotFound, ValidationError
from ..models import Page
from ..query import JobQuery
from ..store.schema.jobs import JOB_ACTIONS, JOB_STATES
from ..store.sql import job_logs as log_sql
from ..store.sql import job_moves
from ..store.sql import jobs as sql
from ..store.sql import states as entity_sql
from ._checks import check_id
from .models import Job, JobError, JobLog, JobMove

__all__ = ["JobReading", "job_from_row", "job_move_from_row"]


def _doc(value: Any) -> Any:
    return _json.loads(value) if isinstance(value, str | bytes) else value


_FIELDS = operator.itemgetter(
    *(
        [c.name for c in sql.JOB_COLUMNS].index(name)
        for name in (
            "id",
            "queue",
            "kind",
            "payload",
            "state",
            "priority",
            "run_at",
            "attempt",
            "max_attempts",
            "errors",
            "unique_key",
            "subject_pk",
            "worker",
            "pid",
            "lease",
            "lease_expires_at",
            "heartbeat_at",
            "progress",
            "progress_text",
            "result",
            "created_at",
            "started_at",
            "finished_at",
            "depends_on",
            "on_failure",
            "waiting_for",
            "dependents",
            "pipeline_id",
        )
    )
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_new_job = builder(Job)
"""``Job(*every_field)`` at half the cost (``_build``): this runs for every claimed job."""


_TIMES: dict[int, datetime] = {}
"""Recent conversions: the jobs of a batch share their times (claimed now, enqueued
together), and a lookup costs a tenth of building the datetime again."""


def _when(value: int) -> datetime:
    found = _TIMES.get(value)
    if found is None:
        if len(_TIMES) >= 4096:
            _TIMES.clear()
        found = _TIMES[value] = from_micros(value)
    return found


def _at(value: int | None) -> datetime | None:
    return None if value is None else _when(value)


def job_from_row(
    row: Any, project: str, subjects: Mapping[int, tuple[str, str]] | None = None
) -> Job:
    """Build a :class:`Job` from a row of ``JOB_COLUMNS`` (a Row or a ``JobRow``)."""
    # Positional (a dict per row cost more than the rest of the build, and this
    # runs for every claimed job); _FIELDS picks the columns by name once.
    (
        job_id,
        queue,
        kind,
        payload,
        state,
        priority,
        run_at,
        attempt,
        max_attempts,
        errors,
        unique_key,
        subject_pk,
        worker,
        pid,
        lease,
        lease_expires_at,
        heartbeat_at,
        progress,
        progress_text,
        result,
        created_at,
        started_at,
        finished_at,
        depends_on,
        on_failure,
        waiting_for,
        dependents,
        pipeline_id,
    ) = _FIELDS(row)
    return _new_job(
        job_id,
        project,
        queue,
        kind,
        _doc(payload) if payload is not None else None,
        state,
        priority,
        _when(run_at),
        attempt,
        max_attempts,
        _errors(errors) if errors else (),
        unique_key,
        None if subject_pk is None else (subjects or {}).get(int(subject_pk)),
        worker,
        pid,
        lease,
        _at(lease_expires_at),
        _at(heartbeat_at),
        progress,
        progress_text,
        _doc(result) if result is not None else None,
        _when(created_at),
        _at(started_at),
        _at(finished_at),
        () if depends_on is None else tuple(_doc(depends_on)),
        on_failure,
        waiting_for,
        dependents or 0,
        pipeline_id,
    )


def _errors(value: Any) -> tuple[JobError, ...]:
    return tuple(
        JobError(
            attempt=int(e["attempt"]),
            at=from_micros(int(e["at"])),
            error=str(e["error"]),
            worker=e.get("worker"),
        )
        for e in (_doc(value) or [])
    )


def _names(
    value: Iterable[str] | str | None, name: str, allowed: Sequence[str] = ()
) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ValidationError(f"{name} must be a non-empty list of names", field=name)
    if allowed:
        unknown = sorted(set(items) - set(allowed))
        if unknown:
            raise ValidationError(f"unknown {name} {unknown}; known: {list(allowed)}", field=name)
    return items


class JobReading:
    """The reading half of :class:`~chronolog.jobs.Jobs`."""

    _scope: Scope

    def _jobs(self, conn: Connection, rows: Sequence[Any]) -> list[Job]:
        pks = [int(r.subject_pk) for r in rows if r.subject_pk is not None]
        subjects = entity_sql.entity_keys(conn, pks) if pks else {}
        return [job_from_row(r, self._scope.project, subjects) for r in rows]

    def _get(self, conn: Connection, job_id: int) -> Job:
        row = sql.job_get(conn, self._scope.store.dialect, self._scope.project_id, job_id)
        if row is None:
            raise NotFound(f"job {job_id} not found in project {self._scope.project!r}")
        return self._jobs(conn, [row])[0]

    def get(self, job_id: int) -> Job:
        """One job by id (``NotFound`` if it is not in this project)."""
        check_id(job_id)
        with self._scope.store.read() as conn:
            return self._get(conn, job_id)

    def list(
        self,
        query: JobQuery | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Any,
    ) -> Page[Job]:
        """Jobs newest first, matching ``query`` (a :class:`~chronolog.JobQuery`, or its
        fields as keywords: ``list(states="failed", queues=["rip"])``); continue with
        ``next_cursor``."""
        q = JobQuery.build(query, filters)
        scope = self._scope
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= scope.limits.page_size
        ):
            raise ValidationError(
                f"limit must be between 1 and {scope.limits.page_size}", field="limit"
            )
        key = q.subject
        with scope.store.read() as conn:
            subject_pk = None
            if key is not None:
                found = entity_sql.entity_pk_get(conn, scope.project_id, *key)
                if found is None:
                    return Page(items=[], total=None, page=1, limit=limit)
                subject_pk = found
            flt = sql.JobFilter(
                project_id=scope.project_id,
                states=_names(q.states, "states", JOB_STATES),
                queues=q.queues,
                kinds=q.kinds,
                subject_pk=subject_pk,
                since=None if q.since is None else to_micros(q.since),
            )
            fp = fingerprint("jobs", *(getattr(flt, f) for f in flt.__slots__))
            before = None
            page = 1
            if cursor is not None:
                position = decode_cursor(scope.store, cursor, "jobs", fp)
                before, page = cursor_int(position, "i", 0), cursor_int(position, "p", 1)
            rows = sql.job_page(conn, sql.job_where(flt), limit=limit + 1, before=before)
            items = self._jobs(conn, rows[:limit])
        kept = fitting(items, scope.limits.page_bytes)
        next_cursor = None
        if len(rows) > limit or kept < len(items):
            items = items[:kept]
            next_cursor = encode_cursor(scope.store, "jobs", fp, i=items[-1].id, p=page + 1)
        return Page(items=items, total=None, page=page, limit=limit, next_cursor=next_cursor)

    def failed(
        self, since: datetime | timedelta | None = None, *, limit: int = 100
    ) -> builtins.list[Job]:
        """Jobs that failed for good, newest first; ``since`` a time or a look-back span."""
        scope = self._scope
        lower = None
        if isinstance(since, timedelta):
            lower = to_micros(scope.clock() - since)
        elif since is not None:
            lower = to_micros(require_aware(since, "since"))
        flt = sql.JobFilter(project_id=scope.project_id, states=("failed",), finished_since=lower)
        with scope.store.read() as conn:
            return self._jobs(
                conn, sql.job_page(conn, sql.job_where(flt), limit=limit, before=None)
            )

    def running(self, *, limit: int = 100) -> builtins.list[Job]:
        """Jobs running now, newest first."""
        return list(
            self.list(JobQuery(states=("running",)), limit=min(limit, self._scope.limits.page_size))
        )

    def logs(self, job_id: int, *, after: int = 0, limit: int = 1000) -> builtins.list[JobLog]:
        """A job's log lines after line ``after`` (0: from the start), oldest first."""
        check_id(job_id)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValidationError("after must be a line id (0 or more)", field="after")
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit must be between 1 and 10000", field="limit")
        scope = self._scope
        with scope.store.read() as conn:
            rows = sql.job_log_page(conn, scope.project_id, job_id, after, limit)
            if not rows and after == 0:
                self._get(conn, job_id)  # NotFound for a job that does not exist
        return [_log_line(r) for r in rows]

    def log_tail(
        self, job_id: int, *, before: int | None = None, limit: int = 500
    ) -> builtins.list[JobLog]:
        """A job's last ``limit`` log lines (before line ``before``, if given), oldest
        first: the end of a long log without reading it all."""
        check_id(job_id)
        if before is not None and (
            isinstance(before, bool) or not isinstance(before, int) or not 0 < before < 2**63
        ):
            raise ValidationError("before must be a line id", field="before")
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit must be between 1 and 10000", field="limit")
        scope = self._scope
        with scope.store.read() as conn:
            rows = log_sql.job_log_tail(conn, scope.project_id, job_id, before, limit)
            if not rows:
                self._get(conn, job_id)  # NotFound for a job that does not exist
        return [_log_line(r) for r in rows]

    def history(self, job_id: int) -> builtins.list[JobMove]:
        """Every state change of a job, oldest first: its activity events (one per change),
        numbered 1, 2, 3 … (``sort_key``) with the states it went from and to.

        ``NotFound`` when the job has neither events nor a row. A purged job's
        history stays readable while its events are kept.
        """
        check_id(job_id)
        scope = self._scope
        with scope.store.read() as conn:
            rows = job_moves.job_move_history(conn, scope.project_id, job_id)
            if not rows:
                self._get(conn, job_id)
        return [job_move_from_row(r, i) for i, r in enumerate(rows, 1)]

    def counts(self, *, kind: Iterable[str] | str | None = None) -> dict[str, dict[str, int]]:
        """How many jobs per queue and state: ``{"rip": {"pending": 3, …}, …}``.

        ``kind`` counts only jobs of those kinds (what a worker with those handlers
        would claim).
        """
        scope = self._scope
        kinds = _names(kind, "kind")
        with scope.store.read() as conn:
            rows = sql.job_count_by_queue_state(conn, scope.project_id, kinds)
        out: dict[str, dict[str, int]] = {}
        for row in rows:
            queue, state, n = _triple(row)
            out.setdefault(queue, {})[state] = int(n)
        return out


def _log_line(r: Any) -> JobLog:
    return JobLog(
        id=int(r[0]),
        job_id=int(r[1]),
        attempt=int(r[2]),
        at=from_micros(r[3]),
        level=r[4],
        message=r[5],
        fields=_doc(r[6]),
    )


_MOVE_KEYS = frozenset(("queue", "attempt", "from", "state", "sort_key"))


def job_move_from_row(row: job_moves.JobMoveRow, position: int) -> JobMove:
    """A :class:`JobMove` from a job's event (``position``: its place in the history, the
    number used when the event carries none)."""
    metadata = _doc(row.metadata) or {}
    sort_key = metadata.get("sort_key")
    extra = {k: v for k, v in metadata.items() if k not in _MOVE_KEYS}
    return JobMove(
        sort_key=int(sort_key) if isinstance(sort_key, int) else position,
        from_state=metadata.get("from"),
        to_state=JOB_ACTIONS[row.action],
        at=from_micros(row.occurred_at),
        actor=(row.actor_type, row.actor_id, row.actor_name),
        metadata={"action": row.action, "attempt": metadata.get("attempt"), **extra},
        event_id=int(row.id),
        action=row.action,
        error=row.error,
    )


def _triple(r: Any) -> tuple[str, str, int]:
    return str(r[0]), str(r[1]), int(r[2])
