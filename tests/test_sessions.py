"""Dashboard sessions (the attacker's review: logging out left the cookie working, since
the cookie was the API token itself). A login now opens a session, a token of its own
under the token logged in with; logout ends it; revoking the token ends its sessions.
Library verbs on both databases, then the dashboard over HTTP."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronolog import Chronolog
from chronolog.auth import SESSIONS_PER_TOKEN
from chronolog.errors import TooManyRequests, Unauthorized
from chronolog.server.dashboard.session import COOKIE
from chronolog.server.live import Slots
from chronolog.store.sql import auth as auth_sql

from ._http import Api


def test_a_session_acts_as_its_token_and_ends_with_it(cl: Chronolog) -> None:
    cl.auth.set_member("ana", "write")
    issued = cl.auth.create_token("ana's", "write", user="ana", expires_in="7d")
    session = cl.auth.open_session(issued.secret)
    assert session.secret != issued.secret
    assert session.token.session_of == issued.token.id
    assert session.token.expires_at is not None
    assert issued.token.expires_at is not None
    assert session.token.expires_at <= issued.token.expires_at  # never outlives it
    principal = cl.auth.authenticate(session.secret)
    assert (principal.project, principal.role, principal.user) == ("default", "write", "ana")
    listed = {t.id: t for t in cl.auth.tokens()}
    assert listed[session.token.id].session_of == issued.token.id
    assert listed[session.token.id].to_dict()["session_of"] == issued.token.id
    # A session's secret opens no other session: a copied cookie pasted into the login
    # form would get one its owner's logout does not end.
    with pytest.raises(Unauthorized, match="session cannot open another"):
        cl.auth.open_session(session.secret)
    again = cl.auth.open_session(issued.secret)
    # Revoking the token ends every session opened with it.
    cl.auth.revoke_token(issued.token.id)
    for secret in (issued.secret, session.secret, again.secret):
        with pytest.raises(Unauthorized):
            cl.auth.authenticate(secret)
    with pytest.raises(Unauthorized):
        cl.auth.open_session(issued.secret)


def test_closing_a_session_never_revokes_a_token(cl: Chronolog) -> None:
    issued = cl.auth.create_token("ci", "read")
    session = cl.auth.open_session(issued.secret, lifetime="1h")
    assert session.token.expires_at is not None
    assert session.token.expires_at <= datetime.now(UTC) + timedelta(hours=1, seconds=5)
    assert cl.auth.close_session(issued.secret) is False  # an admin's token: left alone
    assert cl.auth.authenticate(issued.secret).role == "read"
    assert cl.auth.close_session(session.secret) is True
    with pytest.raises(Unauthorized):
        cl.auth.authenticate(session.secret)
    assert cl.auth.close_session(session.secret) is False  # already ended
    # An ended session leaves the list of tokens (still there with include_revoked).
    assert [t.id for t in cl.auth.tokens()] == [issued.token.id]
    assert session.token.id in {t.id for t in cl.auth.tokens(include_revoked=True)}
    assert cl.auth.close_session("chl_nothing") is False
    assert cl.auth.authenticate(issued.secret).role == "read"


def test_a_member_removed_loses_their_sessions(cl: Chronolog) -> None:
    cl.auth.set_member("bo", "read")
    issued = cl.auth.create_token("bo's", "read", user="bo")
    session = cl.auth.open_session(issued.secret)
    cl.auth.remove_member("bo")
    with pytest.raises(Unauthorized):
        cl.auth.authenticate(session.secret)


def _login(api: Api, token: str) -> str:
    response = api.http.post("/login", data={"token": token, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    return str(response.cookies[COOKIE])


def _page(api: Api, cookie: str) -> int:
    """The overview's status for a browser holding only ``cookie`` (a copy of it)."""
    kept = httpx.Cookies(api.http.cookies)
    api.http.cookies.clear()
    try:
        api.http.cookies.set(COOKIE, cookie)
        return api.http.get("/", follow_redirects=False).status_code
    finally:
        api.http.cookies = kept


def test_logout_ends_what_the_browser_held(api: Api) -> None:
    token = api.token("read")
    cookie = _login(api, token)
    assert token not in cookie  # the browser holds a session, not the token
    assert _page(api, cookie) == 200
    logout = api.http.post("/logout", follow_redirects=False)
    assert logout.status_code == 303
    assert _page(api, cookie) == 303  # a copy taken before logout: back to the login
    # The token itself still works: logging out never revokes it.
    assert api.call("GET", "/whoami", token=token).status_code == 200


def test_revoking_the_token_ends_its_dashboard_sessions(api: Api) -> None:
    token = api.token("write")
    cookie = _login(api, token)
    assert _page(api, cookie) == 200
    whoami = api.call("GET", "/whoami", token=token).json()
    api.cl.auth.revoke_token(whoami["token_id"])
    assert _page(api, cookie) == 303
    # A second login replaces (and ends) the browser's session of that project.
    fresh = api.token("read", project="other")
    first = _login(api, fresh)
    second = _login(api, fresh)
    assert first != second
    assert _page(api, first.split(" ")[0]) == 303
    assert _page(api, second.split(" ")[0]) == 200


def test_an_expired_session_ends_and_leaves_the_list(cl: Chronolog) -> None:
    issued = cl.auth.create_token("short", "read")
    session = cl.auth.open_session(issued.secret, lifetime=1)
    assert session.token.id in {t.id for t in cl.auth.tokens()}
    time.sleep(1.1)
    with pytest.raises(Unauthorized):
        cl.auth.authenticate(session.secret)
    assert [t.id for t in cl.auth.tokens()] == [issued.token.id]


def test_a_token_holds_a_bounded_number_of_sessions(cl: Chronolog) -> None:
    issued = cl.auth.create_token("busy", "read")
    opened = [cl.auth.open_session(issued.secret) for _ in range(SESSIONS_PER_TOKEN + 2)]
    for old in opened[:2]:  # the oldest end first
        with pytest.raises(Unauthorized):
            cl.auth.authenticate(old.secret)
    for kept in opened[2:]:
        assert cl.auth.authenticate(kept.secret).session_of == issued.token.id
    live = [t for t in cl.auth.tokens() if t.session_of == issued.token.id]
    assert len(live) == SESSIONS_PER_TOKEN


def test_a_session_takes_its_tokens_stream_slots_not_new_ones(cl: Chronolog) -> None:
    """A login must not be a way to more slots: each session had a token id of its own,
    so ten logins of one read token held a project's every slot."""
    issued = cl.auth.create_token("reader", "read")
    slots = Slots(per_token=2, total=100, per_project=100)
    token = cl.auth.authenticate(issued.secret)
    session = cl.auth.authenticate(cl.auth.open_session(issued.secret).secret)
    assert session.holder == token.holder == issued.token.id
    slots.take(token)
    slots.take(session)
    with pytest.raises(TooManyRequests):
        slots.take(cl.auth.authenticate(cl.auth.open_session(issued.secret).secret))


def test_a_session_secret_cannot_log_in(api: Api) -> None:
    cookie = _login(api, api.token("read"))
    api.http.cookies.clear()
    response = api.http.post("/login", data={"token": cookie, "next": "/"}, follow_redirects=False)
    assert response.status_code == 401
    assert "session cannot open another" in response.text


def test_a_session_opened_while_its_token_is_revoked_does_not_survive(
    cl: Chronolog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-review's race (PostgreSQL, READ COMMITTED): the revoke's one statement
    could not see a session committed while it ran. The session's insert is slowed here
    to widen the window; whichever side wins, no session outlives the revoke."""
    issued = cl.auth.create_token("raced", "write")
    original = auth_sql.token_insert

    def slow_insert(conn: Any, **values: Any) -> int:
        new_id = original(conn, **values)
        if values.get("session_of") is not None:
            time.sleep(0.6)  # holding the token's row lock (PostgreSQL) or the write lock
        return new_id

    monkeypatch.setattr(auth_sql, "token_insert", slow_insert)
    outcome: dict[str, Any] = {}

    def login() -> None:
        try:
            outcome["session"] = cl.auth.open_session(issued.secret)
        except Unauthorized as exc:
            outcome["refused"] = exc

    racer = threading.Thread(target=login)
    racer.start()
    time.sleep(0.2)
    cl.auth.revoke_token(issued.token.id)
    racer.join(10)
    assert outcome, "the login neither finished nor failed"
    if "session" in outcome:
        with pytest.raises(Unauthorized):
            cl.auth.authenticate(outcome["session"].secret)
    with pytest.raises(Unauthorized):
        cl.auth.authenticate(issued.secret)
