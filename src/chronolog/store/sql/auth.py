"""Statements about users, project members, API tokens and project secrets."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from ..dialect import Dialect
from ..schema import api_tokens, project_members, project_secrets, projects, users
from . import AnyRow

__all__ = [
    "TOKEN_COLUMNS",
    "member_delete",
    "member_get",
    "member_insert",
    "member_list",
    "member_role_set",
    "project_lock",
    "secret_delete",
    "secret_get",
    "secret_insert",
    "secret_list",
    "secret_sample",
    "secret_update",
    "token_by_hash",
    "token_count",
    "token_get",
    "token_insert",
    "token_list",
    "token_lock",
    "token_revoke",
    "token_sessions_trim",
    "token_touch",
    "token_valid_ids",
    "user_by_name",
    "user_insert",
]

TOKEN_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.project_id,
    projects.c.name.label("project"),
    api_tokens.c.name,
    api_tokens.c.prefix,
    api_tokens.c.role,
    users.c.name.label("user"),
    api_tokens.c.created_at,
    api_tokens.c.expires_at,
    api_tokens.c.revoked_at,
    api_tokens.c.last_used_at,
    api_tokens.c.session_of,
)
"""What a token read returns (never the hash)."""

_TOKEN_FROM = api_tokens.join(projects, projects.c.id == api_tokens.c.project_id).outerjoin(
    users, users.c.id == api_tokens.c.user_id
)


def project_lock(conn: Connection, dialect: Dialect, project_id: int) -> None:
    """project_lock: hold a project's row until commit (serialises bootstrap checks)."""
    conn.execute(dialect.for_update(select(projects.c.id).where(projects.c.id == project_id)))


# -- users ---------------------------------------------------------------------


def user_by_name(conn: Connection, name: str) -> AnyRow | None:
    """user_by_name: one user by login name."""
    return conn.execute(
        select(users.c.id, users.c.name, users.c.display_name, users.c.created_at).where(
            users.c.name == name
        )
    ).first()


def user_insert(conn: Connection, name: str, display_name: str | None, created_at: int) -> int:
    """user_insert: create a user and return its id."""
    result = conn.execute(
        insert(users)
        .values(name=name, display_name=display_name, created_at=created_at)
        .returning(users.c.id)
    )
    return int(result.scalar_one())


# -- members -------------------------------------------------------------------


def member_get(conn: Connection, project_id: int, user_id: int) -> AnyRow | None:
    """member_get: one membership (role, since when)."""
    return conn.execute(
        select(project_members.c.role, project_members.c.created_at).where(
            project_members.c.project_id == project_id, project_members.c.user_id == user_id
        )
    ).first()


def member_insert(
    conn: Connection, project_id: int, user_id: int, role: str, created_at: int
) -> None:
    """member_insert: add a user to a project with a role."""
    conn.execute(
        insert(project_members).values(
            project_id=project_id, user_id=user_id, role=role, created_at=created_at
        )
    )


def member_role_set(conn: Connection, project_id: int, user_id: int, role: str) -> None:
    """member_role_set: change a member's role."""
    conn.execute(
        update(project_members)
        .where(project_members.c.project_id == project_id, project_members.c.user_id == user_id)
        .values(role=role)
    )


def member_list(conn: Connection, project_id: int) -> Sequence[AnyRow]:
    """member_list: a project's members with their user names, by name."""
    return conn.execute(
        select(
            users.c.name, users.c.display_name, project_members.c.role, project_members.c.created_at
        )
        .select_from(project_members.join(users, users.c.id == project_members.c.user_id))
        .where(project_members.c.project_id == project_id)
        .order_by(users.c.name)
    ).all()


def member_delete(conn: Connection, project_id: int, user_id: int) -> int:
    """member_delete: remove a user from a project; returns 1 if they were a member."""
    return conn.execute(
        delete(project_members).where(
            project_members.c.project_id == project_id, project_members.c.user_id == user_id
        )
    ).rowcount


# -- tokens --------------------------------------------------------------------


def token_insert(conn: Connection, **values: object) -> int:
    """token_insert: store a new token (its hash, never the token) and return its id."""
    result = conn.execute(insert(api_tokens).values(**values).returning(api_tokens.c.id))
    return int(result.scalar_one())


def token_by_hash(conn: Connection, token_hash: str) -> AnyRow | None:
    """token_by_hash: the token with this hash, with its member's current role (if any)."""
    return conn.execute(
        select(
            *TOKEN_COLUMNS,
            api_tokens.c.user_id,
            project_members.c.role.label("member_role"),
        )
        .select_from(
            _TOKEN_FROM.outerjoin(
                project_members,
                (project_members.c.project_id == api_tokens.c.project_id)
                & (project_members.c.user_id == api_tokens.c.user_id),
            )
        )
        .where(api_tokens.c.token_hash == token_hash)
    ).first()


def token_get(conn: Connection, project_id: int, token_id: int) -> AnyRow | None:
    """token_get: one token of a project by id."""
    return conn.execute(
        select(*TOKEN_COLUMNS)
        .select_from(_TOKEN_FROM)
        .where(api_tokens.c.project_id == project_id, api_tokens.c.id == token_id)
    ).first()


def token_list(
    conn: Connection, project_id: int, *, include_revoked: bool, now: int
) -> Sequence[AnyRow]:
    """token_list: a project's tokens, oldest first (without ``include_revoked``: not the
    revoked ones, nor the dashboard sessions that have ended)."""
    stmt = (
        select(*TOKEN_COLUMNS).select_from(_TOKEN_FROM).where(api_tokens.c.project_id == project_id)
    )
    if not include_revoked:
        stmt = stmt.where(
            api_tokens.c.revoked_at.is_(None),
            or_(api_tokens.c.session_of.is_(None), api_tokens.c.expires_at > now),
        )
    return conn.execute(stmt.order_by(api_tokens.c.id)).all()


def token_count(conn: Connection) -> int:
    """token_count: how many tokens the whole store holds (0: nobody can log in yet)."""
    return int(conn.execute(select(func.count()).select_from(api_tokens)).scalar_one())


def token_revoke(conn: Connection, project_id: int, token_id: int, at: int) -> int:
    """token_revoke: mark a token revoked, and the sessions opened with it (idempotent);
    returns 1 if the token exists.

    Two statements, in this order: the first locks the token's row (PostgreSQL), so a
    session being opened under it (``token_lock``) commits first; the second, a new
    snapshot, then sees that session and revokes it too."""
    for column in (api_tokens.c.id, api_tokens.c.session_of):  # the token, then its sessions
        conn.execute(
            update(api_tokens)
            .where(
                api_tokens.c.project_id == project_id,
                column == token_id,
                api_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
    return 1 if token_get(conn, project_id, token_id) is not None else 0


def token_lock(conn: Connection, token_id: int) -> AnyRow | None:
    """token_lock: a token's row, locked until the transaction ends (``FOR UPDATE`` on
    PostgreSQL; SQLite's writers are serialised already)."""
    return conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.project_id,
            api_tokens.c.user_id,
            api_tokens.c.role,
            api_tokens.c.expires_at,
            api_tokens.c.revoked_at,
        )
        .where(api_tokens.c.id == token_id)
        .with_for_update()
    ).first()


def token_sessions_trim(conn: Connection, token_id: int, keep: int, at: int) -> None:
    """token_sessions_trim: end a token's live sessions beyond its newest ``keep``."""
    newest = (
        select(api_tokens.c.id)
        .where(api_tokens.c.session_of == token_id, api_tokens.c.revoked_at.is_(None))
        .order_by(api_tokens.c.id.desc())
        .limit(keep)
    )
    conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.session_of == token_id,
            api_tokens.c.revoked_at.is_(None),
            api_tokens.c.id.not_in(newest),
        )
        .values(revoked_at=at)
    )


def token_valid_ids(conn: Connection, token_ids: Sequence[int], now: int) -> set[int]:
    """token_valid_ids: which of ``token_ids`` still authenticate: not revoked, not
    expired, and (for a member's token) the member still belongs to the project."""
    if not token_ids:
        return set()
    member = (
        select(project_members.c.user_id)
        .where(
            project_members.c.project_id == api_tokens.c.project_id,
            project_members.c.user_id == api_tokens.c.user_id,
        )
        .exists()
    )
    rows = conn.execute(
        select(api_tokens.c.id).where(
            api_tokens.c.id.in_(list(token_ids)),
            api_tokens.c.revoked_at.is_(None),
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
            or_(api_tokens.c.user_id.is_(None), member),
        )
    )
    return {int(r[0]) for r in rows}


def token_touch(conn: Connection, token_id: int, at: int, older_than: int) -> None:
    """token_touch: set last_used_at, unless it was set after ``older_than`` (fewer writes)."""
    conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < older_than),
        )
        .values(last_used_at=at)
    )


# -- secrets -------------------------------------------------------------------


def secret_get(conn: Connection, project_id: int, name: str) -> AnyRow | None:
    """secret_get: one secret's ciphertext and times."""
    return conn.execute(
        select(
            project_secrets.c.name,
            project_secrets.c.ciphertext,
            project_secrets.c.created_at,
            project_secrets.c.updated_at,
        ).where(project_secrets.c.project_id == project_id, project_secrets.c.name == name)
    ).first()


def secret_insert(conn: Connection, project_id: int, name: str, ciphertext: bytes, at: int) -> None:
    """secret_insert: store a new encrypted secret."""
    conn.execute(
        insert(project_secrets).values(
            project_id=project_id, name=name, ciphertext=ciphertext, created_at=at, updated_at=at
        )
    )


def secret_update(conn: Connection, project_id: int, name: str, ciphertext: bytes, at: int) -> None:
    """secret_update: replace a secret's encrypted value."""
    conn.execute(
        update(project_secrets)
        .where(project_secrets.c.project_id == project_id, project_secrets.c.name == name)
        .values(ciphertext=ciphertext, updated_at=at)
    )


def secret_list(conn: Connection, project_id: int) -> Sequence[AnyRow]:
    """secret_list: a project's secret names and times (never the values), by name."""
    return conn.execute(
        select(project_secrets.c.name, project_secrets.c.created_at, project_secrets.c.updated_at)
        .where(project_secrets.c.project_id == project_id)
        .order_by(project_secrets.c.name)
    ).all()


def secret_delete(conn: Connection, project_id: int, name: str) -> int:
    """secret_delete: remove a secret; returns 1 if it existed."""
    return conn.execute(
        delete(project_secrets).where(
            project_secrets.c.project_id == project_id, project_secrets.c.name == name
        )
    ).rowcount


def secret_sample(conn: Connection) -> AnyRow | None:
    """secret_sample: any one secret of the store (project, name, ciphertext), or None."""
    return conn.execute(
        select(project_secrets.c.project_id, project_secrets.c.name, project_secrets.c.ciphertext)
        .order_by(project_secrets.c.project_id, project_secrets.c.name)
        .limit(1)
    ).first()
