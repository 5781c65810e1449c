"""Rows of ``store/sql/states.py`` and ``transitions.py`` → the public value types."""

from __future__ import annotations

from typing import Any

from .. import _json
from .._time import from_micros
from ..models import Actor
from ..store.schema.jobs import JOB_ACTIONS
from ..store.sql.job_moves import JOB_KIND, JobMoveRow
from .models import Entity, Transition

__all__ = ["entity_from_row", "job_transition_from_row", "transition_from_row"]


def _document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str | bytes):  # raw driver paths hand back JSON text
        value = _json.loads(value)
    return value if isinstance(value, dict) else None


def _actor(kind: str | None, ident: str | None, name: str | None) -> Actor | None:
    return None if kind is None else Actor(kind, ident, name)


def transition_from_row(row: Any) -> Transition:
    """Build a :class:`Transition` from a row in ``TRANSITION_COLUMNS`` order."""
    (
        ident,
        kind,
        entity_id,
        sort_key,
        from_state,
        to_state,
        most_recent,
        occurred_at,
        actor_type,
        actor_id,
        actor_name,
        metadata,
        event_id,
        title,
    ) = tuple(row)
    return Transition(
        id=int(ident),
        kind=kind,
        entity_id=entity_id,
        sort_key=int(sort_key),
        from_state=from_state,
        to_state=to_state,
        most_recent=bool(most_recent),
        occurred_at=from_micros(occurred_at),
        actor=_actor(actor_type, actor_id, actor_name),
        metadata=_document(metadata),
        event_id=event_id,
        title=title,
    )


_MOVE_KEYS = frozenset(("queue", "attempt", "from", "state", "sort_key"))


def job_transition_from_row(row: JobMoveRow, position: int = 0) -> Transition:
    """A job's state change (its event) as a :class:`Transition` of kind ``job``.

    ``id`` and ``event_id`` are the event's id; ``metadata`` holds the
    ``action`` and ``attempt`` (and a reason, where one was given), as the
    job's history rows always did. ``position`` numbers an event that carries
    no ``sort_key`` of its own.
    """
    metadata = _document(row.metadata) or {}
    sort_key = metadata.get("sort_key")
    return Transition(
        id=int(row.id),
        kind=JOB_KIND,
        entity_id=row.job_id,
        sort_key=int(sort_key) if isinstance(sort_key, int) else position,
        from_state=metadata.get("from"),
        to_state=JOB_ACTIONS[row.action],
        most_recent=row.newest,
        occurred_at=from_micros(row.occurred_at),
        actor=_actor(row.actor_type, row.actor_id, row.actor_name),
        metadata={
            "action": row.action,
            "attempt": metadata.get("attempt"),
            **{k: v for k, v in metadata.items() if k not in _MOVE_KEYS},
        },
        event_id=int(row.id),
        title=row.title,
    )


def entity_from_row(row: Any) -> Entity:
    """Build an :class:`Entity` from a row in ``ENTITY_COLUMNS`` order."""
    (
        _pk,
        kind,
        entity_id,
        title,
        parent_kind,
        parent_id,
        attributes,
        state,
        state_since,
        created_at,
        updated_at,
        t_id,
        sort_key,
        from_state,
        to_state,
        occurred_at,
        actor_type,
        actor_id,
        actor_name,
        metadata,
        event_id,
    ) = tuple(row)
    current = None
    if t_id is not None:
        current = Transition(
            id=int(t_id),
            kind=kind,
            entity_id=entity_id,
            sort_key=int(sort_key),
            from_state=from_state,
            to_state=to_state,
            most_recent=True,
            occurred_at=from_micros(occurred_at),
            actor=_actor(actor_type, actor_id, actor_name),
            metadata=_document(metadata),
            event_id=event_id,
            title=title,
        )
    return Entity(
        kind=kind,
        id=entity_id,
        title=title,
        parent=None if parent_kind is None else (parent_kind, parent_id),
        attributes=_document(attributes),
        state=state,
        state_since=from_micros(state_since),
        created_at=from_micros(created_at),
        updated_at=from_micros(updated_at),
        current=current,
    )
