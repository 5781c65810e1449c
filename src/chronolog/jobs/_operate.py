"""Operator verbs: cancel, retry, and the rescue of expired leases."""

from __future__ import annotations

import logging
from typing import Any

from .._time import from_micros, to_micros
from ..errors import InvalidTransition, NotFound
from ..models import Actor
from ..store.sql import job_cancels as cancels
from ..store.sql import jobs as sql
from ._checks import check_actor, check_id
from ._leases import attempt_failed, log_internal
from ._links import retry_state, settle_failed
from ._revive import revive_dependents
from ._trail import Move, record
from .models import Job
from .reading import JobReading

__all__ = ["Operator"]

log = logging.getLogger("chronolog.jobs")


class Operator(JobReading):
    """The operating verbs of :class:`~chronolog.jobs.Jobs`."""

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
                new_row, move = attempt_failed(
                    scope, conn, row, error, now, retry=True, wait=0.0, cause="rescued"
                )
                log_internal(
                    scope, conn, row, "warning", f"rescued: {error}; now {new_row.state}", now
                )
                moves.append(move)
                log.warning("chronolog: job %s rescued (%s); now %s", row.id, error, new_row.state)
            record(scope, conn, moves)
            ended = {r.id: "failed" for r in rows if r.dependents}
            failed = {m.job_id for m in moves if m.action == "failed"}
            ended = {k: v for k, v in ended.items() if k in failed}
            if ended:
                settle_failed(scope, conn, ended, now, ("worker", None, None))
            if moves:
                sql.job_notify(conn, scope.store.dialect, scope.project_id)
        if moves:
            scope.store.notifier.publish("jobs", "events")
        return len(moves)

    def cancel(self, job_id: int, *, actor: Actor | None = None) -> Job:
        """Cancel a waiting or pending job at once, or a running one: its worker's cancel
        watch tells the handler (``ctx.cancelled``) within a second on PostgreSQL (NOTIFY)
        and within the poll interval on SQLite. Cancelling a cancelled job changes nothing.
        The jobs that run after it are cancelled too (unless ``on_failure="run"``)."""
        return self._operate(
            job_id, ("waiting", "pending", "running"), "cancelled", "cancelled", actor
        )

    def retry(self, job_id: int, *, actor: Actor | None = None) -> Job:
        """Send a failed or cancelled job back to pending, due now, with one more attempt.

        A job that runs after others goes back to ``waiting`` instead while one of
        them has not completed (retry that one too: its completion releases it).
        The dependents its end cancelled (and theirs, transitively) go back to
        ``waiting`` in the same transaction, each with an event (action
        ``waiting``, metadata ``revived``); a dependent cancelled by an operator, or
        still held by another failed or cancelled dependency, stays cancelled."""
        return self._operate(job_id, ("failed", "cancelled"), "pending", "retried", actor)

    def _operate(
        self, job_id: int, allowed: tuple[str, ...], to_state: str, action: str, actor: Actor | None
    ) -> Job:
        check_id(job_id)
        scope = self._scope
        who = check_actor(actor, scope.limits)
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
            extra = None
            if action == "retried" and row.depends_on is not None:
                to_state, wait = retry_state(conn, row)
                if to_state == "waiting":
                    action = "waiting"
                    extra = {"reason": "retried; waits for the jobs it runs after"}
            values: dict[str, Any] = {"state": to_state, "updated_at": now}
            if action == "waiting":
                values["waiting_for"] = wait
            elif row.depends_on is not None and to_state == "pending":
                values["waiting_for"] = 0
            if to_state == "cancelled":
                values.update(finished_at=now, lease_expires_at=None)
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
            move = Move(
                row.id,
                row.kind,
                row.queue,
                new_row.history,
                row.state,
                action,
                row.attempt,
                who,
                now,
                extra=extra,
            )
            record(scope, conn, [move])
            if to_state == "cancelled" and row.dependents:
                settle_failed(scope, conn, {row.id: "cancelled"}, now, who)
            elif to_state != "cancelled" and row.dependents:
                revive_dependents(scope, conn, [row.id], now, who)
            if to_state == "pending":
                sql.job_notify(conn, scope.store.dialect, scope.project_id)
            elif row.state == "running":  # its worker's cancel watch learns it now
                cancels.job_cancel_notify(conn, scope.store.dialect, scope.project_id)
            job = self._jobs(conn, [new_row])[0]
        topics = ["events", "jobs" if to_state == "pending" else "jobs_done"]
        if to_state == "cancelled" and row.state == "running":
            topics.append(cancels.CANCEL_TOPIC)
        scope.store.notifier.publish(*topics)
        return job
