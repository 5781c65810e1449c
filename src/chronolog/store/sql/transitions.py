"""Statements about transitions: the history every entity and job shares.

:func:`transition_append` is the one way to add history. The caller must
hold the subject's row lock (``SELECT … FOR UPDATE`` on PostgreSQL; the
write lock on SQLite) so the previous ``sort_key`` cannot change under it;
the schema's unique indexes turn any slip into a ``Conflict``, never into a
gap, a repeat or a second ``most_recent`` row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, true, update

from ..schema import transitions

__all__ = ["AppendedTransition", "transition_append", "transition_current"]


@dataclass(frozen=True, slots=True)
class AppendedTransition:
    """What :func:`transition_append` wrote."""

    id: int
    sort_key: int
    from_state: str | None


def transition_current(
    conn: Connection, project_id: int, kind: str, entity_id: str
) -> tuple[int, int, str] | None:
    """transition_current: (id, sort_key, to_state) of a subject's most recent transition."""
    row = conn.execute(
        select(transitions.c.id, transitions.c.sort_key, transitions.c.to_state).where(
            transitions.c.project_id == project_id,
            transitions.c.kind == kind,
            transitions.c.entity_id == entity_id,
            transitions.c.most_recent == true(),
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def transition_append(
    conn: Connection,
    *,
    project_id: int,
    kind: str,
    entity_id: str,
    to_state: str,
    occurred_at: int,
    entity_pk: int | None = None,
    from_state: str | None = None,
    actor: tuple[str | None, str | None, str | None] = (None, None, None),
    metadata: dict[str, Any] | None = None,
    event_id: int | None = None,
) -> AppendedTransition:
    """transition_append: clear most_recent on the previous move and add the next one.

    ``from_state`` defaults to the previous transition's ``to_state``; pass it
    for a subject whose first transition starts from a known state (a
    machine's initial state).
    """
    current = transition_current(conn, project_id, kind, entity_id)
    sort_key = 1
    if current is not None:
        previous_id, previous_key, previous_state = current
        conn.execute(
            update(transitions).where(transitions.c.id == previous_id).values(most_recent=False)
        )
        sort_key = previous_key + 1
        if from_state is None:
            from_state = previous_state
    new_id = conn.execute(
        insert(transitions)
        .values(
            project_id=project_id,
            kind=kind,
            entity_id=entity_id,
            entity_pk=entity_pk,
            sort_key=sort_key,
            from_state=from_state,
            to_state=to_state,
            most_recent=True,
            actor_type=actor[0],
            actor_id=actor[1],
            actor_name=actor[2],
            metadata=metadata,
            occurred_at=occurred_at,
            event_id=event_id,
        )
        .returning(transitions.c.id)
    ).scalar_one()
    return AppendedTransition(id=int(new_id), sort_key=sort_key, from_state=from_state)
