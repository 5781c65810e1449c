"""Users, project members and API tokens (``cl.auth``).

A token is 32 random bytes shown once; the store keeps only its SHA-256.
Hashing without a salt or a slow KDF is right here: the token has 256 bits of
entropy, so there is nothing to guess, and a fast hash keeps every request's
lookup to one indexed read. Each token belongs to one project and carries one
role; a token issued for a member is further capped by that member's current
role, so removing a member disables their tokens at once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ._scope import Scope
from ._time import from_micros, parse_duration, require_aware, to_micros
from .errors import Forbidden, NotFound, StoreUnavailable, Unauthorized, ValidationError
from .store.sql import AnyRow
from .store.sql import auth as sql

__all__ = [
    "ROLES",
    "SESSION_LIFETIME",
    "ApiToken",
    "Auth",
    "IssuedToken",
    "Member",
    "Principal",
    "Role",
    "hash_token",
    "role_allows",
]

Role = Literal["read", "write", "admin"]
ROLES: tuple[Role, ...] = ("read", "write", "admin")
"""Roles from least to most: ``read`` reads; ``write`` also records and runs jobs; ``admin``
also manages tokens, members and secrets."""

log = logging.getLogger("chronolog")

TOKEN_PREFIX = "chl_"
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,254}$")
SESSIONS_PER_TOKEN = 20
"""Live dashboard sessions of one token at most: a new login past it ends the oldest."""
SESSION_LIFETIME = timedelta(days=30)
"""How long a dashboard session lasts at most (:meth:`Auth.open_session`)."""
_TOUCH_EVERY = 60_000_000  # microseconds: last_used_at is kept to the minute, not per request


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may."""
    return ROLES.index(role) >= ROLES.index(needed)


def _check_role(role: object) -> Role:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {list(ROLES)}, got {role!r}", field="role")
    return role


def _check_user_name(name: object) -> str:
    if not isinstance(name, str) or not _USER_NAME.match(name):
        raise ValidationError(
            "user name must be 1-255 letters, digits or . _ @ + - (starting with a letter or digit)",
            field="user",
        )
    return name


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token's public record: everything but the token itself."""

    id: int
    project: str
    name: str
    prefix: str
    role: Role
    user: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    session_of: int | None = None
    """A dashboard session: the id of the token it was opened with (None: a token an
    admin issued). Revoking that token revokes the session too."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 strings)."""
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "prefix": self.prefix,
            "role": self.role,
            "user": self.user,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
            "session_of": self.session_of,
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``secret`` is the only time the token is ever shown."""

    token: ApiToken
    secret: str


@dataclass(frozen=True, slots=True)
class Member:
    """A user's membership of a project."""

    user: str
    display_name: str | None
    role: Role
    since: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a project, an effective role, and the token."""

    project: str
    project_id: int
    role: Role
    token_id: int
    user: str | None
    session_of: int | None = None
    """A dashboard session: the token it was opened with."""

    @property
    def holder(self) -> int:
        """The token this request counts against: a session counts as its token (a
        login must not be a way to more stream slots)."""
        return self.session_of or self.token_id


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _opt(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def token_from_row(row: AnyRow) -> ApiToken:
    """Build an :class:`ApiToken` from a row in ``TOKEN_COLUMNS`` order."""
    return ApiToken(
        id=row.id,
        project=row.project,
        name=row.name,
        prefix=row.prefix,
        role=row.role,
        user=row.user,
        created_at=from_micros(row.created_at),
        expires_at=_opt(row.expires_at),
        revoked_at=_opt(row.revoked_at),
        last_used_at=_opt(row.last_used_at),
        session_of=row.session_of,
    )


class Auth:
    """Members and API tokens of one project, and token checks for the whole store."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    # -- members -------------------------------------------------------------------

    def set_member(self, user: str, role: Role, *, display_name: str | None = None) -> Member:
        """Add ``user`` (created if new) to this project with ``role``, or change their role."""
        _check_user_name(user)
        _check_role(role)
        if display_name is not None and (
            not isinstance(display_name, str) or len(display_name) > 255
        ):
            raise ValidationError("display_name must be text of at most 255 characters")
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            row = sql.user_by_name(conn, user)
            user_id = row.id if row else sql.user_insert(conn, user, display_name, now)
            if sql.member_get(conn, scope.project_id, user_id) is None:
                sql.member_insert(conn, scope.project_id, user_id, role, now)
            else:
                sql.member_role_set(conn, scope.project_id, user_id, role)
        return next(m for m in self.members() if m.user == user)

    def members(self) -> list[Member]:
        """This project's members, by user name."""
        with self._scope.store.read() as conn:
            rows = sql.member_list(conn, self._scope.project_id)
        return [Member(r.name, r.display_name, r.role, from_micros(r.created_at)) for r in rows]

    def remove_member(self, user: str) -> None:
        """Remove ``user`` from this project; their tokens for it stop working."""
        scope = self._scope
        with scope.store.write() as conn:
            row = sql.user_by_name(conn, user) if isinstance(user, str) else None
            if row is None or not sql.member_delete(conn, scope.project_id, row.id):
                raise NotFound(f"{user!r} is not a member of project {scope.project!r}")

    # -- tokens --------------------------------------------------------------------

    def create_token(
        self,
        name: str,
        role: Role = "read",
        *,
        user: str | None = None,
        expires_in: str | timedelta | int | None = None,
        expires_at: datetime | None = None,
    ) -> IssuedToken:
        """Issue a token for this project. Its ``secret`` is returned once and never stored.

        ``user`` ties the token to a member: it then never has more than the
        member's current role. ``expires_in`` (``"30d"``, seconds, a timedelta)
        or ``expires_at`` make it expire.
        """
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError("token name must be non-empty text of at most 200 characters")
        _check_role(role)
        scope = self._scope
        now = scope.clock()
        if expires_in is not None and expires_at is not None:
            raise ValidationError("give expires_in or expires_at, not both", field="expires_at")
        expiry: int | None = None
        if expires_in is not None:
            try:
                expiry = to_micros(now + parse_duration(expires_in, "expires_in"))
            except OverflowError:
                raise ValidationError("expires_in is too long", field="expires_in") from None
        elif expires_at is not None:
            expiry = to_micros(require_aware(expires_at, "expires_at"))
            if expiry <= to_micros(now):
                raise ValidationError("expires_at is in the past", field="expires_at")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with scope.store.write() as conn:
            user_id = None
            if user is not None:
                row = sql.user_by_name(conn, _check_user_name(user))
                member = sql.member_get(conn, scope.project_id, row.id) if row else None
                if row is None or member is None:
                    raise NotFound(f"{user!r} is not a member of project {scope.project!r}")
                if not role_allows(member.role, role):
                    raise Forbidden(
                        f"{user!r} is a {member.role} member; cannot issue a {role} token"
                    )
                user_id = row.id
            token_id = sql.token_insert(
                conn,
                project_id=scope.project_id,
                user_id=user_id,
                name=name,
                prefix=secret[:12],
                token_hash=hash_token(secret),
                role=role,
                created_at=to_micros(now),
                expires_at=expiry,
            )
            row = sql.token_get(conn, scope.project_id, token_id)
        assert row is not None
        return IssuedToken(token_from_row(row), secret)

    def open_session(
        self, token: str, *, lifetime: str | timedelta | int = SESSION_LIFETIME
    ) -> IssuedToken:
        """A session for a login with ``token`` (of any project): a new token of the same
        project, role and member, named after it, that ends at :meth:`close_session`,
        when ``token`` is revoked or expires (it never outlives it), or after
        ``lifetime``. What a browser keeps instead of the token itself, so that
        logging out ends what the browser held. A token holds at most :data:`SESSIONS_PER_TOKEN` live sessions (the oldest end
        first). ``Unauthorized`` for a token that does not authenticate, and for a
        session's own secret (a session does not open another)."""
        principal = self.authenticate(token)
        if principal.session_of is not None:
            # Else a copied cookie could open a session its owner's logout does not end.
            raise Unauthorized("a dashboard session cannot open another: log in with a token")
        span = parse_duration(lifetime, "lifetime")
        scope = self._scope
        now = scope.clock()
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with scope.store.write() as conn:
            # Locked (PostgreSQL; SQLite's writers are serialised): a revoke of the token
            # waits for this session to commit and then revokes it, or this one sees the
            # revoke and refuses (sql.token_revoke revokes sessions in a later statement).
            row = sql.token_lock(conn, principal.token_id)
            if row is None or row.revoked_at is not None:
                raise Unauthorized("API token was revoked")
            parent = row.id
            ends = to_micros(now + span)
            if row.expires_at is not None:
                ends = min(ends, row.expires_at)
            session_id = sql.token_insert(
                conn,
                project_id=row.project_id,
                user_id=row.user_id,
                name=f"dashboard session of token {parent}",
                prefix=secret[:12],
                token_hash=hash_token(secret),
                role=row.role,
                created_at=to_micros(now),
                expires_at=ends,
                session_of=parent,
            )
            sql.token_sessions_trim(conn, parent, SESSIONS_PER_TOKEN, to_micros(now))
            made = sql.token_get(conn, row.project_id, session_id)
        assert made is not None
        return IssuedToken(token_from_row(made), secret)

    def close_session(self, secret: str) -> bool:
        """End the session whose secret this is (logging out); whether one was ended. A
        token that is not a session is left alone: logging out never revokes a token
        an admin issued."""
        if not secret or not isinstance(secret, str) or len(secret) > 200:
            return False
        scope = self._scope
        with scope.store.write() as conn:
            row = sql.token_by_hash(conn, hash_token(secret))
            if row is None or row.session_of is None or row.revoked_at is not None:
                return False
            sql.token_revoke(conn, row.project_id, row.id, to_micros(scope.clock()))
        return True

    def tokens(self, *, include_revoked: bool = False) -> list[ApiToken]:
        """This project's tokens (never their secrets), oldest first; ``include_revoked``
        adds the revoked ones and the dashboard sessions that have ended."""
        with self._scope.store.read() as conn:
            rows = sql.token_list(
                conn,
                self._scope.project_id,
                include_revoked=include_revoked,
                now=to_micros(self._scope.clock()),
            )
        return [token_from_row(r) for r in rows]

    def revoke_token(self, token_id: int) -> ApiToken:
        """Revoke a token of this project (idempotent); ``NotFound`` if it is not ours."""
        if isinstance(token_id, bool) or not isinstance(token_id, int):
            raise ValidationError("token id must be an integer", field="id")
        scope = self._scope
        with scope.store.write() as conn:
            if not sql.token_revoke(conn, scope.project_id, token_id, to_micros(scope.clock())):
                raise NotFound(f"token {token_id} not found in project {scope.project!r}")
            row = sql.token_get(conn, scope.project_id, token_id)
        assert row is not None
        return token_from_row(row)

    def bootstrap(self, name: str = "bootstrap admin") -> IssuedToken | None:
        """Issue an admin token for this project if the store has no token at all.

        Returns ``None`` when any token exists. The check and the insert share
        one write transaction holding the project row lock, so two servers
        starting together on a new store issue one token, not two.
        """
        scope = self._scope
        with scope.store.write() as conn:
            sql.project_lock(conn, scope.store.dialect, scope.project_id)
            if sql.token_count(conn):
                return None
        # A racing bootstrap between these transactions is harmless: both tokens are valid.
        return self.create_token(name, "admin")

    # -- checks ----------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Principal:
        """The principal a token acts as, in whichever project it belongs to.

        ``Unauthorized`` when the token is missing, unknown, expired or
        revoked, or its member left the project. Independent of this view's
        project: the token names its own.
        """
        if not token or not isinstance(token, str) or len(token) > 200:
            raise Unauthorized("missing or malformed API token")
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.read() as conn:
            row = sql.token_by_hash(conn, hash_token(token))
        if row is None:
            raise Unauthorized("unknown API token")
        if row.revoked_at is not None:
            raise Unauthorized("API token was revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise Unauthorized("API token has expired")
        role: Role = row.role
        if row.user_id is not None:
            if row.member_role is None:
                raise Unauthorized("the token's user is no longer a member of its project")
            if not role_allows(row.member_role, role):
                role = row.member_role
        if row.last_used_at is None or row.last_used_at < now - _TOUCH_EVERY:
            try:
                with scope.store.write() as conn:
                    sql.token_touch(conn, row.id, now, now - _TOUCH_EVERY)
            except StoreUnavailable as exc:
                # Bookkeeping only: a read-only (or full, or locked) store still serves reads.
                log.debug("chronolog: token %s last use not recorded: %s", row.id, exc.message)
        return Principal(row.project, row.project_id, role, row.id, row.user, row.session_of)

    def still_valid(self, token_ids: Iterable[int]) -> set[int]:
        """Which of ``token_ids`` (of any project) would still authenticate now: one read
        for all of them (a server re-checks the tokens of its open streams with it)."""
        ids = sorted({int(i) for i in token_ids})
        with self._scope.store.read() as conn:
            return sql.token_valid_ids(conn, ids, to_micros(self._scope.clock()))

    def check(self, principal: Principal, needed: Role) -> None:
        """Raise ``Forbidden`` unless ``principal`` holds at least ``needed``."""
        if not role_allows(principal.role, needed):
            raise Forbidden(f"this needs the {needed} role; the token has {principal.role}")
