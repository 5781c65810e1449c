"""Statements about the keys the store keeps for itself and the secrets keys' fingerprints."""

from __future__ import annotations

from sqlalchemy import Connection, select

from ..dialect import Dialect
from ..schema import secret_key_fingerprints, store_keys

__all__ = [
    "secret_fingerprint_add",
    "secret_fingerprint_list",
    "store_key_add",
    "store_key_get",
]


def store_key_get(conn: Connection, name: str) -> bytes | None:
    """store_key_get: one of the store's own keys (``cursor`` …), or None."""
    value = conn.execute(
        select(store_keys.c.secret).where(store_keys.c.name == name)
    ).scalar_one_or_none()
    return None if value is None else bytes(value)


def store_key_add(
    conn: Connection, dialect: Dialect, name: str, secret: bytes, created_at: int
) -> None:
    """store_key_add: keep a key unless one of that name exists (the first writer wins)."""
    dialect.insert_missing(
        conn, store_keys, ["name"], [{"name": name, "secret": secret, "created_at": created_at}]
    )


def secret_fingerprint_list(conn: Connection) -> list[str]:
    """secret_fingerprint_list: the fingerprints of every secrets key that encrypted a secret."""
    return [
        str(v)
        for v in conn.execute(
            select(secret_key_fingerprints.c.fingerprint).order_by(
                secret_key_fingerprints.c.created_at
            )
        ).scalars()
    ]


def secret_fingerprint_add(
    conn: Connection, dialect: Dialect, fingerprint: str, created_at: int
) -> None:
    """secret_fingerprint_add: remember a secrets key's fingerprint (idempotent)."""
    dialect.insert_missing(
        conn,
        secret_key_fingerprints,
        ["fingerprint"],
        [{"fingerprint": fingerprint, "created_at": created_at}],
    )
