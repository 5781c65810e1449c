"""SQLite: one file in WAL mode, writers serialised by ``BEGIN IMMEDIATE``.

Known gaps compared with PostgreSQL:

* one writer at a time per file (readers never block): fine on one machine,
  the reason to move to PostgreSQL for many hosts;
* no ``LISTEN/NOTIFY``: other processes are noticed by a short poll;
* the file must be on a local disk; network filesystems break its locking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Insert, Table, TextClause, func
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from .dialect import Dialect

__all__ = ["SQLiteDialect"]


class SQLiteDialect(Dialect):
    """The SQLite side of the seam."""

    name = "sqlite"

    def is_unavailable(self, exc: SQLAlchemyError) -> bool:
        text = str(exc).lower()
        return "database is locked" in text or "unable to open" in text or "busy" in text

    def is_retryable(self, exc: SQLAlchemyError) -> bool:
        # The busy timeout already waited; a locked database is not retried again here.
        return False

    def insert_rows(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        if not rows:
            return []
        sql = (
            f'INSERT INTO "{table.name}" ({", ".join(columns)}) '
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        raw = conn.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            cursor.executemany(sql, rows)
            # Inside one write transaction nobody else inserts, and AUTOINCREMENT
            # hands out consecutive rowids, so the batch's ids end at last_insert_rowid().
            last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
        finally:
            cursor.close()
        return list(range(last - len(rows) + 1, last + 1))

    def upsert_add(
        self,
        conn: Connection,
        table: Table,
        keys: Sequence[str],
        counter: str,
        rows: Sequence[dict[str, Any]],
    ) -> None:
        if not rows:
            return
        key = (table.name, tuple(keys), counter)
        stmt = self._upserts.get(key)
        if stmt is None:
            # Built once: constructing the statement costs more than running it.
            stmt = sqlite_insert(table)
            stmt = self._upserts[key] = stmt.on_conflict_do_update(
                index_elements=list(keys),
                set_={counter: table.c[counter] + stmt.excluded[counter]},
            )
        conn.execute(stmt, list(rows))

    def insert_ignore(
        self,
        table: Table,
        index_elements: Sequence[str],
        index_where: ColumnElement[bool] | TextClause | None = None,
    ) -> Insert:
        return sqlite_insert(table).on_conflict_do_nothing(
            index_elements=list(index_elements), index_where=index_where
        )

    def visible_tx_bound(self) -> ColumnElement[int] | None:
        return None

    def contains_ci(self, column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
        # SQLite's LIKE is case-insensitive for ASCII; lower() both sides for the rest.
        return func.lower(column).contains(text.lower(), autoescape=True)
