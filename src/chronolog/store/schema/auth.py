"""Tables of auth and tenancy: users, project members, API tokens, project secrets."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from ._base import RowId, metadata

__all__ = ["api_tokens", "project_members", "project_secrets", "users"]

users = Table(
    "users",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True, comment="login or e-mail"),
    Column("display_name", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    sqlite_autoincrement=True,
    comment="People (or services) who hold tokens; members of projects.",
)

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", RowId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False, comment="read, write or admin"),
    Column("created_at", BigInteger, nullable=False),
    comment="Who belongs to which project, with which role.",
)
Index("ix_project_members_user_id", project_members.c.user_id)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column(
        "user_id",
        RowId,
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=True,
        comment="the member it acts for (NULL: a service token)",
    ),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False, comment="first characters, to recognise it"),
    Column(
        "token_hash",
        String(64),
        nullable=False,
        unique=True,
        comment="SHA-256 hex of the token; the token itself is never stored",
    ),
    Column("role", String(16), nullable=False, comment="read, write or admin"),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Column(
        "session_of",
        RowId,
        nullable=True,
        comment="a dashboard session: the token it was opened with",
    ),
    sqlite_autoincrement=True,
    comment="API tokens: each scoped to one project and one role; stored hashed.",
)
Index("ix_api_tokens_project_id", api_tokens.c.project_id)
# Revoking a token revokes its sessions: found by this index.
Index("ix_api_tokens_session_of", api_tokens.c.session_of)

project_secrets = Table(
    "project_secrets",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False, comment="Fernet token; key from the env"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    comment="Project secrets (credentials for workers), encrypted at rest.",
)
