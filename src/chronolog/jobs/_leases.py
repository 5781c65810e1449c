"""Leases: the fenced calls of a claim's holder (heartbeat, log, complete, fail, release).

Every call names the job and the lease token its claim returned; a stale
token matches no row and raises ``LeaseLost`` (or the call's result leaves
the job out), and nothing changes.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row

from .. import _json
from .._scope import Scope
from .._time import to_micros
from ..errors import LeaseLost, NotFound, ValidationError
from ..store.schema import jobs as jobs_table
from ..store.sql import jobs as sql
from ._checks import check_id, check_int, check_log_lines, check_text, seconds
from ._links import settle_failed
from ._trail import Move, record
from .models import DEFAULT_LEASE, Job
from .reading import JobReading

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "DEFAULT_LEASE",
    "LeaseHolder",
    "attempt_failed",
    "backoff",
    "log_internal",
    "refusal",
    "worker_actor",
]

log = logging.getLogger("chronolog.jobs")

BACKOFF_BASE = 2.0
BACKOFF_CAP = 3600.0


def backoff(attempt: int) -> float:
    """Seconds to wait before retrying after failed ``attempt``: exponential, capped, jittered.

    2 s, 4 s, 8 s … up to an hour, each ±25 % so failures that happened
    together do not retry together.
    """
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return float(delay * random.uniform(0.75, 1.25))


def worker_actor(worker: str | None) -> tuple[str | None, str | None, str | None]:
    """The actor of a move made by (or for) the job's worker."""
    return ("worker", worker, None) if worker else (None, None, None)


def refusal(scope: Scope, conn: Connection, job_id: int, lease: int) -> LeaseLost | NotFound:
    """Why a fenced call matched no row: the job is gone, or the lease is stale."""
    st = sql.job_state_lease(conn, scope.store.dialect, scope.project_id, job_id)
    if st is None:
        return NotFound(f"job {job_id} not found in project {scope.project!r}")
    state, current, _, _ = st
    lost = LeaseLost(
        f"job {job_id}: lease {lease} is stale (the job is {state}, under another lease)"
        if current != lease
        else f"job {job_id}: lease {lease} no longer holds it (the job is {state})",
        job_id=job_id,
        lease=lease,
        state=state,
    )
    lost.current_lease = current
    return lost


def attempt_failed(
    scope: Scope,
    conn: Connection,
    row: Row[Any],
    error: str,
    now: int,
    *,
    retry: bool,
    wait: float | None,
    cause: str,
) -> tuple[Row[Any], Move]:
    """End ``row``'s running attempt with ``error``: back to pending after a back-off (or
    ``wait``) while attempts remain and ``retry``, else ``failed``. Returns the new row and
    the move to record (action ``cause`` when it goes back to pending)."""
    errors = row.errors if not isinstance(row.errors, str | bytes) else _json.loads(row.errors)
    errors = [
        *(errors or []),
        {"attempt": row.attempt, "at": now, "error": error, "worker": row.worker},
    ]
    again = retry and row.attempt < row.max_attempts
    values: dict[str, Any] = {"errors": errors, "lease_expires_at": None, "updated_at": now}
    if again:
        delay = backoff(row.attempt) if wait is None else wait
        values.update(state="pending", run_at=now + int(delay * 1_000_000))
        action = cause
    else:
        values.update(state="failed", finished_at=now)
        action = "failed"
    new_row = sql.job_update(
        conn,
        project_id=scope.project_id,
        job_id=row.id,
        states=("running",),
        lease=row.lease,
        values=values,
    )
    assert new_row is not None  # the row is locked and was just checked
    move = Move(
        row.id,
        row.kind,
        row.queue,
        new_row.history,
        "running",
        action,
        row.attempt,
        worker_actor(row.worker),
        now,
        error=error,
    )
    return new_row, move


def log_internal(
    scope: Scope, conn: Connection, row: Row[Any], level: str, message: str, now: int
) -> None:
    """Add a line of chronolog's own to a job's log (rescues, releases)."""
    sql.job_log_insert_many(
        conn,
        scope.store.dialect,
        [(scope.project_id, row.id, row.attempt, now, level, message, None)],
    )


class LeaseHolder(JobReading):
    """The fenced verbs of :class:`~chronolog.jobs.Jobs` but completion (see ``docs/jobs.md``)."""

    def heartbeat(
        self,
        job_id: int,
        lease: int,
        *,
        progress: float | None = None,
        progress_text: str | None = None,
        pid: int | None = None,
        extend: timedelta | float = DEFAULT_LEASE,
    ) -> bool:
        """Renew a lease (and record progress). Returns ``False`` when the job was
        cancelled meanwhile: the worker must stop. ``LeaseLost`` when stale."""
        check_id(job_id)
        values: dict[str, Any] = {}
        if progress is not None:
            if (
                isinstance(progress, bool)
                or not isinstance(progress, int | float)
                or not 0 <= progress <= 1
            ):
                raise ValidationError("progress must be a number from 0 to 1", field="progress")
            values["progress"] = float(progress)
        if progress_text is not None:
            if not isinstance(progress_text, str) or len(progress_text) > 255:
                raise ValidationError("progress_text must be text of at most 255 characters")
            values["progress_text"] = progress_text
        if pid is not None:
            values["pid"] = check_int(pid, "pid", 1, 2**31 - 1)
        span = seconds(extend, "extend")
        scope = self._scope
        now = to_micros(scope.clock())
        values.update(
            lease_expires_at=now + int(span * 1_000_000), heartbeat_at=now, updated_at=now
        )
        with scope.store.write() as conn:
            row = sql.job_update(
                conn,
                project_id=scope.project_id,
                job_id=job_id,
                states=("running",),
                lease=lease,
                values=values,
            )
            if row is not None:
                return True
            refused = refusal(scope, conn, job_id, lease)
            if (
                isinstance(refused, LeaseLost)
                and refused.details["state"] == "cancelled"
                and refused.current_lease == lease
            ):
                return False
            raise refused

    def log(self, job_id: int, level: str, message: str, *, lease: int, **fields: Any) -> None:
        """Append one line to a running job's log (fenced by ``lease``)."""
        self.log_many(job_id, lease, [(level, message, fields or None)])

    def log_many(
        self,
        job_id: int,
        lease: int,
        lines: Sequence[tuple[str, str, Mapping[str, Any] | None]]
        | Sequence[tuple[str, str, Mapping[str, Any] | None, datetime]],
    ) -> None:
        """Append lines ``(level, message, fields[, at])`` in one transaction (fenced by ``lease``).

        Accepted while the job runs and after it was cancelled (so a worker
        can say why it stopped); refused with ``LeaseLost`` otherwise.
        """
        check_id(job_id)
        scope = self._scope
        rows = check_log_lines(scope, job_id, lines, to_micros(scope.clock()))
        if not rows:
            return
        with scope.store.write() as conn:
            st = sql.job_state_lease(conn, scope.store.dialect, scope.project_id, job_id)
            if st is None or st[1] != lease or st[0] not in ("running", "cancelled"):
                raise refusal(scope, conn, job_id, lease)
            for row in rows:
                row[2] = st[2]
            sql.job_log_insert_many(conn, scope.store.dialect, rows)
        scope.store.notifier.publish(f"job_logs:{job_id}")

    def fail(
        self,
        job_id: int,
        lease: int,
        error: str,
        *,
        retry: bool = True,
        retry_in: timedelta | float | None = None,
    ) -> Job:
        """Record a failed attempt. With attempts left (and ``retry``) the job goes back to
        pending after an exponential back-off with jitter (or ``retry_in``); otherwise
        it is ``failed``. Every attempt's error is kept in ``Job.errors``."""
        check_id(job_id)
        error = check_text(error, "error", self._scope.limits.text_chars)
        wait = (
            None if retry_in is None else (0.0 if retry_in == 0 else seconds(retry_in, "retry_in"))
        )
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            row = sql.job_get(conn, scope.store.dialect, scope.project_id, job_id, lock=True)
            if row is None or row.state != "running" or row.lease != lease:
                raise refusal(scope, conn, job_id, lease)
            new_row, move = attempt_failed(
                scope, conn, row, error, now, retry=retry, wait=wait, cause="retrying"
            )
            record(scope, conn, [move])
            if new_row.state == "failed" and row.dependents:
                settle_failed(scope, conn, {row.id: "failed"}, now, worker_actor(row.worker))
            job = self._jobs(conn, [new_row])[0]
        scope.store.notifier.publish("events", "jobs" if job.state == "pending" else "jobs_done")
        return job

    def release(self, job_id: int, lease: int, reason: str = "worker shutting down") -> Job:
        """Give a running job back unfinished (pending again, this attempt not counted)."""
        check_id(job_id)
        scope = self._scope
        reason = check_text(reason, "reason", 1000)
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            row = sql.job_update(
                conn,
                project_id=scope.project_id,
                job_id=job_id,
                states=("running",),
                lease=lease,
                values={
                    "state": "pending",
                    "attempt": jobs_table.c.attempt - 1,
                    "run_at": now,
                    "lease_expires_at": None,
                    "updated_at": now,
                },
            )
            if row is None:
                raise refusal(scope, conn, job_id, lease)
            log_internal(scope, conn, row, "warning", f"released: {reason}", now)
            move = Move(
                row.id,
                row.kind,
                row.queue,
                row.history,
                "running",
                "released",
                row.attempt,
                worker_actor(row.worker),
                now,
                extra={"reason": reason},
            )
            record(scope, conn, [move])
            sql.job_notify(conn, scope.store.dialect, scope.project_id)
            job = self._jobs(conn, [row])[0]
        scope.store.notifier.publish("jobs", "events")
        return job
