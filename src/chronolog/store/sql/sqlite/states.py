"""The states part's hot operations on SQLite (``StateDriver``): its SQL text and code."""

from __future__ import annotations

from sqlalchemy import Connection

from .._raw import fetch_raw
from ..states import LockedEntity, LockedOne, StateDriver, machine_definition

__all__ = ["SQLiteStates"]

# One statement: the write transaction (BEGIN IMMEDIATE) holds the file's only
# write lock from its start, so this read already sees every commit and nothing
# can change the row or its history before this transaction ends.
_LOCK_ONE = (
    "SELECT e.pk, e.kind, e.entity_id, e.state, e.title, "
    "(SELECT m.definition FROM machines m WHERE m.project_id = e.project_id "
    "AND m.kind = e.kind), "
    "(SELECT t.sort_key FROM transitions t WHERE t.project_id = e.project_id "
    "AND t.kind = e.kind AND t.entity_id = e.entity_id AND t.most_recent = 1) "
    "FROM entities e WHERE e.project_id = ? AND e.kind = ? AND e.entity_id = ?"
)


class SQLiteStates(StateDriver):
    """The SQLite side of :class:`~chronolog.store.sql.states.StateDriver`."""

    def entity_lock_one(
        self, conn: Connection, project_id: int, kind: str, entity_id: str
    ) -> LockedOne | None:
        rows = fetch_raw(conn, _LOCK_ONE, (project_id, kind, entity_id))
        if not rows:
            return None
        found = rows[0]
        head = found[6]
        return (
            LockedEntity(*found[:5]),
            machine_definition(found[5]),
            None if head is None else int(head),
        )
