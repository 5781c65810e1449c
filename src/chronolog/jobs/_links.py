"""Dependencies and pipelines: jobs that wait for others (``after=``), chains of stages.

The bookkeeping, and what its exactness rests on (``docs/architecture.md``):

* A job enqueued ``after`` others locks them (in id order), adds one to their
  ``dependents`` and reads their states *once locked*: ``waiting_for`` is the
  number not finished yet. It starts ``waiting`` (or ``pending`` if none is
  left, or ``cancelled`` if one already failed and ``on_failure`` is
  ``cancel``). Its edges go to ``job_dependencies``.
* A completion frees the dependents of the completed jobs that have any
  (``dependents`` is not NULL) **in the transaction that completes them**:
  under each dependent's row lock it subtracts the number of its dependencies
  just completed from ``waiting_for``, and the writer that takes it to zero
  moves it ``waiting`` → ``pending`` (action ``ready``): each database's batch
  does it in its own SQL (``store/sql/postgresql/jobs.py``: CTEs ``freed``,
  ``gate``, ``ready``; ``store/sql/sqlite/jobs.py``: ``_FREE``). Two completions of
  the same dependent's dependencies serialise on its row, so exactly one sees
  zero; a ``kill -9`` loses the completion and the release together or neither.
* A job that fails for good or is cancelled cancels its waiting dependents
  (and theirs, transitively) in the same transaction, each with the reason in
  its event; an ``on_failure="run"`` dependent counts it as finished instead.
* PostgreSQL's batch is one statement with one snapshot: a dependent enqueued
  while that statement waited for its dependency's row lock is not in the
  snapshot. The statement sees the gap (``dependents`` counts more edges than
  it found) and the queue settles those dependents at once in a transaction
  of its own (:func:`reconcile`); the rescue also re-counts stale waiting jobs
  from time to time, which closes the gap if the process died in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row

from .. import _json
from .._scope import Scope
from .._time import from_micros
from ..errors import NotFound, ValidationError
from ..models import Actor
from ..store.sql import job_links as links_sql
from ..store.sql import jobs as sql
from ..store.sql import states as entity_sql
from ..store.sql.jobs import NewJobRow
from ._checks import Prepared, check_id, check_text, subject_key
from ._trail import Move, Who, record
from .models import JobLink, JobLinks, NewJob, Pipeline
from .reading import JobReading

__all__ = [
    "Linker",
    "enqueue_linked",
    "link_order",
    "reconcile",
    "retry_state",
    "settle_failed",
]

_UNFINISHED = frozenset(("waiting", "pending", "running"))
_SYSTEM: Who = ("worker", None, None)
"""The actor of a release by a completion: the worker's batch (as the PostgreSQL batch
writes it)."""


def link_order(prepared: Sequence[Prepared], linked: Sequence[int]) -> list[int]:
    """The indexes of ``linked`` items in an order where every ref comes before its
    users; ``ValidationError`` for a duplicate or unknown ref, or a cycle."""
    refs: dict[str, int] = {}
    for i, p in enumerate(prepared):
        if p.ref is not None:
            if p.ref in refs:
                raise ValidationError(f"ref {p.ref!r} is given to two jobs", field="ref")
            refs[p.ref] = i
    for i in linked:
        for a in prepared[i].after:
            if isinstance(a, str) and a not in refs:
                raise ValidationError(
                    f"job {i}: after names ref {a!r}, which no job of the batch has",
                    field="after",
                )
    order: list[int] = []
    state: dict[int, int] = {}  # 1: being visited, 2: placed

    def visit(i: int, path: list[int]) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            cycle = [*path[path.index(i) :], i]
            names = " → ".join(prepared[j].ref or f"#{j}" for j in cycle)
            raise ValidationError(f"dependency cycle: {names}", field="after")
        state[i] = 1
        for a in prepared[i].after:
            if isinstance(a, str):
                visit(refs[a], [*path, i])
        state[i] = 2
        if i in linked_set:
            order.append(i)

    linked_set = set(linked)
    for i in linked:
        visit(i, [])
    return order


def enqueue_linked(
    scope: Scope,
    conn: Connection,
    prepared: Sequence[Prepared],
    rows: Sequence[NewJobRow],
    ids: list[int],
    order: Sequence[int],
    who: Who,
    now: int,
    pipeline_id: int | None,
) -> list[Move]:
    """Insert the ``order`` items one by one (refs resolved through ``ids``, filled in as
    they go) with their dependency bookkeeping; returns their moves to record."""
    refs = {p.ref: i for i, p in enumerate(prepared) if p.ref is not None}
    dialect = scope.store.dialect
    moves: list[Move] = []
    for i in order:
        p, row = prepared[i], rows[i]
        after = [ids[refs[a]] if isinstance(a, str) else a for a in p.after]
        after = list(dict.fromkeys(after))
        values: dict[str, Any] = row._asdict()
        if isinstance(values["payload"], str):  # JSON text; the column type encodes it again
            values["payload"] = _json.loads(values["payload"])
        values["pipeline_id"] = pipeline_id
        extra: dict[str, Any] | None = None
        action = "pending"
        if after:
            states = links_sql.job_lock_dependencies(conn, dialect, scope.project_id, after)
            missing = [a for a in after if a not in states]
            if missing:
                # A batch names the item (0-based, as details["index"]); a single
                # enqueue has no job i to name.
                which = f"job {i}: " if len(prepared) > 1 else ""
                raise ValidationError(
                    f"{which}after names {missing}, not jobs of project {scope.project!r}",
                    field="after",
                    index=i,
                )
            unfinished = sum(1 for s in states.values() if s in _UNFINISHED)
            ended = [(a, states[a]) for a in after if states[a] in ("failed", "cancelled")]
            extra = {"after": after}
            values.update(depends_on=after, on_failure=p.on_failure, waiting_for=unfinished)
            if ended and p.on_failure == "cancel":
                action = "cancelled"
                values.update(state="cancelled", finished_at=now)
                extra.update(_reason(*ended[0]))
            elif unfinished:
                action = "waiting"
                values["state"] = "waiting"
        new_id = links_sql.job_insert_linked(conn, values)
        ids[i] = new_id
        if after:
            links_sql.job_dependency_insert_many(
                conn, scope.project_id, [(new_id, a) for a in after]
            )
        moves.append(Move(new_id, row.kind, row.queue, 1, None, action, 0, who, now, extra=extra))
    return moves


def _reason(dependency: int, state: str) -> dict[str, Any]:
    return {"reason": f"job {dependency} it runs after was {state}", "dependency": dependency}


def _ready(scope: Scope, conn: Connection, row: Row[Any], now: int) -> Row[Any]:
    return links_sql.job_set(
        conn,
        scope.project_id,
        row.id,
        {"state": "pending", "waiting_for": 0, "run_at": max(row.run_at, now), "updated_at": now},
    )


def settle_failed(
    scope: Scope, conn: Connection, ended: Mapping[int, str], now: int, who: Who
) -> int:
    """Jobs of ``ended`` (id → ``failed`` / ``cancelled``) just ended without completing:
    cancel their waiting dependents with the reason (transitively), or, for an
    ``on_failure="run"`` dependent, count the dependency as finished. Returns how many
    dependents moved."""
    moved = 0
    frontier = dict(ended)
    dialect = scope.store.dialect
    while frontier:
        found = links_sql.job_lock_waiting(conn, dialect, scope.project_id, list(frontier))
        following: dict[int, str] = {}
        moves: list[Move] = []
        for row, n, first in found:
            reason = _reason(first, frontier[first])
            if row.on_failure == "run":
                left = (row.waiting_for or 0) - n
                if left > 0:
                    links_sql.job_set(conn, scope.project_id, row.id, {"waiting_for": left})
                    continue
                new = _ready(scope, conn, row, now)
                extra = {**reason, "reason": reason["reason"] + "; on_failure is run"}
                moves.append(
                    Move(row.id, row.kind, row.queue, new.history, "waiting", "ready",
                         row.attempt, who, now, extra=extra)
                )  # fmt: skip
                continue
            new = links_sql.job_set(
                conn,
                scope.project_id,
                row.id,
                {"state": "cancelled", "finished_at": now, "updated_at": now},
            )
            moves.append(
                Move(row.id, row.kind, row.queue, new.history, "waiting", "cancelled",
                     row.attempt, who, now, extra=reason)
            )  # fmt: skip
            if row.dependents:
                following[row.id] = "cancelled"
        record(scope, conn, moves)
        moved += len(moves)
        if any(m.action == "ready" for m in moves):
            sql.job_notify(conn, dialect, scope.project_id)
        frontier = following
    return moved


def reconcile(scope: Scope, conn: Connection, ids: Iterable[int], now: int) -> int:
    """Re-count the dependencies of the waiting jobs of ``ids`` from their states and act on
    the count (release, cancel, or just correct ``waiting_for``). Idempotent: the repair
    for a release a race or a crash left undone. Returns how many moved."""
    moved = 0
    rows = links_sql.job_lock_in_state(
        conn, scope.store.dialect, scope.project_id, list(ids), "waiting"
    )
    for row in rows:
        unfinished, ended = links_sql.job_unfinished_dependencies(conn, row.id)
        if ended and row.on_failure != "run":
            dependency, state = ended[0]
            new = links_sql.job_set(
                conn,
                scope.project_id,
                row.id,
                {"state": "cancelled", "finished_at": now, "updated_at": now},
            )
            record(
                scope,
                conn,
                [Move(row.id, row.kind, row.queue, new.history, "waiting", "cancelled",
                      row.attempt, _SYSTEM, now, extra=_reason(dependency, state))],
            )  # fmt: skip
            moved += 1
            if row.dependents:
                moved += settle_failed(scope, conn, {row.id: "cancelled"}, now, _SYSTEM)
        elif unfinished == 0:
            new = _ready(scope, conn, row, now)
            record(
                scope,
                conn,
                [Move(row.id, row.kind, row.queue, new.history, "waiting", "ready",
                      row.attempt, _SYSTEM, now)],
            )  # fmt: skip
            sql.job_notify(conn, scope.store.dialect, scope.project_id)
            moved += 1
        elif unfinished != row.waiting_for:
            links_sql.job_set(conn, scope.project_id, row.id, {"waiting_for": unfinished})
    return moved


def retry_state(conn: Connection, row: Row[Any]) -> tuple[str, int | None]:
    """Where a retried job goes: ``waiting`` (and for how many) while a job it runs after
    has not completed, else ``pending``. A dependency that failed or was cancelled
    counts as not completed (retry it too), unless ``on_failure`` is ``run``."""
    if row.depends_on is None:
        return "pending", None
    unfinished, ended = links_sql.job_unfinished_dependencies(conn, row.id)
    wait = unfinished + (len(ended) if row.on_failure != "run" else 0)
    return ("waiting" if wait else "pending"), wait


class Linker(JobReading):
    """The dependency and pipeline verbs of :class:`~chronolog.jobs.Jobs`."""

    def dependencies(self, job_id: int) -> JobLinks:
        """A job's dependencies both ways: the jobs it runs after and the jobs that run
        after it, with their states (``NotFound`` for no such job)."""
        check_id(job_id)
        scope = self._scope
        with scope.store.read() as conn:
            job = self._get(conn, job_id)
            after = links_sql.job_links_of(conn, scope.project_id, job_id)
            dependents = links_sql.job_dependents_of(conn, scope.project_id, job_id)
        return JobLinks(
            job_id=job_id,
            after=tuple(JobLink(*r) for r in after),
            dependents=tuple(JobLink(*r) for r in dependents),
            on_failure=job.on_failure,
        )

    def pipeline(
        self,
        stages: Sequence[NewJob | Mapping[str, Any] | str],
        *,
        subject: tuple[str, str | int] | None = None,
        name: str | None = None,
        on_failure: str = "cancel",
        actor: Actor | None = None,
    ) -> Pipeline:
        """Enqueue a chain of stages on one subject, each running after the one before it
        (rip → remux → transcode → filebot), as one pipeline; returns it with its jobs.

        A stage is a job kind, a :class:`NewJob` or a mapping of its fields. It runs
        after the previous stage unless it names its own ``after`` (refs of other
        stages, or job ids): fan-out and fan-in inside a pipeline work too. Every stage
        without a subject of its own works on ``subject``; ``on_failure`` applies to
        the stages that give none. All stages are written in one transaction.
        """
        if isinstance(stages, str | bytes) or not isinstance(stages, Sequence) or not stages:
            raise ValidationError("a pipeline needs a list of stages", field="stages")
        key = subject_key(subject)
        if name is None:
            first = stages[0]
            kind = first if isinstance(first, str) else (
                first.kind if isinstance(first, NewJob) else str(first.get("kind", "stage"))
            )  # fmt: skip
            name = kind if key is None else f"{kind} {key[0]}/{key[1]}"
        name = check_text(name, "name", 255)
        items: list[dict[str, Any]] = []
        for i, stage in enumerate(stages):
            if isinstance(stage, str):
                item: dict[str, Any] = {"kind": stage}
            elif isinstance(stage, NewJob):
                item = {n: getattr(stage, n) for n in NewJob.__slots__}
            elif isinstance(stage, Mapping):
                item = dict(stage)
            else:
                raise ValidationError(f"stage {i} must be a kind, a NewJob or a mapping")
            if item.get("unique_key") is not None:
                raise ValidationError("pipeline stages cannot have a unique_key", index=i)
            item.setdefault("ref", None)
            if item["ref"] is None:
                item["ref"] = f"\x00stage{i}"  # a ref no caller can write
            if not item.get("after") and i:
                item["after"] = (items[i - 1]["ref"],)
            if item.get("subject") is None and key is not None:
                item["subject"] = key
            if item.get("on_failure") is None or (
                isinstance(stage, NewJob) and stage.on_failure == "cancel"
            ):
                item["on_failure"] = on_failure
            items.append(item)
        _, pipeline_id = self._enqueue(items, actor=actor, pipeline=(name, key))
        assert pipeline_id is not None
        return self.pipeline_get(pipeline_id)

    def pipeline_get(self, pipeline_id: int) -> Pipeline:
        """One pipeline with its jobs (``NotFound`` if it is not in this project)."""
        check_id(pipeline_id)
        scope = self._scope
        with scope.store.read() as conn:
            found = links_sql.job_pipeline_get(conn, scope.project_id, pipeline_id)
            if found is None:
                raise NotFound(f"pipeline {pipeline_id} not found in project {scope.project!r}")
            jobs = self._jobs(
                conn, links_sql.job_pipeline_jobs(conn, scope.project_id, pipeline_id)
            )
            subject = None
            if found.subject_pk is not None:
                subject = entity_sql.entity_keys(conn, [int(found.subject_pk)]).get(
                    int(found.subject_pk)
                )
        return Pipeline(
            id=int(found.id),
            project=scope.project,
            name=found.name,
            subject=subject,
            created_at=from_micros(found.created_at),
            jobs=tuple(jobs),
        )

    def pipeline_of(self, job_id: int) -> Pipeline | None:
        """The pipeline a job is a stage of, or None (``NotFound`` for no such job)."""
        job = self.get(job_id)
        return None if job.pipeline_id is None else self.pipeline_get(job.pipeline_id)

    def _enqueue(
        self,
        items: Iterable[NewJob | Mapping[str, Any]],
        *,
        actor: Actor | None,
        pipeline: tuple[str, tuple[str, str] | None] | None = None,
    ) -> tuple[list[int], int | None]:
        raise NotImplementedError  # pragma: no cover - Jobs defines it
