"""Shared pieces of the schema: the one MetaData, portable column types, naming."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeEngine

__all__ = ["JSONDocument", "RowId", "current_tx", "metadata"]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
"""Every chronolog table, for Alembic and for the schema test."""

JSONDocument: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
"""A JSON object column: JSONB on PostgreSQL, JSON text on SQLite."""

RowId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit surrogate key; on SQLite it must be spelled INTEGER to alias the rowid."""


class current_tx(FunctionElement[int]):
    """The writing transaction's id, used to order the feed by commit (see ``feed``).

    PostgreSQL: the 64-bit ``pg_current_xact_id()``. SQLite serialises writers,
    so commit order is id order there and the column holds ``0``.
    """

    type = BigInteger()
    inherit_cache = True


@compiles(current_tx)
def _current_tx_default(element: current_tx, compiler: Any, **kw: Any) -> str:
    return "0"


@compiles(current_tx, "postgresql")
def _current_tx_postgresql(element: current_tx, compiler: Any, **kw: Any) -> str:
    return "(pg_current_xact_id()::text::bigint)"
