"""Queue controls: pause and resume, concurrency and rate limits, the limited claim, and
bulk retry / cancel by filter (``cl.jobs.pause``, ``set_limit``, ``queues``,
``retry_many``, ``cancel_many``).

A queue with a control has a row in ``job_queues`` (and only such a queue: a
queue is unpaused and unlimited by default, and its row goes when its last
control does). The store's batch claim (``JobDriver``) leaves every such queue
out and says which of the worker's queues are limited and not paused
(``BatchResult.controlled``); their jobs are claimed by the driver's
``claim_controlled`` (called from :meth:`QueueControls._claim_controlled`), in
one write transaction that

1. locks the queues' control rows (``SELECT … FOR UPDATE`` on PostgreSQL, in
   queue order; SQLite's ``BEGIN IMMEDIATE`` already holds the only write
   lock), so every claimer of a limited queue, on any host, takes its turn;
2. in the next statement (PostgreSQL in read committed gives each statement a
   fresh snapshot: every claim committed before the lock was granted is
   seen) counts the queue's running jobs and claims at most
   ``concurrency - running`` jobs, and at most what is left of the rate
   window (``window_start``/``window_count`` on the control row: at most
   ``N`` starts in each window of ``seconds`` that begins with the first start
   after the previous window ended), writing their events, counters and the
   window in the same statement; the commit releases the lock.

That is what the promise "never more than N running across all workers and
hosts" rests on. A queue without a control costs the batch one probe of
``job_queues``' primary key and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .. import _json
from .._scope import Scope
from .._time import to_micros
from ..errors import ValidationError
from ..events import Events
from ..models import Actor
from ..query import JobQuery
from ..store.schema.jobs import JOB_STATES
from ..store.sql import job_cancels
from ..store.sql import jobs as sql
from ..store.sql import queues as qsql
from ..store.sql import states as entity_sql
from ..store.sql.events import EventRow
from ._checks import check_actor, check_int, check_word
from ._links import settle_failed
from ._revive import retry_linked, revive_dependents
from ._trail import Move, bulk_move, record
from .models import Job, QueueInfo
from .reading import JobReading, job_from_row

__all__ = ["QueueControls", "QueueInfo"]

THROTTLED_RECHECK = 0.5
"""Seconds an idle worker waits, at most, before looking again at a queue held back by
its concurrency limit (a completion elsewhere wakes nobody on its own)."""


def _info(name: str, counts: dict[str, int], row: Any | None) -> QueueInfo:
    if row is None:
        return QueueInfo(name, counts)
    rate = None
    if row.rate_limit is not None:
        rate = (int(row.rate_limit), int(row.rate_period) / 1_000_000)
    return QueueInfo(name, counts, bool(row.paused), row.concurrency, rate)


def _wake_at(controls: Sequence[Any], claimed: Sequence[Any], limit: int, now: int) -> float:
    """When an idle worker should look at its limited queues again (monotonic; 0: no need).

    A full rate window opens again at its end; a queue at its concurrency limit may
    get a slot whenever a job ends elsewhere, which wakes nobody: look again soon.
    """
    if len(claimed) >= limit:
        return 0.0
    wake_in: float | None = None
    for c in controls:
        if c.paused:
            continue
        if c.concurrency is not None:
            wake_in = THROTTLED_RECHECK if wake_in is None else min(wake_in, THROTTLED_RECHECK)
        if c.rate_limit is not None and c.rate_period is not None and c.window_start is not None:
            end = c.window_start + c.rate_period
            if now < end and c.window_count >= c.rate_limit:
                until = (end - now) / 1_000_000
                wake_in = until if wake_in is None else min(wake_in, until)
        if c.rate_limit is not None and c.rate_period is not None:
            # Claimed up to the limit just now: the window closes a period from its start.
            taken = sum(1 for r in claimed if r.queue == c.queue)
            if taken and (c.window_start is None or now >= c.window_start + c.rate_period):
                until = c.rate_period / 1_000_000
                wake_in = until if wake_in is None else min(wake_in, until)
    return 0.0 if wake_in is None else time.monotonic() + max(0.01, wake_in)


def _check_rate(rate: Any) -> tuple[int, int] | None:
    """``None`` or ``(N, seconds)`` → ``(N, period in µs)``."""
    if rate is None:
        return None
    if not isinstance(rate, tuple | list) or len(rate) != 2:
        raise ValidationError("rate must be None or (N, seconds)", field="rate")
    n, period = rate
    check_int(n, "rate limit", 1, 1_000_000)
    if isinstance(period, bool) or not isinstance(period, int | float) or period < 0.001:
        raise ValidationError("rate seconds must be a number of at least 0.001", field="rate")
    if period > 86_400 * 366:
        raise ValidationError("rate seconds must be at most a year", field="rate")
    return int(n), round(period * 1_000_000)


class QueueControls(JobReading):
    """The queue-control verbs of :class:`~chronolog.jobs.Jobs`."""

    _scope: Scope
    _controlled: dict[Any, tuple[str, ...]]
    _wake_at: float
    _pid: int

    # -- pause, resume, limits ------------------------------------------------------------

    def pause(self, queue: str, *, actor: Actor | None = None) -> QueueInfo:
        """Stop every worker, on every host, claiming from ``queue`` at its next claim.

        Running jobs finish. Recorded as an event (type ``queue``, action
        ``paused``, target the queue). Pausing a paused queue changes nothing.
        """
        return self._control(queue, actor, "paused", paused=True)

    def resume(self, queue: str, *, actor: Actor | None = None) -> QueueInfo:
        """Let workers claim from ``queue`` again (an event ``resumed``); wakes idle workers."""
        return self._control(queue, actor, "resumed", paused=False)

    def set_limit(
        self,
        queue: str,
        *,
        concurrency: int | None = None,
        rate: tuple[int, float] | None = None,
        actor: Actor | None = None,
    ) -> QueueInfo:
        """Set (or clear, with None) ``queue``'s limits; both are replaced.

        ``concurrency``: at most N jobs of the queue running at once across all
        workers and hosts. ``rate``: ``(N, seconds)``, at most N starts per
        window of ``seconds``. Enforced in the claim itself (see this module's
        docstring). Recorded as an event (action ``limited``).
        """
        if concurrency is not None:
            check_int(concurrency, "concurrency", 1, 1_000_000)
        period = _check_rate(rate)
        return self._control(
            queue,
            actor,
            "limited",
            concurrency=concurrency,
            rate_limit=None if period is None else period[0],
            rate_period=None if period is None else period[1],
        )

    def _control(self, queue: str, actor: Actor | None, action: str, **change: Any) -> QueueInfo:
        check_word(queue, "queue")
        scope = self._scope
        who = check_actor(actor, scope.limits)
        now = to_micros(scope.clock())
        store = scope.store
        with store.write() as conn:
            base = {
                "project_id": scope.project_id,
                "queue": queue,
                "paused": False,
                "window_count": 0,
                "updated_at": now,
            }
            qsql.queue_control_insert(conn, store.dialect, base)
            row = qsql.queue_control_get(conn, store.dialect, scope.project_id, queue, lock=True)
            assert row is not None
            keys = ("paused", "concurrency", "rate_limit", "rate_period")
            before = {k: getattr(row, k) for k in keys}
            after = {**before, **change}
            if "rate_period" in change and change["rate_period"] != before["rate_period"]:
                change = {**change, "window_start": None, "window_count": 0}
            if not after["paused"] and after["concurrency"] is None and after["rate_limit"] is None:
                qsql.queue_control_delete(conn, scope.project_id, queue)
                final = None
            else:
                change["updated_at"] = now
                qsql.queue_control_update(conn, scope.project_id, queue, change)
                final = qsql.queue_control_get(conn, store.dialect, scope.project_id, queue)
            if after != {**before, "paused": bool(before["paused"])}:
                self._queue_event(conn, queue, action, who, now, after)
            if action == "resumed" or action == "limited":
                sql.job_notify(conn, store.dialect, scope.project_id)
            counts = {
                str(s): int(n)
                for q, s, n in map(tuple, sql.job_count_by_queue_state(conn, scope.project_id))
                if q == queue
            }
        store.notifier.publish("jobs", "events")
        return _info(queue, counts, final)

    def _queue_event(
        self,
        conn: Any,
        queue: str,
        action: str,
        who: tuple[str | None, str | None, str | None],
        now: int,
        after: dict[str, Any],
    ) -> None:
        scope = self._scope
        rate = None
        if after["rate_limit"] is not None:
            rate = {"limit": after["rate_limit"], "seconds": after["rate_period"] / 1_000_000}
        metadata = {
            "queue": queue,
            "paused": bool(after["paused"]),
            "concurrency": after["concurrency"],
            "rate": rate,
        }
        row = EventRow(
            project_id=scope.project_id,
            occurred_at=now,
            event_type="queue",
            action=action,
            status="success",
            actor_type=who[0],
            actor_id=who[1],
            actor_name=who[2],
            target_type="queue",
            target_id=queue,
            target_title=queue,
            error=None,
            metadata=_json.dumps(metadata),
        )
        Events(scope).write_prepared(conn, [row], check_types=False)

    def queues(self) -> list[QueueInfo]:
        """Every queue (with jobs, or with a control), by name: counts by state, pause, limits."""
        scope = self._scope
        with scope.store.read() as conn:
            counts: dict[str, dict[str, int]] = {}
            for q, s, n in map(tuple, sql.job_count_by_queue_state(conn, scope.project_id)):
                counts.setdefault(str(q), {})[str(s)] = int(n)
            controls = {r.queue: r for r in qsql.queue_control_list(conn, scope.project_id)}
        names = sorted(set(counts) | set(controls))
        return [_info(n, counts.get(n, {}), controls.get(n)) for n in names]

    def queue(self, name: str) -> QueueInfo:
        """One queue (an unknown name is an empty, unpaused, unlimited queue)."""
        check_word(name, "queue")
        for info in self.queues():
            if info.name == name:
                return info
        return QueueInfo(name)

    # -- the limited claim ----------------------------------------------------------------

    def _claim_controlled(
        self,
        controlled: Sequence[str],
        kinds: tuple[str, ...] | None,
        worker: str,
        limit: int,
        span: float,
        pid: int | None,
    ) -> list[Job]:
        """Claim up to ``limit`` jobs of limited queues under their limits (module docstring)."""
        scope = self._scope
        store = scope.store
        now = to_micros(scope.clock())
        claim = sql.ControlledClaim(
            project_id=scope.project_id,
            now=now,
            queues=tuple(sorted(controlled)),
            kinds=kinds,
            limit=limit,
            lease_until=now + int(span * 1_000_000),
            worker=worker,
            pid=self._pid if pid is None else (pid or None),  # 0: not known
            claiming=bulk_move(scope, "running", "pending", now, "worker"),
            shard=store.dialect.counter_shard(),
        )
        result = store.dialect.jobs.claim_controlled(store, claim)
        project = scope.project
        jobs = [
            job_from_row(
                r,
                project,
                None
                if r.subject_kind is None
                else {int(r.subject_pk): (r.subject_kind, r.subject_id)},
            )
            for r in result.claimed
        ]
        self._wake_at = _wake_at(result.controls, result.claimed, limit, now)
        if jobs:
            store.notifier.publish("events")
        return jobs

    # -- bulk retry and cancel ------------------------------------------------------------

    def retry_many(
        self,
        query: JobQuery | None = None,
        *,
        all: bool = False,
        actor: Actor | None = None,
        **filters: Any,
    ) -> int:
        """Send every failed or cancelled job ``query`` selects back to pending, due now.

        ``query`` is a :class:`~chronolog.JobQuery`, or its fields as keywords
        (``retry_many(queues="rip", states="failed")``), the same value that
        :meth:`list` takes: list first, then move what you saw. ``states``
        narrows to ``failed`` or ``cancelled``. One transaction, one event per
        job moved (action ``retried``); returns how many moved. As with
        :meth:`retry`, a job that runs after one not completed goes to ``waiting``
        instead, and the dependents each retried job's end cancelled are revived
        (not counted in the answer). A query that names no queue, kind, subject
        or ``since`` would move every such job of the project: it is refused
        unless ``all=True`` says so.
        """
        q = JobQuery.build(query, filters)
        return self._bulk(q, all, actor, ("failed", "cancelled"), "pending", "retried")

    def cancel_many(
        self,
        query: JobQuery | None = None,
        *,
        all: bool = False,
        actor: Actor | None = None,
        **filters: Any,
    ) -> int:
        """Cancel every pending or running job ``query`` selects (running ones' workers are
        told at once, through their cancel watch).

        ``query`` as for :meth:`retry_many`; ``states`` narrows to ``pending``
        or ``running``. One transaction, one event per job (action
        ``cancelled``); returns how many moved. As with :meth:`cancel`, the jobs
        that run after them are cancelled too (unless ``on_failure="run"``). A
        query naming no queue, kind, subject or ``since`` is refused unless
        ``all=True``.
        """
        q = JobQuery.build(query, filters)
        return self._bulk(q, all, actor, ("pending", "running"), "cancelled", "cancelled")

    def _bulk(
        self,
        q: JobQuery,
        everything: bool,
        actor: Actor | None,
        allowed: tuple[str, ...],
        to_state: str,
        action: str,
    ) -> int:
        scope = self._scope
        states = q.states or allowed
        for s in states:
            if s not in JOB_STATES:
                raise ValidationError(f"unknown job state {s!r}", field="states")
            if s not in allowed:
                raise ValidationError(
                    f"only {' or '.join(allowed)} jobs can be {action}, not {s}", field="states"
                )
        if not isinstance(everything, bool):
            raise ValidationError("all must be true or false", field="all")
        narrowed = (q.queues, q.kinds, q.subject, q.since)
        if all(f is None for f in narrowed) and not everything:
            raise ValidationError(
                f"name queues, kinds, a subject or since, or ask for all jobs explicitly "
                f"(all) to move every {' or '.join(states)} job",
                field="all",
            )
        who = check_actor(actor, scope.limits)
        now = to_micros(scope.clock())
        store = scope.store
        when = None if q.since is None else to_micros(q.since)

        def work(conn: Any) -> list[Move]:
            subject_pk = None
            if q.subject is not None:
                subject_pk = entity_sql.entity_pk_get(conn, scope.project_id, *q.subject)
                if subject_pk is None:
                    return []  # no such entity: no job works on it
            flt = sql.JobFilter(
                project_id=scope.project_id,
                states=states,
                queues=q.queues,
                kinds=q.kinds,
                subject_pk=subject_pk,
                since=when,
            )
            found = qsql.job_bulk_lock(conn, store.dialect, sql.job_where(flt))
            before = dict(found)
            rows = qsql.job_bulk_update(conn, [i for i, _ in found], states, to_state, now)
            rows = sorted(rows, key=lambda r: r.id)  # a dependency before its dependents
            waiting = retry_linked(scope, conn, rows) if to_state == "pending" else {}
            moves = [
                Move(r.id, r.kind, r.queue, r.history, before[r.id], action, r.attempt, who, now)
                if r.id not in waiting
                else Move(r.id, r.kind, r.queue, r.history, before[r.id], "waiting",
                          r.attempt, who, now, extra=waiting[r.id][1])
                for r in rows
            ]  # fmt: skip
            record(scope, conn, moves)
            if to_state == "pending":
                revive_dependents(scope, conn, [r.id for r in rows if r.dependents], now, who)
            elif ended := {int(r.id): "cancelled" for r in rows if r.dependents}:
                settle_failed(scope, conn, ended, now, who)  # as cancel() does
            if moves and to_state == "pending":
                sql.job_notify(conn, store.dialect, scope.project_id)
            elif to_state == "cancelled" and any(m.from_state == "running" for m in moves):
                # Running jobs' workers learn it now (their cancel watch), not at a heartbeat.
                job_cancels.job_cancel_notify(conn, store.dialect, scope.project_id)
            return moves

        # A worker completing running jobs locks them too, in its own order: a deadlock
        # PostgreSQL breaks by failing one side is retried here.
        moves = store.retrying(work)
        if moves:
            topics = ["events", "jobs" if to_state == "pending" else "jobs_done"]
            if to_state == "cancelled" and any(m.from_state == "running" for m in moves):
                topics.append(job_cancels.CANCEL_TOPIC)
            store.notifier.publish(*topics)
        return len(moves)
