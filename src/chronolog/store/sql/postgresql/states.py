"""The states part's hot operations on PostgreSQL (``StateDriver``): its SQL text and code."""

from __future__ import annotations

from sqlalchemy import Connection

from .._raw import fetch_raw
from ..states import LockedEntity, LockedOne, StateDriver, machine_definition

__all__ = ["PostgreSQLStates"]

# The entity row is locked first; its newest sort_key is read by a second
# statement, which (READ COMMITTED) sees what the previous holder of the lock
# committed. One statement would read the history from before the lock wait.
_LOCK_ONE = (
    "SELECT e.pk, e.kind, e.entity_id, e.state, e.title, "
    "(SELECT m.definition FROM machines m WHERE m.project_id = e.project_id "
    "AND m.kind = e.kind) FROM entities e "
    "WHERE e.project_id = %s AND e.kind = %s AND e.entity_id = %s FOR UPDATE OF e"
)
_HEAD = (
    "SELECT sort_key FROM transitions WHERE project_id = %s AND kind = %s "
    "AND entity_id = %s AND most_recent = true"
)


class PostgreSQLStates(StateDriver):
    """The PostgreSQL side of :class:`~chronolog.store.sql.states.StateDriver`."""

    def entity_lock_one(
        self, conn: Connection, project_id: int, kind: str, entity_id: str
    ) -> LockedOne | None:
        key = (project_id, kind, entity_id)
        rows = fetch_raw(conn, _LOCK_ONE, key)
        if not rows:
            return None
        found = rows[0]
        heads = fetch_raw(conn, _HEAD, key)
        head = heads[0] if heads else None
        return (
            LockedEntity(*found[:5]),
            machine_definition(found[5]),
            None if head is None else int(head[0]),
        )
