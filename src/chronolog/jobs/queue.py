"""The job queue (``cl.jobs``): produce, claim, fence, finish, rescue, retry, cancel.

Every state change is one write transaction that changes the job row,
appends its transition (kind ``job``) and an activity event (type ``job``,
action = what happened), so the history, the activity log and the stats
never disagree with the queue.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row

from .. import _json
from .._scope import Scope
from .._time import from_micros, parse_duration, require_aware, to_micros
from ..errors import InvalidTransition, LeaseLost, NotFound, ValidationError
from ..events import Events, event_counter_rows
from ..models import Actor
from ..store.schema import jobs as jobs_table
from ..store.sql import jobs as sql
from .models import Job, NewJob
from .reading import JobReading, _check_id, subject_key

__all__ = ["DEFAULT_LEASE", "LOG_LEVELS", "Jobs", "backoff", "cut_log_line"]

log = logging.getLogger("chronolog.jobs")

DEFAULT_LEASE = timedelta(seconds=30)
"""How long a claim holds a job without a heartbeat."""
DEFAULT_MAX_ATTEMPTS = 3
BACKOFF_BASE = 2.0
BACKOFF_CAP = 3600.0
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_STATUS = {
    "pending": "processing",
    "running": "processing",
    "released": "processing",
    "retried": "processing",
    "completed": "success",
    "cancelled": "success",
    "failed": "error",
    "retrying": "error",
    "rescued": "error",
}
_WORD = 64


def cut_log_line(message: str, cap: int) -> str:
    """A log message of at most ``cap`` characters: a longer one keeps its start and
    says how much was cut (a worker's output is never refused for one long line)."""
    if len(message) <= cap:
        return message
    return f"{message[:cap]} … [{len(message) - cap} more characters cut]"


def backoff(attempt: int) -> float:
    """Seconds to wait before retrying after failed ``attempt``: exponential, capped, jittered.

    2 s, 4 s, 8 s … up to an hour, each ±25 % so failures that happened
    together do not retry together.
    """
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return float(delay * random.uniform(0.75, 1.25))


@dataclass(frozen=True, slots=True)
class _Move:
    """One job state change to record (history row + activity event)."""

    job_id: int
    kind: str
    queue: str
    sort_key: int
    from_state: str | None
    to_state: str
    action: str
    attempt: int
    actor: tuple[str | None, str | None, str | None]
    at: int
    error: str | None = None
    extra: Mapping[str, Any] | None = None


def _word(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _WORD:
        raise ValidationError(
            f"{name} must be non-empty text of at most {_WORD} characters", field=name
        )
    return value


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}", field=name)
    return value


def _seconds(value: timedelta | float | int, name: str) -> float:
    return parse_duration(value, name).total_seconds()


def _actor(actor: Actor | None) -> tuple[str | None, str | None, str | None]:
    if actor is None:
        return (None, None, None)
    if not isinstance(actor, Actor):
        raise ValidationError("actor must be an Actor", field="actor")
    return (actor.type, actor.id, actor.name)


def _worker_actor(worker: str | None) -> tuple[str | None, str | None, str | None]:
    return ("worker", worker, None) if worker else (None, None, None)


class Jobs(JobReading):
    """The job queue of one project. See ``docs/jobs.md``.

    Producing: :meth:`enqueue`, :meth:`enqueue_many`. Running (every call
    fenced by the lease token of the claim): :meth:`claim`, :meth:`heartbeat`,
    :meth:`log`, :meth:`complete`, :meth:`complete_many`, :meth:`fail`,
    :meth:`release`. Operating: :meth:`retry`, :meth:`cancel`, :meth:`rescue`.
    Reading: :meth:`get`, :meth:`list`, :meth:`failed`, :meth:`running`,
    :meth:`logs`, :meth:`history`, :meth:`counts`.
    """

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._events = Events(scope)
        self._next_rescue = 0.0
        self._listening = False

    # -- producing ---------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any] | str | None = None,
        *,
        queue: str = "default",
        priority: int = 0,
        run_at: datetime | None = None,
        delay: timedelta | float | None = None,
        max_attempts: int | None = None,
        unique_key: str | None = None,
        subject: tuple[str, str | int] | None = None,
        actor: Actor | None = None,
    ) -> Job:
        """Add one job and return it; with a held ``unique_key``, return the holder instead."""
        item = NewJob(
            kind, payload, queue, priority, run_at, delay, max_attempts, unique_key, subject
        )
        (job_id,) = self.enqueue_many([item], actor=actor)
        return self.get(job_id)

    def enqueue_many(
        self, items: Iterable[NewJob | Mapping[str, Any]], *, actor: Actor | None = None
    ) -> list[int]:
        """Add jobs in one transaction, all or nothing; returns their ids in input order.

        An item whose ``unique_key`` is held by a pending or running job (or
        by an earlier item of the batch) yields that job's id.
        """
        scope = self._scope
        now = to_micros(scope.clock())
        who = _actor(actor)
        prepared = []
        for index, item in enumerate(items):
            if index >= scope.limits.batch_size:
                raise ValidationError(f"a batch holds at most {scope.limits.batch_size} jobs")
            try:
                prepared.append(self._prepare(item, now))
            except ValidationError as exc:
                exc.details["index"] = index
                exc.message = exc.args[0] if not index else f"job {index}: {exc.message}"
                exc.args = (exc.message,)
                raise
        if not prepared:
            return []
        dialect = scope.store.dialect
        with scope.store.write() as conn:
            subjects = {
                key: sql.entity_ensure(conn, dialect, scope.project_id, *key, now)
                for key in sorted({p[1] for p in prepared if p[1] is not None})
            }
            rows = [(*p[0][:10], subjects[p[1]], *p[0][11:]) if p[1] else p[0] for p in prepared]
            ids: list[int] = [0] * len(rows)
            plain = [i for i, p in enumerate(prepared) if p[2] is None]
            new: list[int] = plain[:]
            for i, new_id in zip(
                plain, sql.job_insert_many(conn, dialect, [rows[i] for i in plain]), strict=True
            ):
                ids[i] = new_id
            held: dict[str, int] = {}
            for i, p in enumerate(prepared):
                key = p[2]
                if key is None:
                    continue
                if key in held:
                    ids[i] = held[key]
                    continue
                inserted = sql.job_insert_unique(conn, dialect, rows[i])
                if inserted is None:
                    existing = sql.job_id_by_unique_key(conn, scope.project_id, key)
                    if existing is None:  # pragma: no cover - the holder ended meanwhile
                        raise ValidationError(f"unique_key {key!r} is contended; try again")
                    held[key] = ids[i] = existing
                else:
                    held[key] = ids[i] = inserted
                    new.append(i)
            self._record(
                conn,
                [
                    _Move(
                        ids[i], rows[i][2], rows[i][1], 1, None, "pending", "pending", 0, who, now
                    )
                    for i in sorted(new)
                ],
            )
            sql.job_notify(conn, dialect, scope.project_id)
        scope.store.notifier.publish("jobs", "events")
        return ids

    def _prepare(
        self, item: NewJob | Mapping[str, Any], now: int
    ) -> tuple[tuple[Any, ...], tuple[str, str] | None, str | None]:
        if isinstance(item, Mapping):
            unknown = set(item) - set(NewJob.__slots__)
            if unknown:
                raise ValidationError(f"unknown job fields: {sorted(unknown)}")
            if "kind" not in item:
                raise ValidationError("a job needs a kind", field="kind")
            item = NewJob(**item)
        elif not isinstance(item, NewJob):
            raise ValidationError(f"a job must be a NewJob or a mapping, got {type(item).__name__}")
        limits = self._scope.limits
        kind = _word(item.kind, "kind")
        queue = _word(item.queue, "queue")
        priority = _int(item.priority, "priority", -1_000_000, 1_000_000)
        max_attempts = _int(
            DEFAULT_MAX_ATTEMPTS if item.max_attempts is None else item.max_attempts,
            "max_attempts",
            1,
            1000,
        )
        if item.run_at is not None and item.delay is not None:
            raise ValidationError("give run_at or delay, not both", field="run_at")
        run_at = now
        if item.run_at is not None:
            run_at = to_micros(require_aware(item.run_at, "run_at"))
        elif item.delay is not None:
            run_at = now + int(_seconds(item.delay, "delay") * 1_000_000)
        _, payload = _json.check_object(item.payload, name="payload", limit=limits.metadata_bytes)
        unique_key = item.unique_key
        if unique_key is not None and (
            not isinstance(unique_key, str) or not unique_key or len(unique_key) > 255
        ):
            raise ValidationError(
                "unique_key must be 1 to 255 characters of text", field="unique_key"
            )
        row = (
            self._scope.project_id,
            queue,
            kind,
            payload,
            "pending",
            priority,
            run_at,
            0,
            max_attempts,
            unique_key,
            None,  # subject_pk, resolved inside the transaction
            0,
            1,
            now,
            now,
        )
        return row, subject_key(item.subject), unique_key

    # -- claiming ------------------------------------------------------------------------

    def claim(
        self,
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
    ) -> list[Job]:
        """Take up to ``limit`` due pending jobs of ``queues`` (None: any), by priority then age.

        Each comes back running, with a fresh ``lease`` token (the fencing
        number) valid for ``lease`` unless renewed by :meth:`heartbeat`.
        Expired leases are rescued first, at most once a second per process.
        """
        return self.complete_and_claim((), queues, worker, limit=limit, lease=lease, pid=pid)[1]

    def complete_and_claim(
        self,
        done: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]],
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
    ) -> tuple[list[int], list[Job]]:
        """:meth:`complete_many` of ``done``, then :meth:`claim`, in one transaction.

        For a worker that finishes a batch and takes the next: one commit
        instead of two. The completions are fenced exactly as in
        :meth:`complete_many` (a stale lease is skipped and left out of the
        returned ids); if the transaction fails, neither happened. Returns
        (ids completed, jobs claimed).
        """
        scope = self._scope
        fenced = self._fenced(done)
        names = (
            None if queues is None else ((queues,) if isinstance(queues, str) else tuple(queues))
        )
        if names is not None:
            if not names:
                raise ValidationError("queues must name at least one queue (or be None)")
            for q in names:
                _word(q, "queue")
        worker = worker or default_worker_name()
        if len(worker) > 255:
            raise ValidationError("worker name is longer than 255 characters", field="worker")
        limit = _int(limit, "limit", 1, 10_000)
        span = _seconds(lease, "lease")
        if time.monotonic() >= self._next_rescue:
            self._next_rescue = time.monotonic() + 1.0
            self.rescue()
        now = to_micros(scope.clock())
        dialect = scope.store.dialect
        with scope.store.write() as conn:
            finished = self._finish(conn, fenced, now) if fenced else []
            rows = sql.job_claim(
                conn,
                dialect,
                project_id=scope.project_id,
                queues=names,
                limit=limit,
                now=now,
                lease_until=now + int(span * 1_000_000),
                worker=worker,
                pid=os.getpid() if pid is None else pid,
                trail=self._trail(now, "pending", "running", "running"),
            )
            claimed = self._jobs(conn, rows) if rows else []
        if finished:
            scope.store.notifier.publish("events", "jobs_done")
        elif claimed:
            scope.store.notifier.publish("events")
        claimed.sort(key=lambda j: (-j.priority, j.run_at, j.id))
        return finished, claimed

    # -- fenced calls of the lease holder -------------------------------------------------

    def _refuse(self, conn: Connection, job_id: int, lease: int) -> LeaseLost | NotFound:
        """Why a fenced call matched no row: the job is gone, or the lease is stale."""
        st = sql.job_state_lease(conn, self._scope.store.dialect, self._scope.project_id, job_id)
        if st is None:
            return NotFound(f"job {job_id} not found in project {self._scope.project!r}")
        state, current, _, _ = st
        return LeaseLost(
            f"job {job_id}: lease {lease} is stale (job is {state}, lease {current})",
            job_id=job_id,
            lease=lease,
            state=state,
            current_lease=current,
        )

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
        _check_id(job_id)
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
            values["pid"] = _int(pid, "pid", 1, 2**31 - 1)
        span = _seconds(extend, "extend")
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
            refusal = self._refuse(conn, job_id, lease)
            if (
                isinstance(refusal, LeaseLost)
                and refusal.details["state"] == "cancelled"
                and refusal.details["current_lease"] == lease
            ):
                return False
            raise refusal

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
        _check_id(job_id)
        scope = self._scope
        now = to_micros(scope.clock())
        rows = []
        for line in lines:
            level, message, fields = line[0], line[1], line[2]
            if level not in LOG_LEVELS:
                raise ValidationError(
                    f"level must be one of {list(LOG_LEVELS)}, got {level!r}", field="level"
                )
            if not isinstance(message, str):
                raise ValidationError("a log message must be text", field="message")
            message = cut_log_line(message, scope.limits.log_line_chars)
            _, text = _json.check_object(fields, name="fields", limit=scope.limits.metadata_bytes)
            at = to_micros(require_aware(line[3], "at")) if len(line) > 3 else now
            rows.append([scope.project_id, job_id, 0, at, level, message, text])
        if not rows:
            return
        with scope.store.write() as conn:
            st = sql.job_state_lease(conn, scope.store.dialect, scope.project_id, job_id)
            if st is None or st[1] != lease or st[0] not in ("running", "cancelled"):
                raise self._refuse(conn, job_id, lease)
            for row in rows:
                row[2] = st[2]
            sql.job_log_insert_many(conn, scope.store.dialect, rows)
        scope.store.notifier.publish(f"job_logs:{job_id}")

    def complete(self, job_id: int, lease: int, result: Mapping[str, Any] | None = None) -> None:
        """Mark a running job completed (fenced: ``LeaseLost`` if the lease is stale)."""
        _check_id(job_id)
        if not self.complete_many([(job_id, lease, result)]):
            with self._scope.store.read() as conn:
                raise self._refuse(conn, job_id, lease)

    def complete_many(
        self, items: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]]
    ) -> list[int]:
        """Complete many running jobs in one transaction; returns the ids completed.

        Items are ``(id, lease)`` or ``(id, lease, result)``. An item whose
        lease is stale is skipped (nothing changes for it) and left out of the
        returned list.
        """
        fenced = self._fenced(items)
        if not fenced:
            return []
        now = to_micros(self._scope.clock())
        with self._scope.store.write() as conn:
            done = self._finish(conn, fenced, now)
        if done:
            self._scope.store.notifier.publish("events", "jobs_done")
        return done

    def _fenced(
        self, items: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]]
    ) -> list[tuple[int, int, str | None]]:
        """Validate completions into (id, lease, result as JSON text or None)."""
        fenced: list[tuple[int, int, str | None]] = []
        limit = self._scope.limits.metadata_bytes
        for item in items:
            job_id, lease = item[0], item[1]
            _check_id(job_id)
            _int(lease, "lease", 0, 2**63 - 1)
            result = item[2] if len(item) > 2 else None
            _, text = _json.check_object(result, name="result", limit=limit)
            fenced.append((job_id, lease, text))
        return fenced

    def _finish(
        self, conn: Connection, fenced: Sequence[tuple[int, int, str | None]], now: int
    ) -> list[int]:
        rows = sql.job_finish_many(
            conn,
            self._scope.store.dialect,
            project_id=self._scope.project_id,
            fenced=fenced,
            now=now,
            trail=self._trail(now, "running", "completed", "completed"),
        )
        return [int(r.id) for r in rows]

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
        _check_id(job_id)
        if not isinstance(error, str) or not error:
            raise ValidationError("error must be non-empty text", field="error")
        limit = self._scope.limits.text_chars
        if len(error) > limit:
            error = error[: limit - 1] + "…"
        wait = (
            None if retry_in is None else (0.0 if retry_in == 0 else _seconds(retry_in, "retry_in"))
        )
        return self._end_attempt(job_id, lease, error, retry=retry, wait=wait, cause="retrying")

    def _end_attempt(
        self, job_id: int, lease: int, error: str, *, retry: bool, wait: float | None, cause: str
    ) -> Job:
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            row = sql.job_get(conn, scope.store.dialect, scope.project_id, job_id, lock=True)
            if row is None or row.state != "running" or row.lease != lease:
                raise self._refuse(conn, job_id, lease)
            new_row, move = self._attempt_failed(
                conn, row, error, now, retry=retry, wait=wait, cause=cause
            )
            self._record(conn, [move])
            job = self._jobs(conn, [new_row])[0]
        scope.store.notifier.publish("events", "jobs" if job.state == "pending" else "jobs_done")
        return job

    def _attempt_failed(
        self,
        conn: Connection,
        row: Row[Any],
        error: str,
        now: int,
        *,
        retry: bool,
        wait: float | None,
        cause: str,
    ) -> tuple[Row[Any], _Move]:
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
            project_id=self._scope.project_id,
            job_id=row.id,
            states=("running",),
            lease=row.lease,
            values=values,
        )
        assert new_row is not None  # the row is locked and was just checked
        move = _Move(
            row.id,
            row.kind,
            row.queue,
            new_row.history,
            "running",
            new_row.state,
            action,
            row.attempt,
            _worker_actor(row.worker),
            now,
            error=error,
        )
        return new_row, move

    def release(self, job_id: int, lease: int, reason: str = "worker shutting down") -> Job:
        """Give a running job back unfinished (pending again, this attempt not counted)."""
        _check_id(job_id)
        scope = self._scope
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
                raise self._refuse(conn, job_id, lease)
            self._log_internal(conn, row, "warning", f"released: {reason}", now)
            self._record(
                conn,
                [
                    _Move(
                        row.id,
                        row.kind,
                        row.queue,
                        row.history,
                        "running",
                        "pending",
                        "released",
                        row.attempt,
                        _worker_actor(row.worker),
                        now,
                        extra={"reason": reason},
                    )
                ],
            )
            sql.job_notify(conn, scope.store.dialect, scope.project_id)
            job = self._jobs(conn, [row])[0]
        scope.store.notifier.publish("jobs", "events")
        return job

    # -- operating -------------------------------------------------------------------------

    def rescue(self, *, limit: int = 500) -> int:
        """Put running jobs whose lease expired back to pending (or failed when out of
        attempts), with a log line and an error saying why. Workers call this on
        their own; returns how many were rescued."""
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            rows = sql.job_expired(conn, scope.store.dialect, scope.project_id, now, limit)
            moves = []
            for row in rows:
                error = (
                    f"lease expired: worker {row.worker or '?'} stopped heartbeating "
                    f"(lease {row.lease} ran out at {from_micros(row.lease_expires_at).isoformat()})"
                )
                new_row, move = self._attempt_failed(
                    conn, row, error, now, retry=True, wait=0.0, cause="rescued"
                )
                self._log_internal(
                    conn, row, "warning", f"rescued: {error}; now {new_row.state}", now
                )
                moves.append(move)
                log.warning("chronolog: job %s rescued (%s); now %s", row.id, error, new_row.state)
            self._record(conn, moves)
            if moves:
                sql.job_notify(conn, scope.store.dialect, scope.project_id)
        if moves:
            scope.store.notifier.publish("jobs", "events")
        return len(moves)

    def cancel(self, job_id: int, *, actor: Actor | None = None) -> Job:
        """Cancel a pending job at once, or a running one (its worker is told at its next
        heartbeat). Cancelling a cancelled job changes nothing."""
        return self._operate(job_id, ("pending", "running"), "cancelled", "cancelled", actor)

    def retry(self, job_id: int, *, actor: Actor | None = None) -> Job:
        """Send a failed or cancelled job back to pending, due now, with one more attempt."""
        return self._operate(job_id, ("failed", "cancelled"), "pending", "retried", actor)

    def _operate(
        self, job_id: int, allowed: tuple[str, ...], to_state: str, action: str, actor: Actor | None
    ) -> Job:
        _check_id(job_id)
        who = _actor(actor)
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            row = sql.job_get(conn, scope.store.dialect, scope.project_id, job_id, lock=True)
            if row is None:
                raise NotFound(f"job {job_id} not found in project {scope.project!r}")
            if row.state == to_state == "cancelled":
                return self._jobs(conn, [row])[0]
            if row.state not in allowed:
                raise InvalidTransition(
                    f"job {job_id} is {row.state}; only {' or '.join(allowed)} jobs can be {action}",
                    job_id=job_id,
                    state=row.state,
                )
            values: dict[str, Any] = {"state": to_state, "updated_at": now}
            if to_state == "cancelled":
                values["finished_at"] = now
            else:
                values.update(
                    run_at=now,
                    finished_at=None,
                    lease_expires_at=None,
                    max_attempts=max(row.max_attempts, row.attempt + 1),
                )
            new_row = sql.job_update(
                conn,
                project_id=scope.project_id,
                job_id=job_id,
                states=(row.state,),
                lease=None,
                values=values,
            )
            assert new_row is not None
            self._record(
                conn,
                [
                    _Move(
                        row.id,
                        row.kind,
                        row.queue,
                        new_row.history,
                        row.state,
                        to_state,
                        action,
                        row.attempt,
                        who,
                        now,
                    )
                ],
            )
            if to_state == "pending":
                sql.job_notify(conn, scope.store.dialect, scope.project_id)
            job = self._jobs(conn, [new_row])[0]
        scope.store.notifier.publish("events", "jobs" if to_state == "pending" else "jobs_done")
        return job

    # -- waking ----------------------------------------------------------------------------

    def wake_generation(self) -> int:
        """A number that changes whenever jobs may have become available (see :meth:`wait_for_work`)."""
        return self._scope.store.notifier.generation("jobs")

    def wait_for_work(self, seen: int, timeout: float) -> bool:
        """Sleep until jobs may be available (generation moved past ``seen``) or ``timeout``.

        On PostgreSQL other processes' enqueues arrive by ``LISTEN/NOTIFY``;
        SQLite only sees this process's own, so workers there pass a short
        ``timeout`` (the poll).
        """
        store = self._scope.store
        if not self._listening:
            store.listen("jobs")
            self._listening = True
        return store.wait("jobs", seen, timeout)

    @property
    def poll_interval(self) -> float:
        """How long a worker waits before looking again when nothing woke it."""
        return 0.25 if self._scope.store.is_sqlite else 5.0

    # -- recording -------------------------------------------------------------------------

    def _log_internal(
        self, conn: Connection, row: Row[Any], level: str, message: str, now: int
    ) -> None:
        sql.job_log_insert_many(
            conn,
            self._scope.store.dialect,
            [(self._scope.project_id, row.id, row.attempt, now, level, message, None)],
        )

    def _trail(self, now: int, from_state: str, to_state: str, action: str) -> sql.JobTrail:
        """What a claim or completion records per job; the counter rows come from the
        events part (one event's worth, added once per moved job)."""
        scope = self._scope
        status = _STATUS[action]
        one = (scope.project_id, now, "job", action, status, "worker", None, None, "job")
        counts = event_counter_rows([one], scope.store.dialect.counter_shard())
        return sql.JobTrail(scope.project_id, now, from_state, to_state, action, status, counts)

    @staticmethod
    def _event(m: _Move) -> dict[str, Any]:
        return {
            "event_type": "job",
            "action": m.action,
            "status": _STATUS[m.action],
            "actor": None
            if m.actor[0] is None
            else {"type": m.actor[0], "id": m.actor[1], "name": m.actor[2]},
            "target": {"type": "job", "id": str(m.job_id), "title": m.kind},
            "occurred_at": from_micros(m.at),
            "error": m.error,
            "metadata": {
                "queue": m.queue,
                "attempt": m.attempt,
                "state": m.to_state,
                **(m.extra or {}),
            },
        }

    def _record(self, conn: Connection, moves: Sequence[_Move]) -> None:
        """Append each move's activity event and transition inside ``conn``'s transaction."""
        if not moves:
            return
        project_id = self._scope.project_id
        events: list[tuple[Any, ...]] = []
        checked: set[tuple[str | None, str | None, str | None]] = set()
        for m in moves:
            if m.error is not None or m.extra or m.actor not in checked:
                # Caller-supplied text (an actor, an error, a reason) goes through
                # the events part's checks; each distinct actor once per call.
                events += self._events.prepare([self._event(m)])
                checked.add(m.actor)
                continue
            # The rest is built here from the job's own checked fields: a second
            # validation would only cost time (it was a fifth of a bulk enqueue).
            events.append(
                (
                    project_id,
                    m.at,
                    "job",
                    m.action,
                    _STATUS[m.action],
                    *m.actor,
                    "job",
                    str(m.job_id),
                    m.kind,
                    None,
                    _json.dumps({"queue": m.queue, "attempt": m.attempt, "state": m.to_state}),
                )
            )
        event_ids = self._events.write_prepared(conn, events, check_types=False)
        sql.job_history_append_many(
            conn,
            self._scope.store.dialect,
            self._scope.project_id,
            [
                (
                    m.job_id,
                    m.sort_key,
                    m.from_state,
                    m.to_state,
                    *m.actor,
                    _json.dumps({"action": m.action, "attempt": m.attempt, **(m.extra or {})}),
                    m.at,
                    event_id,
                )
                for m, event_id in zip(moves, event_ids, strict=True)
            ],
        )


def default_worker_name() -> str:
    """``host:pid``, the name a worker goes by unless given one."""
    return f"{os.uname().nodename}:{os.getpid()}"
