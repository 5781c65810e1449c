"""Statements the HTTP service needs for itself."""

from __future__ import annotations

from sqlalchemy import Connection, literal, select

__all__ = ["store_ping"]


def store_ping(conn: Connection) -> bool:
    """store_ping: a round trip to the database (health checks)."""
    return conn.execute(select(literal(1))).scalar_one() == 1
