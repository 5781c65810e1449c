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

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    Table,
    TextClause,
    column,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from .dialect import Dialect
from .sql.sqlite.jobs import SQLiteJobs
from .sql.sqlite.states import SQLiteStates

__all__ = ["SQLiteDialect"]

# The opt-in search index: an FTS5 table with the trigram tokenizer over the
# events' own columns (external content: the text is stored once, in events),
# kept right by triggers, so every writer of the file maintains it, whatever
# code or process it runs.
_SEARCH_TABLE = "event_search"
_SEARCH_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {_SEARCH_TABLE} USING fts5("
    "target_title, action, content='events', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {_SEARCH_TABLE}_insert AFTER INSERT ON events BEGIN "
    f"INSERT INTO {_SEARCH_TABLE}(rowid, target_title, action) "
    "VALUES (new.id, new.target_title, new.action); END",
    f"CREATE TRIGGER IF NOT EXISTS {_SEARCH_TABLE}_delete AFTER DELETE ON events BEGIN "
    f"INSERT INTO {_SEARCH_TABLE}({_SEARCH_TABLE}, rowid, target_title, action) "
    "VALUES ('delete', old.id, old.target_title, old.action); END",
    f"CREATE TRIGGER IF NOT EXISTS {_SEARCH_TABLE}_update "
    "AFTER UPDATE OF target_title, action ON events BEGIN "
    f"INSERT INTO {_SEARCH_TABLE}({_SEARCH_TABLE}, rowid, target_title, action) "
    "VALUES ('delete', old.id, old.target_title, old.action); "
    f"INSERT INTO {_SEARCH_TABLE}(rowid, target_title, action) "
    "VALUES (new.id, new.target_title, new.action); END",
)
_SEARCH_MIN = 3
"""Trigrams need three characters; shorter search text falls back to a scan."""


class SQLiteDialect(Dialect):
    """The SQLite side of the seam."""

    name = "sqlite"
    jobs = SQLiteJobs()
    states = SQLiteStates()

    def is_unavailable(self, exc: SQLAlchemyError) -> bool:
        text = str(exc).lower()
        return any(
            sign in text
            for sign in (
                "database is locked",
                "unable to open",
                "busy",
                "readonly database",  # a read-only file: reads still work
                "disk is full",
                "disk i/o error",
            )
        )

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

    def insert_missing(
        self, conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> None:
        if rows:
            conn.execute(
                sqlite_insert(table).on_conflict_do_nothing(index_elements=list(keys)), list(rows)
            )

    def upsert_add(
        self,
        conn: Connection,
        table: Table,
        keys: Sequence[str],
        counter: str,
        rows: Sequence[Sequence[Any]],
    ) -> None:
        if not rows:
            return
        columns = [*keys, counter]
        sql = (
            f'INSERT INTO "{table.name}" ({", ".join(columns)}) '
            f"VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {counter} = {counter} + excluded.{counter}"
        )
        raw = conn.connection.driver_connection
        assert raw is not None
        # The driver directly: SQLAlchemy's per-row parameter handling costs more
        # than the upsert itself when a batch touches thousands of counters.
        raw.executemany(sql, rows)

    def use_index(self, stmt: Select[Any], table: Table, index: str | None) -> Select[Any]:
        # Used for text search only: without an index of its own, a search page
        # is a newest-first walk of the time index, and a count reads the table
        # in order rather than walking an index and fetching rows at random.
        # (Rendered by the store's ``sqlite+chronolog`` driver: SQLAlchemy's
        # own SQLite compiler drops table hints.)
        return stmt.with_hint(table, f"INDEXED BY {index}" if index else "NOT INDEXED", "sqlite")

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

    def search_index_present(self, conn: Connection) -> bool:
        found = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"),
            {"n": _SEARCH_TABLE},
        ).first()
        return found is not None

    def search_index_create(self, conn: Connection) -> None:
        if self.search_index_present(conn):
            return
        for statement in _SEARCH_DDL:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(f"INSERT INTO {_SEARCH_TABLE}({_SEARCH_TABLE}) VALUES ('rebuild')")

    def search_index_drop(self, conn: Connection) -> None:
        for trigger in ("insert", "delete", "update"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_SEARCH_TABLE}_{trigger}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_SEARCH_TABLE}")

    def search_index_term(self, ids: ColumnElement[Any], text: str) -> ColumnElement[bool] | None:
        if len(text) < _SEARCH_MIN:
            return None
        # One FTS5 phrase: with the trigram tokenizer, the rows that contain the
        # text as a substring (case folded, Unicode too), in either column.
        phrase = '"' + text.replace('"', '""') + '"'
        index = table(_SEARCH_TABLE, column("rowid"))
        matches = select(index.c.rowid).where(
            literal_column(_SEARCH_TABLE).op("MATCH")(literal(phrase))
        )
        return ids.in_(matches)

    def contains_ci(self, column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
        # SQLite's LIKE folds ASCII case by itself; its lower() folds nothing more
        # (no ICU), so wrapping the column in lower() would only defeat LIKE's speed.
        # Known gap: non-ASCII letters match case-sensitively on SQLite.
        if not any(c in text for c in "%_/"):
            # Nothing to escape: an ESCAPE clause would only slow the scan (~40%).
            return column.contains(text)
        return column.contains(text, autoescape=True)
