"""Tables of the service's own bookkeeping: keys kept in the store, the fingerprints of
the secrets keys, and idempotency keys of retried writes."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from ._base import JSONDocument, metadata

__all__ = ["idempotency_keys", "secret_key_fingerprints", "store_keys"]

store_keys = Table(
    "store_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("secret", LargeBinary, nullable=False, comment="random bytes"),
    Column("created_at", BigInteger, nullable=False),
    comment="Keys the store keeps for itself: 'cursor' signs cursors (HMAC-SHA256), so "
    "every server of a store accepts the cursors of the others.",
)

secret_key_fingerprints = Table(
    "secret_key_fingerprints",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    comment="Fingerprints of the CHRONOLOG_SECRET_KEY keys that encrypted project secrets "
    "(an HMAC of a fixed text under the key: never the key); a key matching none is refused.",
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True, comment="the client's Idempotency-Key"),
    Column("request_hash", String(64), nullable=False, comment="SHA-256 of the request body"),
    Column("response", JSONDocument, nullable=False, comment="the first answer, replayed"),
    Column("created_at", BigInteger, nullable=False),
    comment="Writes made with an Idempotency-Key: a retry of the same request gets the first "
    "answer instead of writing twice. Expire after a day.",
)
Index("ix_idempotency_keys_created_at", idempotency_keys.c.created_at)
