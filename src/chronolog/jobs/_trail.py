"""Trail rows: what every job state change records, built in one place.

A job's history is its activity events, one per state change, written in
the transaction that changes the state. :func:`job_event` is the one
definition of such an event:

* type ``job``; action = what happened (``JOB_ACTIONS``: the new state, or
  ``retrying`` / ``rescued`` / ``released`` / ``retried`` for the moves back
  to pending); status from :data:`STATUS`;
* actor: the worker holding the job, or whoever enqueued / operated;
* target ``("job", id)`` titled with the job's kind; the attempt's error;
* metadata ``{queue, attempt, from, state, sort_key}`` (+ a reason where
  there is one): the previous and new state, and the move's number in the
  job's history (``jobs.history`` after the move).

Moves of one job at a time (fail, release, cancel, retry, rescue, unique
enqueues) go through :func:`record`. The bulk moves (enqueue, the worker's
completions and claims) are written by the store's per-database SQL from the
job rows (``BulkMove``); that SQL mirrors :func:`job_event`, and
``tests/test_jobs.py`` holds the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .. import _json
from .._scope import Scope
from ..events import Events, event_counter_rows
from ..store.schema.jobs import JOB_ACTIONS
from ..store.sql.events import EventRow
from ..store.sql.jobs import BulkMove

__all__ = ["STATUS", "Move", "bulk_move", "job_event", "record"]

STATUS = {
    "waiting": "processing",
    "ready": "processing",
    "pending": "processing",
    "running": "processing",
    "released": "processing",
    "retried": "processing",
    "fired": "processing",
    "completed": "success",
    "cancelled": "cancelled",
    "failed": "error",
    "retrying": "error",
    "rescued": "error",
}
"""The event status of each action."""

Who = tuple[str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Move:
    """One state change of one job, as it is recorded."""

    job_id: int
    kind: str
    queue: str
    sort_key: int
    from_state: str | None
    action: str
    attempt: int
    actor: Who
    at: int
    error: str | None = None
    extra: Mapping[str, Any] | None = None

    @property
    def to_state(self) -> str:
        """The state the move leaves the job in."""
        return JOB_ACTIONS[self.action]


def job_event(project_id: int, move: Move) -> EventRow:
    """The activity event that records ``move`` (see the module docstring)."""
    metadata: dict[str, Any] = {
        "queue": move.queue,
        "attempt": move.attempt,
        "from": move.from_state,
        "state": move.to_state,
        "sort_key": move.sort_key,
    }
    if move.extra:
        metadata.update(move.extra)
    return EventRow(
        project_id=project_id,
        occurred_at=move.at,
        event_type="job",
        action=move.action,
        status=STATUS[move.action],
        actor_type=move.actor[0],
        actor_id=move.actor[1],
        actor_name=move.actor[2],
        target_type="job",
        target_id=str(move.job_id),
        target_title=move.kind,
        error=move.error,
        metadata=_json.dumps(metadata),
    )


def record(scope: Scope, conn: Connection, moves: Sequence[Move]) -> None:
    """Append each move's event (and its counters) inside ``conn``'s transaction.

    The moves' text was checked on the way in (actors, errors, reasons), and
    the rest comes from the job rows: the events part need not check it again.
    """
    if moves:
        rows = [job_event(scope.project_id, m) for m in moves]
        Events(scope).write_prepared(conn, rows, check_types=False)


_counts_cache: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}


def bulk_move(
    scope: Scope, action: str, from_state: str | None, at: int, actor_type: str | None
) -> BulkMove:
    """What a bulk move of ``action`` records per job; counters of one event at ``at``."""
    shard = scope.store.dialect.counter_shard()
    minute = at // 60_000_000
    key = (scope.project_id, action, actor_type, minute, shard)
    counts = _counts_cache.get(key)
    if counts is None:
        # Every counter level's bucket is a whole number of minutes: the rows of
        # one event depend on its minute only.
        one = EventRow(
            scope.project_id, minute * 60_000_000, "job", action, STATUS[action], actor_type,
            None, None, "job", None, None, None, None,
        )  # fmt: skip
        counts = event_counter_rows([one], shard)
        if len(_counts_cache) > 256:
            _counts_cache.clear()
        _counts_cache[key] = counts
    return BulkMove(action, STATUS[action], from_state, counts)
