"""Statements that read jobs' state changes from their activity events.

A job's history is its events: type ``job``, target ``("job", id)``, an
action of ``JOB_ACTIONS`` (the new state follows from it), the previous
state and the move's number in the metadata (``from``, ``sort_key``). These
statements serve ``cl.jobs.history``, ``cl.states.history("job", …)`` and the
timeline's pages and day counts; they read the events' indexes on
``(project_id, target_type, target_id, occurred_at)`` and
``(project_id, event_type, occurred_at)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
)

from ..schema import events
from ..schema.jobs import JOB_ACTIONS

__all__ = [
    "JOB_KIND",
    "JobMoveRow",
    "actions_into",
    "job_move_day_counts",
    "job_move_history",
    "job_move_newest",
    "job_move_page",
    "job_moves_present",
]

JOB_KIND = "job"
"""The kind jobs go by in the states part's history and timeline (and their event type)."""


class JobMoveRow(NamedTuple):
    """One job state change, as its event holds it."""

    id: int  # the event's id
    job_id: str
    occurred_at: int
    action: str
    actor_type: str | None
    actor_id: str | None
    actor_name: str | None
    error: str | None
    metadata: Any  # the event's metadata: a dict, or JSON text from some drivers
    title: str | None  # the job's kind
    newest: bool  # no later state change of the job exists


_e = events.c
_later = events.alias("later_move")


def _is_move(table: Any = events) -> list[ColumnElement[bool]]:
    return [
        table.c.event_type == JOB_KIND,
        table.c.target_type == JOB_KIND,
        table.c.action.in_(list(JOB_ACTIONS)),
    ]


_NEWEST = ~exists().where(
    _later.c.project_id == _e.project_id,
    _later.c.target_type == JOB_KIND,
    _later.c.target_id == _e.target_id,
    _later.c.id > _e.id,
    *_is_move(_later),
)
_COLUMNS = (
    _e.id,
    _e.target_id,
    _e.occurred_at,
    _e.action,
    _e.actor_type,
    _e.actor_id,
    _e.actor_name,
    _e.error,
    _e.metadata,
    _e.target_title,
)


def _row(r: Sequence[Any], newest: bool) -> JobMoveRow:
    return JobMoveRow._make((*r[:10], newest))


def actions_into(states: Sequence[str]) -> list[str]:
    """The actions that leave a job in one of ``states``."""
    return [action for action, state in JOB_ACTIONS.items() if state in states]


_TO_STATE = case(JOB_ACTIONS, value=_e.action)


def job_move_history(conn: Connection, project_id: int, job_id: int) -> list[JobMoveRow]:
    """job_move_history: every state change of one job, oldest first (by event id:
    a job's moves are serialised by its row lock, so later moves have later ids)."""
    rows = conn.execute(
        select(*_COLUMNS)
        .where(
            _e.project_id == project_id,
            _e.target_type == JOB_KIND,
            _e.target_id == str(job_id),
            _e.event_type == JOB_KIND,
            _e.action.in_(list(JOB_ACTIONS)),
        )
        .order_by(_e.id)
    ).all()
    return [_row(r, i == len(rows) - 1) for i, r in enumerate(rows)]


def job_move_newest(
    conn: Connection, project_id: int, job_ids: Sequence[int]
) -> dict[int, JobMoveRow]:
    """job_move_newest: the latest state change of each job of ``job_ids`` (job id → its
    move); a job whose events retention removed is missing from the answer."""
    if not job_ids:
        return {}
    rows = conn.execute(
        select(*_COLUMNS)
        .where(
            _e.project_id == project_id,
            _e.target_type == JOB_KIND,
            _e.target_id.in_(sorted({str(i) for i in job_ids})),
            _e.event_type == JOB_KIND,
            _e.action.in_(list(JOB_ACTIONS)),
        )
        .order_by(_e.id)
    ).all()
    return {int(r.target_id): _row(r, True) for r in rows}  # the last one of each wins


def job_move_page(
    conn: Connection,
    *,
    project_id: int,
    to_states: Sequence[str] | None,
    since: int | None,
    until: int | None,
    limit: int,
    before: tuple[int, int] | None = None,
) -> list[JobMoveRow]:
    """job_move_page: job state changes newest first; ``before`` = (occurred_at, id)
    continues a keyset walk."""
    where: list[ColumnElement[bool]] = [_e.project_id == project_id, *_is_move()]
    if to_states is not None:
        where.append(_e.action.in_(actions_into(to_states)))
    if since is not None:
        where.append(_e.occurred_at >= since)
    if until is not None:
        where.append(_e.occurred_at < until)
    if before is not None:
        at, ident = before
        where.append(or_(_e.occurred_at < at, and_(_e.occurred_at == at, _e.id < ident)))
    rows = conn.execute(
        select(*_COLUMNS, _NEWEST.label("newest"))
        .where(*where)
        .order_by(_e.occurred_at.desc(), _e.id.desc())
        .limit(limit)
    ).all()
    return [_row(r, bool(r[10])) for r in rows]


_DAY_COUNT_STATEMENTS: dict[tuple[int, bool], Any] = {}


def job_move_day_counts(
    conn: Connection,
    project_id: int,
    to_states: Sequence[str] | None,
    ranges: Sequence[tuple[int, int]],
) -> list[tuple[str, int]]:
    """job_move_day_counts: (to_state, distinct jobs) that moved into each state during
    any of the time ``ranges`` ([start, end) microseconds)."""
    key = (len(ranges), to_states is None)
    stmt = _DAY_COUNT_STATEMENTS.get(key)
    if stmt is None:
        where: list[ColumnElement[bool]] = [_e.project_id == bindparam("b_project"), *_is_move()]
        if to_states is not None:
            where.append(_e.action.in_(bindparam("b_actions", expanding=True)))
        where.append(
            or_(
                *(
                    and_(
                        _e.occurred_at >= bindparam(f"b_lo{i}", type_=BigInteger()),
                        _e.occurred_at < bindparam(f"b_hi{i}", type_=BigInteger()),
                    )
                    for i in range(len(ranges))
                )
            )
        )
        stmt = (
            select(_TO_STATE, func.count(_e.target_id.distinct())).where(*where).group_by(_TO_STATE)
        )
        if len(_DAY_COUNT_STATEMENTS) < 64:
            _DAY_COUNT_STATEMENTS[key] = stmt
    params: dict[str, Any] = {"b_project": project_id}
    if to_states is not None:
        params["b_actions"] = actions_into(to_states)
    for i, (lo, hi) in enumerate(ranges):
        params[f"b_lo{i}"], params[f"b_hi{i}"] = lo, hi
    return [(r[0], int(r[1])) for r in conn.execute(stmt, params).all()]


_PRESENT = (
    select(_e.id).where(_e.project_id == bindparam("b_project"), _e.event_type == JOB_KIND).limit(1)
)


def job_moves_present(conn: Connection, project_id: int) -> bool:
    """job_moves_present: whether the project has any job event (else its timelines skip
    counting job moves)."""
    return conn.execute(_PRESENT, {"b_project": project_id}).first() is not None
