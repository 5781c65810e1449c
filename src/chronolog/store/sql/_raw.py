"""Hand-written statements sent straight to the driver, in the driver's own placeholder style.

For the few hot statements whose cost is smaller than SQLAlchemy's
per-statement work around them. Driver errors are wrapped as SQLAlchemy's, so
``Store.write()`` and friends translate them into chronolog's exceptions like
any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["fetch_raw"]


def fetch_raw(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` (the driver's placeholders) in ``conn``'s transaction; its rows, if any."""
    raw = conn.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall()) if cursor.description else []
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
