"""Dashboard sessions, kept in an HTTP-only, SameSite=Strict cookie.

The cookie holds one session per project the browser logged in to (at most
:data:`MAX_TOKENS`): each a token of its own, opened under the token pasted at
login (:meth:`chronolog.auth.Auth.open_session`), ended at logout or when that
token is revoked. A second cookie names the project shown. Every request
authenticates the sessions again, so a revoked token, an expired one or a
demoted member takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ...auth import Principal, role_allows
from ...core import Chronolog
from ...errors import Unauthorized
from ..deps import state_of

__all__ = [
    "COOKIE",
    "MAX_TOKENS",
    "PROJECT_COOKIE",
    "LoginRequired",
    "Session",
    "read_form",
    "same_origin",
    "session_of",
]

COOKIE = "chronolog_tokens"
PROJECT_COOKIE = "chronolog_project"
MAX_TOKENS = 8
"""A browser keeps at most this many projects' tokens at once."""


class LoginRequired(Exception):
    """No valid token in the cookie: the page redirects to the login form."""


@dataclass(frozen=True, slots=True)
class Session:
    """A dashboard request's view: the principal of the shown project and its store."""

    principal: Principal
    cl: Chronolog
    projects: tuple[str, ...]
    """Every project the browser holds a valid token for (the project switcher)."""

    @property
    def can_write(self) -> bool:
        """Whether write buttons are shown (and write forms accepted)."""
        return role_allows(self.principal.role, "write")


def cookie_tokens(request: Request) -> list[str]:
    """The tokens of the session cookie, in order, without blanks or duplicates."""
    raw = request.cookies.get(COOKIE, "")
    tokens = [t for t in raw.split(" ") if t and len(t) <= 200]
    return list(dict.fromkeys(tokens))[:MAX_TOKENS]


def valid_principals(request: Request) -> list[tuple[str, Principal]]:
    """Each cookie token that still authenticates, with its principal (one per project)."""
    auth = state_of(request).root.auth
    found: dict[str, tuple[str, Principal]] = {}
    for token in cookie_tokens(request):
        try:
            principal = auth.authenticate(token)
        except Unauthorized:
            continue
        found.setdefault(principal.project, (token, principal))
    return list(found.values())


def session_of(request: Request) -> Session:
    """The request's session (``LoginRequired`` without a valid token)."""
    valid = valid_principals(request)
    if not valid:
        raise LoginRequired
    wanted = request.cookies.get(PROJECT_COOKIE)
    principal = next((p for _, p in valid if p.project == wanted), valid[0][1])
    state = state_of(request)
    return Session(principal, state.view(principal.project), tuple(p.project for _, p in valid))


def set_tokens(response: Response, request: Request, tokens: list[str]) -> None:
    """Store ``tokens`` in the session cookie (HTTP-only, SameSite=Strict, Secure on https)."""
    secure = request.url.scheme == "https"
    if not tokens:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
        response.delete_cookie(PROJECT_COOKIE, path="/", samesite="strict", secure=secure)
        return
    response.set_cookie(
        COOKIE,
        " ".join(tokens[:MAX_TOKENS]),
        max_age=30 * 24 * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def set_project(response: Response, request: Request, project: str) -> None:
    """Show ``project`` (one the cookie holds a token for) from now on."""
    response.set_cookie(
        PROJECT_COOKIE,
        project,
        max_age=30 * 24 * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def login_redirect(request: Request) -> RedirectResponse:
    """A redirect to the login form that comes back to this page."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)


def same_origin(request: Request) -> bool:
    """A form post from our own pages: its ``Origin`` (else its ``Referer``) names this
    host. A post with neither is refused too: browsers send at least one on a form
    post, so only a forged or stripped request lacks both (the cookie is
    SameSite=Strict as well)."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and origin.split("://", 1)[-1] == host
    referer = request.headers.get("referer")
    if referer is None:
        return False
    parts = urlsplit(referer)
    return parts.scheme in ("http", "https") and parts.netloc == host


async def read_form(request: Request) -> dict[str, str]:
    """A small form post's fields (first value of each; empty when over 16 KiB or garbled)."""
    body = await request.body()
    if len(body) > 16 * 1024:
        return {}
    try:
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items() if v}
