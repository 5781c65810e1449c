"""Rows of ``store/sql/states.py`` and ``transitions.py`` → the public value types."""

from __future__ import annotations

from typing import Any

from .. import _json
from .._time import from_micros
from ..models import Actor
from .models import Entity, Transition

__all__ = ["entity_from_row", "transition_from_row"]


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
