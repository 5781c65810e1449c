"""The job queue (``cl.jobs``): produce, claim, fence, finish, rescue, retry, cancel.

Every state change is one write transaction that changes the job row and
appends one activity event (type ``job``, action = what happened, the new
and previous state in its metadata), so the job's history, the activity log,
the stats and the feed never disagree with the queue.

The queue is split by responsibility, as the states part is:

* this module: the facade, producing and the claim/complete verbs a worker
  drives (each batch one whole operation of the store's ``JobDriver``);
* :mod:`._checks`: input checks; :mod:`._leases`: the fenced calls of a
  lease holder; :mod:`._operate`: operator verbs and the rescue;
  :mod:`._trail`: the event every move records; :mod:`.reading`: reads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from .._scope import Scope
from .._time import to_micros
from ..errors import ValidationError
from ..models import Actor
from ..store.sql import job_links as links_sql
from ..store.sql import jobs as sql
from ..store.sql import states as entity_sql
from ._cancels import CancelReading
from ._checks import (
    LOG_LEVELS,
    Prepared,
    check_actor,
    check_id,
    check_int,
    check_kinds,
    check_queues,
    completions,
    cut_log_line,
    prepare_job,
    seconds,
)
from ._leases import DEFAULT_LEASE, LeaseHolder, backoff, refusal
from ._links import Linker, enqueue_linked, link_order, reconcile
from ._operate import Operator
from ._trail import Move, bulk_move, record
from .models import CLAIM_MOST, Job, NewJob
from .queues import QueueControls
from .reading import job_from_row
from .schedules import Schedules
from .workers import WorkerRegistry

__all__ = ["DEFAULT_LEASE", "LOG_LEVELS", "Jobs", "backoff", "cut_log_line", "default_worker_name"]

RESCUE_EVERY = 1.0
"""Seconds between the rescues a process's claims run (no cron needed)."""
RECONCILE_EVERY = 30.0
"""Seconds between the re-counts of stale waiting jobs a process's claims run."""


def default_worker_name() -> str:
    """``host:pid``, the name a worker goes by unless given one."""
    return f"{os.uname().nodename}:{os.getpid()}"


class Jobs(LeaseHolder, Operator, CancelReading, QueueControls, WorkerRegistry, Linker):
    """The job queue of one project. See ``docs/jobs.md``.

    Producing: :meth:`enqueue`, :meth:`enqueue_many`. Running (every call
    fenced by the lease token of the claim): :meth:`claim`,
    :meth:`complete_and_claim`, :meth:`heartbeat`, :meth:`log`,
    :meth:`complete`, :meth:`complete_many`, :meth:`fail`, :meth:`release`.
    Operating: :meth:`retry`, :meth:`cancel`, :meth:`rescue`; a worker's cancel
    watch: :meth:`cancelled`. Reading:
    :meth:`get`, :meth:`list`, :meth:`failed`, :meth:`running`, :meth:`logs`,
    :meth:`history`, :meth:`counts`. Queues (``jobs/queues.py``): :meth:`pause`,
    :meth:`resume`, :meth:`set_limit`, :meth:`queues`, :meth:`retry_many`,
    :meth:`cancel_many`. Workers (``jobs/workers.py``): :meth:`workers` and the
    registry verbs a worker calls.
    """

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._next_rescue = 0.0
        self._next_reconcile = 0.0
        self._listening = False
        self._pid = os.getpid()
        self.schedules = Schedules(scope)
        """Recurring jobs (cron or interval), fired by the workers: see ``docs/schedules.md``."""
        # (queues, kinds) of a claim -> its limited queues, as the last batch saw them
        # (a hint of whether to run the limited claim; each batch refreshes it).
        self._controlled: dict[Any, tuple[str, ...]] = {}
        # Jobs this object claimed that had dependents then: a batch completing one
        # of them frees its dependents in its own statement; others take the lean one.
        self._waited_on: set[int] = set()
        self._wake_at = 0.0  # a limited queue held back: look again by then (monotonic)

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
        after: Sequence[int] | None = None,
        on_failure: str = "cancel",
        actor: Actor | None = None,
    ) -> Job:
        """Add one job and return it; with a held ``unique_key``, return the holder instead.

        With ``after`` (job ids) the job waits (state ``waiting``) until every one
        of them has completed, then becomes pending. A dependency that fails for
        good or is cancelled cancels it, with the reason in its history, unless
        ``on_failure="run"``. An unknown id or another project's job is a
        ``ValidationError``, and nothing is written.
        """
        item = NewJob(
            kind,
            payload,
            queue,
            priority,
            run_at,
            delay,
            max_attempts,
            unique_key,
            subject,
            tuple(after or ()),
            on_failure,
        )
        (job_id,) = self.enqueue_many([item], actor=actor)
        return self.get(job_id)

    def enqueue_many(
        self, items: Iterable[NewJob | Mapping[str, Any]], *, actor: Actor | None = None
    ) -> list[int]:
        """Add jobs in one transaction, all or nothing; returns their ids in input order.

        An item whose ``unique_key`` is held by a pending or running job (or
        by an earlier item of the batch) yields that job's id. An item's
        ``after`` may name jobs of the same batch by their ``ref``: fan-out
        and fan-in in one call; a cycle among them is a ``ValidationError``.
        """
        return self._enqueue(items, actor=actor)[0]

    def _enqueue(
        self,
        items: Iterable[NewJob | Mapping[str, Any]],
        *,
        actor: Actor | None,
        pipeline: tuple[str, tuple[str, str] | None] | None = None,
    ) -> tuple[list[int], int | None]:
        scope = self._scope
        now = to_micros(scope.clock())
        who = check_actor(actor, scope.limits)
        cap = scope.limits.batch_size
        if (
            pipeline is None
            and isinstance(items, Sequence)
            and STREAM_FROM <= len(items) <= cap
            and not scope.store.is_sqlite
        ):
            try:
                return self._enqueue_streamed(items, who, now), None
            except _NotPlain:
                pass  # nothing was written: the general path below
        # At most one past the cap is taken from a generator: enough to refuse it.
        given = items if isinstance(items, Sequence) else list(islice(items, cap + 1))
        if len(given) > cap:
            raise ValidationError(f"a batch holds at most {cap} jobs")
        numbered = len(given) > 1  # a refusal names its item, the first one too
        prepared = [_prepare_at(scope, item, i, now, numbered) for i, item in enumerate(given)]
        if not prepared:
            return [], None
        # Jobs with dependencies (and every stage of a pipeline) go in one by one after
        # the others; the rest take the bulk path unchanged.
        linked = [i for i, p in enumerate(prepared) if p.after or pipeline is not None]
        has_refs = linked or any(p.ref is not None for p in prepared)
        order = link_order(prepared, linked) if has_refs else []
        dialect = scope.store.dialect
        pipeline_id = None
        with scope.store.write() as conn:
            wanted = {p.subject for p in prepared if p.subject is not None}
            if pipeline is not None and pipeline[1] is not None:
                wanted.add(pipeline[1])
            subjects = {
                key: entity_sql.entity_ensure(conn, dialect, scope.project_id, *key, now)
                for key in sorted(wanted)
            }
            rows = [
                p.row if p.subject is None else p.row._replace(subject_pk=subjects[p.subject])
                for p in prepared
            ]
            ids: list[int] = [0] * len(rows)
            skip = set(linked)
            plain = [i for i, p in enumerate(prepared) if p.unique_key is None and i not in skip]
            if plain:
                batch = self._insert_batch(
                    rows if len(plain) == len(rows) else [rows[i] for i in plain], who, now
                )
                for i, new_id in zip(plain, dialect.jobs.enqueue(conn, batch), strict=True):
                    ids[i] = new_id
            held: dict[str, int] = {}
            moves: list[Move] = []
            for i, p in enumerate(prepared):
                key = p.unique_key
                if key is None or i in skip:
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
                    continue
                held[key] = ids[i] = inserted
                row = rows[i]
                moves.append(Move(inserted, row.kind, row.queue, 1, None, "pending", 0, who, now))
            if pipeline is not None:
                on = pipeline[1]
                pipeline_id = links_sql.job_pipeline_insert(
                    conn, scope.project_id, pipeline[0], None if on is None else subjects[on], now
                )
            if order:
                moves += enqueue_linked(
                    scope, conn, prepared, rows, ids, order, who, now, pipeline_id
                )
            if moves:
                record(scope, conn, moves)
                sql.job_notify(conn, dialect, scope.project_id)
        scope.store.notifier.publish("jobs", "events")
        return ids, pipeline_id

    def _insert_batch(
        self,
        rows: Sequence[sql.NewJobRow],
        who: tuple[Any, ...],
        now: int,
        *,
        more: Iterator[sql.NewJobRow] | None = None,
        count: int | None = None,
    ) -> sql.EnqueueBatch:
        """The driver's bulk insert of ``rows`` (and ``more``), each with its ``pending`` event."""
        scope = self._scope
        return sql.EnqueueBatch(
            project_id=scope.project_id,
            now=now,
            rows=rows,
            actor=who,
            enqueued=bulk_move(scope, "pending", None, now, who[0]),
            more=more,
            count=count,
        )

    def _enqueue_streamed(
        self, items: Sequence[NewJob | Mapping[str, Any]], who: tuple[Any, ...], now: int
    ) -> list[int]:
        """A large batch of plain jobs (no subject, unique key, dependency or ref) on
        PostgreSQL: the first :data:`STREAM_FROM` are checked, then the rest are
        checked while the COPY writes the jobs before them. A refused item raises
        inside the transaction (nothing is written); an item that is not plain
        raises :class:`_NotPlain` likewise, and the caller takes the general path."""
        scope = self._scope
        head = [_prepare_at(scope, items[i], i, now, True) for i in range(STREAM_FROM)]
        if not all(_plain(p) for p in head):
            raise _NotPlain

        def rest() -> Iterator[sql.NewJobRow]:
            for index in range(STREAM_FROM, len(items)):
                p = _prepare_at(scope, items[index], index, now, True)
                if not _plain(p):
                    raise _NotPlain
                yield p.row

        with scope.store.write() as conn:
            batch = self._insert_batch(
                [p.row for p in head], who, now, more=rest(), count=len(items)
            )
            ids = scope.store.dialect.jobs.enqueue(conn, batch)
        scope.store.notifier.publish("jobs", "events")
        return ids

    # -- claiming and completing -----------------------------------------------------------

    def claim(
        self,
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease_seconds: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[Job]:
        """Take up to ``limit`` due pending jobs of ``queues`` (None: any), by priority then age.

        Each comes back running, with a fresh ``lease`` token (the fencing
        number) valid for ``lease_seconds`` unless renewed by :meth:`heartbeat`.
        Expired leases are rescued first, at most once a second per process.
        ``kinds``: only jobs of these kinds (None: any). Paused queues are
        skipped; limited ones give at most what their limits allow. ``worker`` and
        ``pid`` are recorded on each job (None: this host and process; ``pid=0``:
        not known, as for a caller over HTTP that sent none).
        """
        return self.complete_and_claim(
            (), queues, worker, limit=limit, lease_seconds=lease_seconds, pid=pid, kinds=kinds
        )[1]

    def complete(self, job_id: int, lease: int, result: Mapping[str, Any] | None = None) -> None:
        """Mark a running job completed (fenced: ``LeaseLost`` if the lease is stale)."""
        check_id(job_id)
        if not self.complete_many([(job_id, lease, result)]):
            with self._scope.store.read() as conn:
                raise refusal(self._scope, conn, job_id, lease)

    def complete_many(
        self, items: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]]
    ) -> list[int]:
        """Complete many running jobs in one transaction; returns the ids completed.

        Items are ``(id, lease)`` or ``(id, lease, result)``. An item whose
        lease is stale is skipped (nothing changes for it) and left out of the
        returned list.
        """
        if not items:
            return []
        return self._batch(completions(items, self._scope.limits), None, None, 0, 0.0, None)[0]

    def complete_and_claim(
        self,
        done: Sequence[tuple[int, int] | tuple[int, int, Mapping[str, Any] | None]],
        queues: Sequence[str] | str | None,
        worker: str | None = None,
        *,
        limit: int = 1,
        lease_seconds: timedelta | float = DEFAULT_LEASE,
        pid: int | None = None,
        kinds: Sequence[str] | None = None,
    ) -> tuple[list[int], list[Job]]:
        """:meth:`complete_many` of ``done``, then :meth:`claim`, in one transaction.

        For a worker that finishes a batch and takes the next: one statement and
        one round trip on PostgreSQL, one commit on SQLite. The completions are
        fenced exactly as in :meth:`complete_many` (a stale lease is skipped and
        left out of the returned ids); if the transaction fails, neither
        happened. Returns (ids completed, jobs claimed, by priority then age).
        Jobs of limited queues are claimed in a transaction of their own, under
        their limits (``jobs/queues.py``), before the batch when the last batch
        said this claim's queues include limited ones.
        """
        fenced = completions(done, self._scope.limits) if done else []
        names = check_queues(queues)
        wanted = None if kinds is None else check_kinds(kinds)
        worker = worker or default_worker_name()
        if not isinstance(worker, str) or len(worker) > 255:
            raise ValidationError("worker name is longer than 255 characters", field="worker")
        if type(limit) is not int or not 1 <= limit <= CLAIM_MOST:
            limit = check_int(limit, "limit", 1, CLAIM_MOST)
        span = seconds(lease_seconds, "lease_seconds")
        if time.monotonic() >= self._next_rescue:
            self._next_rescue = time.monotonic() + RESCUE_EVERY
            self.rescue()
            if time.monotonic() >= self._next_reconcile:
                self._next_reconcile = time.monotonic() + RECONCILE_EVERY
                self.reconcile_waiting()
        key = (names, wanted)
        controlled = self._controlled.get(key)
        first: list[Job] = []
        if controlled:
            # Limited queues first: their limits bound what they take, and unlimited
            # queues with endless work must not starve them.
            first = self._claim_controlled(controlled, wanted, worker, limit, span, pid)
            limit -= len(first)
            if limit <= 0 and not fenced:
                return [], first
        completed, claimed, found = self._batch(fenced, names, worker, limit, span, pid, wanted)
        if limit > 0:
            if len(self._controlled) > 64:
                self._controlled.clear()
            self._controlled[key] = found
            if found and not controlled and len(claimed) < limit:
                more = self._claim_controlled(
                    found, wanted, worker, limit - len(claimed), span, pid
                )
                claimed += more
        return completed, first + claimed if first else claimed

    def _batch(
        self,
        done: Sequence[sql.Completion],
        queues: tuple[str, ...] | None,
        worker: str | None,
        limit: int,
        span: float,
        pid: int | None,
        kinds: tuple[str, ...] | None = None,
    ) -> tuple[list[int], list[Job], tuple[str, ...]]:
        scope = self._scope
        now = to_micros(scope.clock())
        waited_on = self._waited_on
        frees = False
        if waited_on:
            for c in done:
                if c.id in waited_on:
                    frees = True
                    waited_on.discard(c.id)
        batch = sql.Batch(
            project_id=scope.project_id,
            now=now,
            done=done,
            completing=bulk_move(scope, "completed", "running", now, "worker"),
            queues=queues,
            limit=limit,
            lease_until=now + int(span * 1_000_000),
            worker=worker or "",
            pid=self._pid if pid is None else (pid or None),  # 0: not known
            claiming=bulk_move(scope, "running", "pending", now, "worker"),
            shard=scope.store.dialect.counter_shard(),
            readying=bulk_move(scope, "ready", "waiting", now, "worker"),
            kinds=kinds,
            frees=frees,
        )
        result = scope.store.dialect.jobs.run_batch(scope.store, batch)
        if result.unsettled:
            self._reconcile_dependents(result.unsettled)
        project = scope.project
        claimed = [job_from_row(r, project, _subject(r)) for r in result.claimed]
        for job in claimed:
            if job.dependents:
                if len(waited_on) > 100_000:  # jobs failed or released elsewhere, never seen again
                    waited_on.clear()
                waited_on.add(job.id)
        if result.released:
            scope.store.notifier.publish("events", "jobs_done", "jobs")
        elif result.completed:
            scope.store.notifier.publish("events", "jobs_done")
        elif claimed:
            scope.store.notifier.publish("events")
        return result.completed, claimed, result.controlled

    def _reconcile_dependents(self, ids: Sequence[int]) -> int:
        """Settle the waiting dependents of ``ids`` by re-counting (see ``_links``)."""
        scope = self._scope
        with scope.store.write() as conn:
            found = links_sql.job_lock_waiting(conn, scope.store.dialect, scope.project_id, ids)
            moved = reconcile(scope, conn, [r[0].id for r in found], to_micros(scope.clock()))
        if moved:
            scope.store.notifier.publish("jobs", "events")
        return moved

    def reconcile_waiting(self, *, limit: int = 500) -> int:
        """Re-count waiting jobs whose count of unfinished dependencies is stale (a release
        a crash left undone) and settle them; returns how many moved. The rescue runs
        it every :data:`RECONCILE_EVERY` seconds on its own."""
        scope = self._scope
        dialect = scope.store.dialect
        # A read first: the common answer is "none", and it takes no write lock (nor a
        # reading of the clock: a test's clock that ticks per call stays where it was).
        with scope.store.read() as conn:
            if not links_sql.job_waiting_stale(conn, dialect, scope.project_id, 1):
                return 0
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            stale = links_sql.job_waiting_stale(conn, dialect, scope.project_id, limit)
            moved = reconcile(scope, conn, stale, now) if stale else 0
        if moved:
            scope.store.notifier.publish("jobs", "events")
        return moved

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
        if self._wake_at:
            # A limited queue held jobs back: its window ends (or a slot may free) by then,
            # and nothing would wake this worker when it does.
            timeout = max(0.0, min(timeout, self._wake_at - time.monotonic()))
        return store.wait("jobs", seen, timeout)

    def wake_wait_for_work(self) -> None:
        """Wake every :meth:`wait_for_work` in this process (a worker stopping: on
        PostgreSQL it would otherwise sleep out its 5 s poll). The other workers of
        the process look for jobs once more."""
        self._scope.store.notifier.publish("jobs")

    @property
    def claim_most(self) -> int:
        """The most jobs one claim takes (a worker asks for no more)."""
        return CLAIM_MOST

    @property
    def poll_interval(self) -> float:
        """How long a worker waits before looking again when nothing woke it."""
        return 0.25 if self._scope.store.is_sqlite else 5.0


STREAM_FROM = 1000
"""From this many jobs, a PostgreSQL ``enqueue_many`` checks the jobs after the first
1,000 while the COPY writes those (about a sixth of a 20,000-job batch's time)."""


class _NotPlain(Exception):
    """A streamed batch met a job that needs the general path."""


def _plain(p: Prepared) -> bool:
    return p.subject is None and p.unique_key is None and not p.after and p.ref is None


def _prepare_at(
    scope: Scope, item: NewJob | Mapping[str, Any], index: int, now: int, numbered: bool
) -> Prepared:
    """:func:`prepare_job`, its refusal naming the item's index (``numbered``: the batch
    has more than one item; a single job's refusal names no "job 0")."""
    try:
        return prepare_job(scope, item, now)
    except ValidationError as exc:
        exc.details["index"] = index
        exc.message = f"job {index}: {exc.message}" if numbered else exc.args[0]
        exc.args = (exc.message,)
        raise


def _subject(row: Any) -> dict[int, tuple[str, str]] | None:
    if row.subject_kind is None:
        return None
    return {int(row.subject_pk): (row.subject_kind, row.subject_id)}
