"""Statements of opt-in range partitioning of ``events`` by ``occurred_at`` (PostgreSQL).

Partitions are named ``events_p<start>_<end>`` (microsecond bounds), so their
ranges are read from the catalogue by name; ``events_default`` catches rows
outside every partition until maintenance moves them into one.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

__all__ = [
    "events_is_partitioned",
    "events_oldest_any",
    "events_partition_add",
    "events_partition_convert",
    "events_partition_drop",
    "events_partition_fill",
    "events_partition_list",
    "events_partition_others",
]

_NAME = re.compile(r"^events_p(\d+)_(\d+)$")
_INDEXES = {
    "ix_events_project_id_occurred_at_id": "project_id, occurred_at, id",
    "ix_events_project_id_event_type_occurred_at": "project_id, event_type, occurred_at",
    "ix_events_project_id_actor_type_occurred_at": "project_id, actor_type, occurred_at",
    "ix_events_project_id_target_type_target_id_occurred_at": (
        "project_id, target_type, target_id, occurred_at"
    ),
    "ix_events_project_id_tx_id": "project_id, tx, id",
}


def events_is_partitioned(conn: Connection) -> bool:
    """events_is_partitioned: whether ``events`` is a range-partitioned table."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partrelid "
                "WHERE c.relname = 'events' AND c.relnamespace = current_schema()::regnamespace)"
            )
        ).scalar_one()
    )


def events_partition_list(conn: Connection) -> list[tuple[int, int, str]]:
    """events_partition_list: (start, end, name) of every range partition, oldest first."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    ).scalars()
    out = []
    for name in rows:
        match = _NAME.match(name)
        if match:
            out.append((int(match.group(1)), int(match.group(2)), name))
    return sorted(out)


def events_partition_convert(conn: Connection) -> None:
    """events_partition_convert: turn ``events`` into a range-partitioned table, keeping rows.

    Takes an exclusive lock for the copy. The primary key becomes
    (id, occurred_at), as PostgreSQL requires of a partitioned table; ids
    still come from the same sequence. Returns the number of rows moved.
    Partitions are added by the caller before the copy; rows outside them
    land in ``events_default``.
    """
    conn.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
    conn.execute(text("ALTER TABLE events RENAME TO events_unpartitioned"))
    conn.execute(
        text("ALTER TABLE events_unpartitioned RENAME CONSTRAINT pk_events TO pk_events_old")
    )
    for name in _INDEXES:
        conn.execute(text(f'ALTER INDEX "{name}" RENAME TO "{name[:56]}_old"'))
    conn.execute(
        text(
            "CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING COMMENTS) "
            "PARTITION BY RANGE (occurred_at)"
        )
    )
    conn.execute(text("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id, occurred_at)"))
    # No foreign key to projects: PostgreSQL does not enforce it on events (0009).
    for name, columns in _INDEXES.items():
        conn.execute(text(f'CREATE INDEX "{name}" ON events ({columns})'))
    # The sequence belongs to the old table's column: re-own it before the drop.
    conn.execute(text("ALTER SEQUENCE events_id_seq OWNED BY events.id"))
    conn.execute(text("CREATE TABLE events_default PARTITION OF events DEFAULT"))


def events_partition_fill(conn: Connection) -> int:
    """events_partition_fill: copy the rows of the old table in and drop it (after convert)."""
    moved = conn.execute(text("INSERT INTO events SELECT * FROM events_unpartitioned")).rowcount
    conn.execute(text("DROP TABLE events_unpartitioned"))
    return int(moved)


def events_partition_add(conn: Connection, start: int, end: int) -> None:
    """events_partition_add: a partition for [start, end), taking its rows from the default one."""
    name = f"events_p{start}_{end}"
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE events INCLUDING DEFAULTS)'))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM events_default WHERE occurred_at >= :a "
            f'AND occurred_at < :b RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'
        ),
        {"a": start, "b": end},
    )
    conn.execute(
        text(f'ALTER TABLE events ATTACH PARTITION "{name}" FOR VALUES FROM ({start}) TO ({end})')
    )


def events_partition_others(conn: Connection, name: str, project_id: int) -> bool:
    """events_partition_others: whether a partition holds events of other projects.

    Locks the partition first (until commit), so no writer can add a row of
    another project between this check and a drop.
    """
    conn.execute(text(f'LOCK TABLE "{name}" IN ACCESS EXCLUSIVE MODE'))
    return bool(
        conn.execute(
            text(f'SELECT EXISTS (SELECT 1 FROM "{name}" WHERE project_id <> :p)'),
            {"p": project_id},
        ).scalar_one()
    )


def events_partition_drop(conn: Connection, name: str) -> int:
    """events_partition_drop: drop a whole partition; returns how many events it held."""
    count = int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
    conn.execute(text(f'DROP TABLE "{name}"'))
    return count


def events_oldest_any(conn: Connection) -> int | None:
    """events_oldest_any: the oldest occurred_at over every project (None when empty)."""
    value = conn.execute(text("SELECT min(occurred_at) FROM events")).scalar()
    return None if value is None else int(value)
