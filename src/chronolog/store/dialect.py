"""The dialect seam: every difference between SQLite and PostgreSQL, written once.

A part never asks which database it runs on; it calls a method here. Each
backend's implementation lives in :mod:`.sqlite` or :mod:`.postgresql`, with
its known gaps written down next to the code.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Insert, Select, Table, TextClause
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)

from ..errors import ChronologError, Conflict, StoreUnavailable, ValidationError
from .sql._raw import fetch_raw

if TYPE_CHECKING:
    from .sql.jobs import JobDriver
    from .sql.states import StateDriver

__all__ = ["Dialect"]


class Dialect(abc.ABC):
    """What chronolog needs from a database beyond portable SQLAlchemy Core."""

    name: str
    """``sqlite`` or ``postgresql``."""

    range_partitions: bool = False
    """Whether ``events`` can be range-partitioned by time (see ``retention``)."""

    jobs: JobDriver
    """The job queue's hot operations (bulk enqueue, the worker's batch), written for
    this database: whole operations, not flags (``store/sql/<database>/jobs.py``)."""

    states: StateDriver
    """The states part's hot operations, written for this database."""

    # -- errors ----------------------------------------------------------------

    def translate(self, exc: SQLAlchemyError) -> ChronologError:
        """Turn a driver error into chronolog's own exception."""
        if isinstance(exc, IntegrityError):
            text = str(exc.orig) if exc.orig is not None else str(exc)
            if "FOREIGN KEY" in text.upper() or "foreign key" in text:
                return ValidationError(f"reference to a missing row: {_first_line(text)}")
            return Conflict(f"uniqueness rule broken: {_first_line(text)}")
        if isinstance(exc, DataError):
            # A value the database cannot store (NUL in PostgreSQL text, an
            # out-of-range number): the caller's input, and nothing was written.
            return ValidationError(f"value cannot be stored: {_first_line(str(exc.orig or exc))}")
        if isinstance(exc, OperationalError | DBAPIError) and self.is_unavailable(exc):
            return StoreUnavailable(f"database unavailable: {_first_line(str(exc.orig or exc))}")
        return ChronologError(f"database error: {_first_line(str(exc))}")

    @abc.abstractmethod
    def is_unavailable(self, exc: SQLAlchemyError) -> bool:
        """Whether the error means "could not reach or lock the database"."""

    @abc.abstractmethod
    def is_retryable(self, exc: SQLAlchemyError) -> bool:
        """Whether retrying the whole transaction may succeed (deadlock, serialisation)."""

    # -- writes ------------------------------------------------------------------

    @abc.abstractmethod
    def insert_rows(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[int]:
        """Insert many rows fast and return their new ``id`` values, in order."""

    @abc.abstractmethod
    def upsert_add(
        self,
        conn: Connection,
        table: Table,
        keys: Sequence[str],
        counter: str,
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """Insert rows ``(*keys, counter)``, or add ``counter`` to the row with the same keys."""

    @abc.abstractmethod
    def insert_missing(
        self, conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> None:
        """Insert rows whose unique ``keys`` are not taken yet; skip the others silently.

        A concurrent writer inserting the same key makes this wait for it and
        then skip, instead of failing the transaction.
        """

    def lock_out_writers(self, conn: Connection, tables: Sequence[Table]) -> None:  # noqa: B027
        """Block other writers of ``tables`` until commit (readers go on).

        SQLite's write lock already does this for every table; PostgreSQL
        takes a ``SHARE`` table lock.
        """

    def notify(self, conn: Connection, channel: str, payload: str) -> None:  # noqa: B027
        """Wake listeners in other processes at commit (no-op where unsupported)."""

    def counter_shard(self) -> int:
        """Which counter row a writer adds to (see ``event_counts.shard``)."""
        return 0

    def use_index(self, stmt: Select[Any], table: Table, index: str | None) -> Select[Any]:
        """Pin the plan of a statement to an index (``None``: read the table itself).

        Only where a planner is known to choose badly; PostgreSQL's is left alone.
        """
        return stmt

    def for_update(self, stmt: Select[Any]) -> Select[Any]:
        """Lock the selected rows until commit where the database needs it."""
        return stmt

    def execute_raw(
        self, conn: Connection, sql: str, params: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        """Run portable hand-written SQL (``?`` placeholders) on ``conn``'s driver connection,
        in its transaction, and return the rows. For a few hot statements only: it skips
        SQLAlchemy's per-statement work, which costs more than the statement itself."""
        return fetch_raw(conn, sql, params)

    def for_claim(self, stmt: Select[Any]) -> Select[Any]:
        """Lock the selected rows, skipping rows another transaction holds (job claims).

        SQLite needs nothing: the claim runs in one ``BEGIN IMMEDIATE``
        transaction, so no other writer can touch the rows it reads.
        """
        return stmt

    @abc.abstractmethod
    def insert_ignore(
        self,
        table: Table,
        index_elements: Sequence[str],
        index_where: ColumnElement[bool] | TextClause | None = None,
    ) -> Insert:
        """``INSERT … ON CONFLICT (index_elements) [WHERE …] DO NOTHING`` on ``table``."""

    # -- reads -------------------------------------------------------------------

    @abc.abstractmethod
    def visible_tx_bound(self) -> ColumnElement[int] | None:
        """Upper bound (exclusive) of writing transactions that can no longer add rows.

        ``None`` when commit order equals id order (SQLite).
        """

    @abc.abstractmethod
    def contains_ci(self, column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
        """Case-insensitive "contains", with ``%``, ``_`` and ``\\`` in ``text`` literal."""

    # -- the opt-in search index (``Events.enable_search_index``) ----------------

    @abc.abstractmethod
    def search_index_present(self, conn: Connection) -> bool:
        """Whether the trigram index of event search text exists in this database."""

    @abc.abstractmethod
    def search_index_create(self, conn: Connection) -> None:
        """Build the trigram index over ``events.target_title`` and ``events.action``.

        Idempotent. It indexes every existing event and must stay right for
        every later insert, update and delete, whoever makes them.
        """

    @abc.abstractmethod
    def search_index_drop(self, conn: Connection) -> None:
        """Remove the trigram index (idempotent); search goes back to a scan."""

    def search_index_term(self, ids: ColumnElement[Any], text: str) -> ColumnElement[bool] | None:
        """A term matching the events whose search text contains ``text``, answered by the index.

        ``None`` means the plain :meth:`contains_ci` terms are the way to ask
        (PostgreSQL's trigram GIN index serves ``ILIKE`` by itself).
        """
        return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
