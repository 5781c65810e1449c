"""Statements the HTTP service needs for itself."""

from __future__ import annotations

from sqlalchemy import Connection, literal, select, text

__all__ = ["store_ping", "store_read_only"]


def store_ping(conn: Connection) -> bool:
    """store_ping: a round trip to the database (health checks)."""
    return conn.execute(select(literal(1))).scalar_one() == 1


def store_read_only(conn: Connection) -> str | None:
    """store_read_only: why PostgreSQL refuses writes here (a standby, read-only
    transactions by default), or None when it takes them."""
    row = conn.execute(
        text("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')")
    ).one()
    if row[0]:
        return "a standby in recovery"
    if str(row[1]).lower() == "on":
        return "default_transaction_read_only is on"
    return None
