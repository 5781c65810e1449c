"""Auth and tenancy: users, project members, API tokens, project secrets.

Revision ID: 0005_auth
Revises: 0004_stats
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import RowId

revision = "0005_auth"
down_revision = "0004_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, comment="login or e-mail"),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sqlite_autoincrement=True,
        comment="People (or services) who hold tokens; members of projects.",
    )
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("user_id", RowId, nullable=False),
        sa.Column("role", sa.String(16), nullable=False, comment="read, write or admin"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_members_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_project_members_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name="pk_project_members"),
        comment="Who belongs to which project, with which role.",
    )
    op.create_index("ix_project_members_user_id", "project_members", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", RowId, nullable=False, autoincrement=True),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column(
            "user_id",
            RowId,
            nullable=True,
            comment="the member it acts for (NULL: a service token)",
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "prefix", sa.String(16), nullable=False, comment="first characters, to recognise it"
        ),
        sa.Column(
            "token_hash",
            sa.String(64),
            nullable=False,
            comment="SHA-256 hex of the token; the token itself is never stored",
        ),
        sa.Column("role", sa.String(16), nullable=False, comment="read, write or admin"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("last_used_at", sa.BigInteger, nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_api_tokens_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sqlite_autoincrement=True,
        comment="API tokens: each scoped to one project and one role; stored hashed.",
    )
    op.create_index("ix_api_tokens_project_id", "api_tokens", ["project_id"])
    op.create_table(
        "project_secrets",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column(
            "ciphertext", sa.LargeBinary, nullable=False, comment="Fernet token; key from the env"
        ),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_secrets_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "name", name="pk_project_secrets"),
        comment="Project secrets (credentials for workers), encrypted at rest.",
    )


def downgrade() -> None:
    op.drop_table("project_secrets")
    op.drop_index("ix_api_tokens_project_id", "api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_project_members_user_id", "project_members")
    op.drop_table("project_members")
    op.drop_table("users")
