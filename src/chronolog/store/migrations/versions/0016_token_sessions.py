"""Dashboard sessions: a token issued for a login, under the token logged in with.

``api_tokens.session_of``: the token a session was opened with (NULL: a token
issued by an admin). Logging out revokes the session; revoking a token revokes
its sessions in the same statement, so a session never outlives its token.

Revision ID: 0016_token_sessions
Revises: 0015_queue_controls
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from chronolog.store.schema import RowId

revision = "0016_token_sessions"
down_revision = "0015_queue_controls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``api_tokens.session_of`` and its index."""
    op.add_column(
        "api_tokens",
        sa.Column(
            "session_of",
            RowId,
            nullable=True,
            comment="a dashboard session: the token it was opened with",
        ),
    )
    op.create_index("ix_api_tokens_session_of", "api_tokens", ["session_of"])


def downgrade() -> None:
    """Drop the column and its index."""
    op.drop_index("ix_api_tokens_session_of", table_name="api_tokens")
    op.drop_column("api_tokens", "session_of")
