"""Statements about idempotency keys: the first answer of a write, kept to replay it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from ..dialect import Dialect
from ..schema import idempotency_keys
from . import AnyRow

__all__ = ["idempotency_claim", "idempotency_expire", "idempotency_get", "idempotency_set"]


def idempotency_get(conn: Connection, project_id: int, key: str) -> AnyRow | None:
    """idempotency_get: a key's request hash and stored answer, or None."""
    return conn.execute(
        select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
            idempotency_keys.c.project_id == project_id, idempotency_keys.c.key == key
        )
    ).first()


def idempotency_claim(
    conn: Connection, dialect: Dialect, project_id: int, key: str, request_hash: str, at: int
) -> bool:
    """idempotency_claim: take a key for this transaction; False if another took it.

    On PostgreSQL a concurrent transaction holding the same key makes this wait
    for it to end (the unique index), then skip: the caller reads its answer.
    """
    stmt = (
        dialect.insert_ignore(idempotency_keys, ["project_id", "key"])
        .values(
            project_id=project_id, key=key, request_hash=request_hash, response={}, created_at=at
        )
        .returning(idempotency_keys.c.key)
    )
    return conn.execute(stmt).first() is not None


def idempotency_set(conn: Connection, project_id: int, key: str, response: dict[str, Any]) -> None:
    """idempotency_set: store the answer of the write a key was claimed for."""
    conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.project_id == project_id, idempotency_keys.c.key == key)
        .values(response=response)
    )


def idempotency_expire(conn: Connection, before: int) -> int:
    """idempotency_expire: forget keys (of every project) made before ``before``."""
    return conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_at < before)
    ).rowcount
