"""Reviving the dependents a retried job's failure or cancel cancelled.

A job that fails for good or is cancelled cancels its waiting dependents,
transitively (``_links.settle_failed``), each cancel recorded with its cause
in the event's metadata (``dependency``: the job it runs after that ended).
An operator's own cancel names no dependency. So the newest move of a
cancelled job tells the two apart, and a retry can undo what it caused:

* :func:`revive_dependents` walks down from the jobs just retried: each
  cancelled dependent whose cancel names a dependency, and none of whose
  dependencies is failed or cancelled any longer, goes back to ``waiting``
  (``waiting_for`` re-counted), with one event (action ``waiting``, metadata
  ``revived: true`` and the job that revived it), then its own dependents
  likewise. A dependent another dependency still holds cancelled stays so:
  the retry of that one revives it. A waiting ``on_failure="run"`` dependent,
  which counted the ended job as finished, counts it as unfinished again
  (``waiting_for`` only: no state change, no event).
* :func:`retry_linked` puts a job a bulk retry moved to pending back to
  ``waiting`` while a job it runs after has not completed, as ``retry`` does.

All of it runs in the retry's transaction. A dependent whose cancel event
retention removed is not revived (nothing says why it was cancelled).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row

from .. import _json
from .._scope import Scope
from ..store.sql import job_links as links_sql
from ..store.sql import job_moves
from ._links import retry_state
from ._trail import Move, Who, record

__all__ = ["retry_linked", "revive_dependents"]


def _propagated(move: job_moves.JobMoveRow | None) -> bool:
    """Whether ``move`` is a cancel that a dependency's end caused."""
    if move is None or move.action != "cancelled":
        return False
    meta = move.metadata
    if isinstance(meta, str | bytes):
        meta = _json.loads(meta)
    return isinstance(meta, dict) and meta.get("dependency") is not None


def _recount(scope: Scope, conn: Connection, row: Row[Any]) -> None:
    """A waiting ``on_failure="run"`` dependent counted a dependency's end as finished;
    that one is back (retried or revived): count it as unfinished again, or the
    completion of the others would release the dependent before it has run."""
    unfinished, _ = links_sql.job_unfinished_dependencies(conn, row.id)
    if unfinished != row.waiting_for:
        links_sql.job_set(conn, scope.project_id, row.id, {"waiting_for": unfinished})


def revive_dependents(
    scope: Scope, conn: Connection, ids: Iterable[int], now: int, who: Who
) -> int:
    """The jobs of ``ids`` were just retried (or revived): revive the dependents their
    end cancelled, transitively (see the module docstring). Returns how many moved."""
    moved = 0
    frontier = sorted(set(ids))
    verb = "retried"  # the jobs of ``ids``; the later frontiers were revived
    dialect = scope.store.dialect
    while frontier:
        dependents = links_sql.job_dependent_ids(conn, frontier)
        if not dependents:
            break
        locked = links_sql.job_lock_in_state(
            conn, dialect, scope.project_id, dependents, ("cancelled", "waiting")
        )
        rows = [r for r in locked if r.state == "cancelled" and r.on_failure != "run"]
        newest = job_moves.job_move_newest(conn, scope.project_id, [r.id for r in rows])
        following: list[int] = []
        moves: list[Move] = []
        for row in locked:  # by id: a dependency comes before its dependents
            if row.state == "waiting":
                if row.on_failure == "run":
                    _recount(scope, conn, row)
                continue
            if row.on_failure == "run" or not _propagated(newest.get(int(row.id))):
                continue
            unfinished, ended = links_sql.job_unfinished_dependencies(conn, row.id)
            if ended or not unfinished:
                continue  # still cancelled by another dependency (or nothing to wait for)
            cause = min(set(frontier) & set(row.depends_on or ()), default=None)
            new = links_sql.job_set(
                conn,
                scope.project_id,
                row.id,
                {
                    "state": "waiting",
                    "waiting_for": unfinished,
                    "finished_at": None,
                    "updated_at": now,
                    "max_attempts": max(row.max_attempts, row.attempt + 1),
                },
            )
            extra: dict[str, Any] = {"reason": f"revived: a job it runs after was {verb}"}
            if cause is not None:
                extra = {
                    "reason": f"revived: job {cause} it runs after was {verb}",
                    "revived_by": cause,
                }
            moves.append(
                Move(row.id, row.kind, row.queue, new.history, "cancelled", "waiting",
                     row.attempt, who, now, extra={**extra, "revived": True})
            )  # fmt: skip
            if row.dependents:
                following.append(int(row.id))
        record(scope, conn, moves)
        moved += len(moves)
        frontier = following
        verb = "revived"
    return moved


def retry_linked(
    scope: Scope, conn: Connection, rows: Sequence[Row[Any]]
) -> dict[int, tuple[int, dict[str, Any]]]:
    """Jobs a bulk retry just moved to pending (``rows``, by id): those that run after a
    job not completed go to ``waiting`` instead, as :meth:`~chronolog.jobs.Jobs.retry`
    puts them. Returns job id → (``waiting_for``, the move's extra) for each."""
    out: dict[int, tuple[int, dict[str, Any]]] = {}
    for row in rows:
        if row.depends_on is None:
            continue
        state, wait = retry_state(conn, row)
        values: dict[str, Any] = {"waiting_for": wait or 0}
        if state == "waiting":
            values["state"] = "waiting"
            out[int(row.id)] = (wait or 0, {"reason": "retried; waits for the jobs it runs after"})
        # The bulk update counted the move in ``history`` already: no second one.
        links_sql.job_set(conn, scope.project_id, row.id, values, move=False)
    return out
