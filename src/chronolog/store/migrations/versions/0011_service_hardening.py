"""The service's own bookkeeping: a key that signs cursors, the fingerprints of the
secrets keys, and idempotency keys of retried writes (issue 14).

``store_keys`` gets its ``cursor`` key here, random per store: cursors are HMAC-signed
with it, so an edited cursor is refused before any of its numbers reach a query.

Revision ID: 0011_service_hardening
Revises: 0009_pg_unforced_project
Create Date: 2026-12-01
"""

from __future__ import annotations

import os
import time

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import JSONDocument

revision = "0011_service_hardening"
down_revision = "0009_pg_unforced_project"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keys = op.create_table(
        "store_keys",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=False, comment="random bytes"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_store_keys"),
        comment="Keys the store keeps for itself: 'cursor' signs cursors (HMAC-SHA256), so "
        "every server of a store accepts the cursors of the others.",
    )
    op.create_table(
        "secret_key_fingerprints",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_secret_key_fingerprints"),
        comment="Fingerprints of the CHRONOLOG_SECRET_KEY keys that encrypted project secrets "
        "(an HMAC of a fixed text under the key: never the key); a key matching none is refused.",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False, comment="the client's Idempotency-Key"),
        sa.Column(
            "request_hash", sa.String(64), nullable=False, comment="SHA-256 of the request body"
        ),
        sa.Column("response", JSONDocument, nullable=False, comment="the first answer, replayed"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_idempotency_keys_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "key", name="pk_idempotency_keys"),
        comment="Writes made with an Idempotency-Key: a retry of the same request gets the "
        "first answer instead of writing twice. Expire after a day.",
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.bulk_insert(
        keys,
        [{"name": "cursor", "secret": os.urandom(32), "created_at": int(time.time() * 1e6)}],
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("secret_key_fingerprints")
    op.drop_table("store_keys")
