"""Auth and tenancy over HTTP: every route refuses strangers and other projects' tokens."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from typer.testing import CliRunner

from chronolog import Chronolog, Forbidden, NotConfigured, NotFound, Unauthorized, ValidationError
from chronolog.cli import app as cli
from chronolog.server import API_PREFIX
from chronolog.store.schema import api_tokens, project_secrets

from ._http import Api, error_of

KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with a secrets key unless it removes it."""
    monkeypatch.setenv("CHRONOLOG_SECRET_KEY", KEY)
    return KEY


def _world(api: Api) -> dict[str, Any]:
    """Rows of project ``default`` that a refused request must leave alone."""
    cl = api.cl
    events = [(e.id, e.status, e.error, e.metadata) for e in cl.events.query(limit=100).items]
    tokens = [(t.id, t.revoked_at) for t in cl.auth.tokens(include_revoked=True)]
    members = [(m.user, m.role) for m in cl.auth.members()]
    secrets = [(s.name, s.updated_at, cl.secrets.get(s.name)) for s in cl.secrets.list()]
    entities = [(e.kind, e.id, e.state, e.title) for e in cl.states.entities(limit=100).items]
    machines = cl.states.machines()
    jobs = [(j.id, j.state, j.lease, j.attempt, j.result) for j in cl.jobs.list(limit=100).items]
    logs = [len(cl.jobs.logs(j[0])) for j in jobs]
    schedules = cl.jobs.schedules.list()
    queues = [q.to_dict() for q in cl.jobs.queues()]
    workers = [(w.id, w.name) for w in cl.jobs.workers()]
    return {
        "schedules": schedules,
        "queues": queues,
        "workers": workers,
        "jobs": jobs,
        "logs": logs,
        "events": events,
        "tokens": tokens,
        "members": members,
        "secrets": secrets,
        "entities": entities,
        "machines": machines,
    }


def _routes(api: Api) -> list[tuple[str, str, str, Any]]:
    """(method, path, role needed, body) for every route under /api/v1, on default's rows."""
    cl = api.cl
    event_id = cl.events.record("scan", "started", status="processing")
    spare = cl.auth.create_token("spare", "read").token.id
    cl.auth.set_member("bob", "write")
    cl.secrets.set("db-password", "hunter2")
    cl.states.define("movie", ["new", "missing"], {"new": ["missing"]}, initial="new")
    cl.states.transition("movie", 603, "missing", title="Heat")
    machine = {"states": ["new", "x"], "transitions": {"new": ["x"]}, "initial": "new"}
    cl.jobs.enqueue("rip", queue="rip")
    (running,) = cl.jobs.claim(["rip"], "w1")
    stopped = cl.jobs.enqueue("rip", queue="later").id
    cl.jobs.cancel(stopped)
    job, lease = running.id, running.lease
    cl.jobs.schedules.add("nightly", "scan", cron="0 3 * * *")
    pipe = cl.jobs.pipeline(["rip", "remux"], subject=("movie", 603))
    worker = cl.jobs.register_worker("w1", host="h1")
    return [
        ("POST", "/events", "write", {"event_type": "a", "action": "b"}),
        ("GET", "/events", "read", None),
        ("GET", "/events/recent", "read", None),
        ("GET", f"/events/{event_id}", "read", None),
        ("PATCH", f"/events/{event_id}", "write", {"status": "error", "error": "x"}),
        ("GET", "/whoami", "read", None),
        ("GET", "/tokens", "admin", None),
        ("POST", "/tokens", "admin", {"name": "x", "role": "admin"}),
        ("DELETE", f"/tokens/{spare}", "admin", None),
        ("GET", "/members", "admin", None),
        ("PUT", "/members/mallory", "admin", {"role": "admin"}),
        ("DELETE", "/members/bob", "admin", None),
        ("GET", "/secrets", "admin", None),
        ("PUT", "/secrets/db-password", "admin", {"value": "stolen"}),
        ("GET", "/secrets/db-password", "write", None),
        ("DELETE", "/secrets/db-password", "admin", None),
        ("GET", "/stats", "read", None),
        # GETs of an entity first: another project's token must find nothing (404).
        ("GET", "/entities/movie/603", "read", None),
        ("GET", "/entities/movie/603/transitions", "read", None),
        ("GET", "/entities/movie/603/children", "read", None),
        ("GET", "/machines/movie", "read", None),
        ("GET", "/machines", "read", None),
        ("PUT", "/machines/movie", "admin", machine),
        ("GET", "/entities", "read", None),
        ("PUT", "/entities/movie/603", "write", {"title": "stolen"}),
        # "missing" is not a state of the machine the other project defined: 422 there.
        ("POST", "/entities/movie/603/transitions", "write", {"to": "missing"}),
        ("GET", "/kinds/movie/counts", "read", None),
        ("POST", "/transitions", "write", {"moves": [{"kind": "movie", "id": "1", "to": "x"}]}),
        ("DELETE", "/entities/movie/603", "write", None),
        ("GET", "/timeline", "read", None),
        ("GET", "/feed", "read", None),
        ("GET", "/feed/end", "read", None),
        # A stream that would be accepted never ends: a bad cursor ends it at 422.
        ("GET", "/feed/stream?after=garbage", "read", None),
        ("GET", f"/jobs/{job}", "read", None),
        ("GET", f"/jobs/{job}/logs", "read", None),
        ("POST", "/jobs", "write", {"kind": "x"}),
        ("GET", "/jobs", "read", None),
        ("GET", "/jobs/failed", "read", None),
        ("GET", "/jobs/running", "read", None),
        ("GET", "/jobs/counts", "read", None),
        ("GET", f"/jobs/{job}/history", "read", None),
        ("POST", "/jobs/rescue", "write", None),
        ("POST", f"/jobs/{stopped}/retry", "write", None),
        ("POST", "/jobs/claim", "write", {"queues": ["nothing"]}),
        ("POST", f"/jobs/{job}/heartbeat", "write", {"lease": lease}),
        (
            "POST",
            f"/jobs/{job}/logs",
            "write",
            {"lease": lease, "lines": [{"level": "info", "message": "x"}]},
        ),
        ("POST", f"/jobs/{job}/complete", "write", {"lease": lease}),
        ("POST", "/jobs/complete", "write", {"jobs": [{"id": job, "lease": lease}]}),
        ("POST", f"/jobs/{job}/fail", "write", {"lease": lease, "error": "x"}),
        ("POST", f"/jobs/{job}/release", "write", {"lease": lease}),
        ("POST", f"/jobs/{job}/cancel", "write", None),
        # GETs of a schedule first: another project's token must find nothing (404).
        ("GET", "/schedules/nightly", "read", None),
        ("GET", "/schedules/nightly/next", "read", None),
        ("GET", "/schedules/nightly/fires", "read", None),
        ("GET", "/schedules", "read", None),
        ("PUT", "/schedules/nightly", "write", {"kind": "scan", "every": 60}),
        ("POST", "/schedules/nightly/pause", "write", None),
        ("POST", "/schedules/nightly/resume", "write", None),
        ("DELETE", "/schedules/nightly", "write", None),
        ("GET", "/queues", "read", None),
        ("GET", "/queues/rip", "read", None),
        ("POST", "/queues/rip/pause", "write", None),
        ("POST", "/queues/rip/resume", "write", None),
        ("PUT", "/queues/rip/limit", "write", {"concurrency": 1}),
        ("POST", "/jobs/retry-many?queues=later", "write", None),
        ("POST", "/jobs/cancel-many?queues=rip", "write", {"actor": {"type": "user", "id": "x"}}),
        ("GET", "/workers", "read", None),
        ("POST", "/workers", "write", {"name": "w2", "host": "h2"}),
        ("POST", f"/workers/{worker}/heartbeat", "write", None),
        ("DELETE", f"/workers/{worker}", "write", None),
        ("POST", "/jobs/cancelled", "write", {"ids": [stopped]}),
        ("GET", f"/jobs/{pipe.jobs[1].id}/dependencies", "read", None),
        ("GET", f"/jobs/{pipe.jobs[1].id}/pipeline", "read", None),
        ("GET", f"/pipelines/{pipe.id}", "read", None),
        ("POST", "/pipelines", "write", {"stages": [{"kind": "y"}]}),
    ]


def _template(path: str) -> str:
    parts = path.partition("?")[0].split("/")
    names = {
        "events": "{event_id}",
        "tokens": "{token_id}",
        "members": "{user}",
        "secrets": "{name}",
        "jobs": "{job_id}",
        "pipelines": "{pipeline_id}",
    }
    if parts[1] == "queues" and len(parts) >= 3:
        parts[2] = "{queue}"
        return "/".join(parts)
    if parts[1] == "workers" and len(parts) >= 3:
        parts[2] = "{worker_id}"
        return "/".join(parts)
    fixed = {
        "recent",
        "stream",
        "claim",
        "complete",
        "end",
        "cancelled",
        "retry-many",
        "cancel-many",
        "failed",
        "running",
        "counts",
        "rescue",
    }
    if len(parts) == 3 and parts[2] not in fixed:
        parts[2] = names.get(parts[1], "{kind}")
    if parts[1] == "schedules" and len(parts) >= 3:
        parts[2] = "{name}"
    if parts[1] == "jobs" and len(parts) == 4:
        parts[2] = "{job_id}"
    if parts[1] == "kinds":
        parts[2] = "{kind}"
    if parts[1] == "entities" and len(parts) >= 4:
        parts[2:4] = ["{kind}", "{entity_id}"]
    return "/".join(parts)


def test_the_matrix_covers_every_route(api: Api) -> None:
    app = api.app
    declared = {
        (method, path.removeprefix(API_PREFIX))
        for route in app.openapi()["paths"].items()
        for path, ops in [route]
        for method in (m.upper() for m in ops)
        if path.startswith(API_PREFIX)
    }
    covered = {(m, _template(p)) for m, p, _, _ in _routes(api)}
    assert covered == declared


def test_no_token_or_a_bad_token_is_401_and_changes_nothing(api: Api) -> None:
    routes = _routes(api)
    before = _world(api)
    for method, path, _, body in routes:
        for token in (None, "chl_unknown", "", "x" * 500, "Basic abc"):
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            if token == "Basic abc":
                headers = {"Authorization": token}
            response = api.http.request(method, API_PREFIX + path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, token, response.text)
            assert error_of(response)["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
    assert _world(api) == before


def test_a_lower_role_is_403_and_changes_nothing(api: Api) -> None:
    routes = _routes(api)
    order = ["read", "write", "admin"]
    tokens = {role: api.token(role) for role in order}
    before = _world(api)
    for method, path, needed, body in routes:
        for role in order[: order.index(needed)]:
            response = api.call(method, path, token=tokens[role], json=body)
            assert response.status_code == 403, (method, path, role, response.text)
            assert error_of(response)["code"] == "forbidden"
    assert _world(api) == before


def test_another_projects_admin_token_never_reaches_default(api: Api) -> None:
    routes = _routes(api)
    other = api.token("admin", project="other")
    before = _world(api)
    for method, path, _, body in routes:
        response = api.call(method, path, token=other, json=body)
        assert response.status_code < 500, (method, path)
        assert "hunter2" not in response.text
        if path.startswith(("/events/", "/tokens/")) and not path.endswith("recent"):
            assert response.status_code == 404, (method, path, response.text)
        if path.startswith(("/entities/", "/machines/")) and method == "GET":
            assert response.status_code == 404, (method, path, response.text)
        if path == "/jobs/complete":  # another project's job is skipped, as a stale lease
            assert response.json() == {"completed": []}, response.text
        elif path in ("/jobs/failed", "/jobs/running"):  # its own project's: none
            assert response.json() == [], response.text
        elif path == "/jobs/counts":  # its own project's queues only, not default's
            assert not {"rip", "later"} & set(response.json()), response.text
        elif path == "/jobs/rescue":
            assert response.json() == {"rescued": 0}, response.text
        elif path.startswith(("/jobs/retry-many", "/jobs/cancel-many")):  # none of default's
            assert response.json() == {"moved": 0}, response.text
        elif path == "/jobs/cancelled":  # another project's cancelled job is not seen
            assert response.json() == {"cancelled": []}, response.text
        elif path.startswith("/jobs/") and path != "/jobs/claim":
            assert response.status_code == 404, (method, path, response.text)
        if path.startswith("/pipelines/"):
            assert response.status_code == 404, (method, path, response.text)
        if path.startswith("/workers/") and method == "DELETE":
            assert response.status_code == 404, response.text  # default's worker: unseen
        if path == "/machines":
            assert [m["kind"] for m in response.json()] == [], response.text  # none of default's
        if path.startswith("/schedules/") and method == "GET":
            assert response.status_code == 404, (method, path, response.text)
        if path == "/schedules":
            assert response.json() == {"items": []}, response.text
    assert _world(api) == before
    # What it did, it did in its own project.
    view = api.cl.using("other")
    # "movie": creating an entity records its creation (in "other", where it was made).
    # "queue": its pause, resume and limit of its own queue "rip"; "schedule": its own.
    assert sorted({e.event_type for e in view.events.recent()}) == [
        "a",
        "job",
        "movie",
        "queue",
        "schedule",
    ]
    assert [j.kind for j in view.jobs.list().items] == ["y", "x"]  # the pipeline's, then x
    assert {m.user for m in view.auth.members()} == {"mallory"}
    assert view.secrets.list() == []  # put, read back and deleted: all in "other"
    listed = api.call("GET", "/events", token=other).json()["items"]
    assert all(e["project"] == "other" for e in listed)


def test_token_lifecycle_over_http(api: Api) -> None:
    created = api.call("POST", "/tokens", json={"name": "ripper-01", "role": "write"})
    assert created.status_code == 201
    secret, info = created.json()["secret"], created.json()["token"]
    assert secret.startswith("chl_")
    assert info["role"] == "write"
    assert info["prefix"] == secret[:12]
    assert api.call("GET", "/whoami", token=secret).json()["role"] == "write"
    listed = api.call("GET", "/tokens").text
    assert secret not in listed
    assert "token_hash" not in listed
    assert (
        api.call(
            "POST", "/events", token=secret, json={"event_type": "a", "action": "b"}
        ).status_code
        == 201
    )
    used = next(t for t in api.cl.auth.tokens() if t.id == info["id"])
    assert used.last_used_at is not None
    revoked = api.call("DELETE", f"/tokens/{info['id']}")
    assert revoked.json()["revoked_at"] is not None
    refused = api.call("GET", "/events", token=secret)
    assert refused.status_code == 401
    assert "revoked" in error_of(refused)["message"]
    bad = api.call("POST", "/tokens", json={"name": "x", "role": "root"})
    assert bad.status_code == 422


def test_tokens_are_stored_hashed(api: Api) -> None:
    issued = api.cl.auth.create_token("hashed", "read")
    with api.cl.store.read() as conn:
        rows = conn.execute(select(api_tokens)).mappings().all()
    dumped = repr(rows)
    assert issued.secret not in dumped
    assert hashlib.sha256(issued.secret.encode()).hexdigest() in dumped


def test_expired_token_is_refused(api: Api) -> None:
    issued = api.cl.auth.create_token("short", "read", expires_in=1)
    assert api.call("GET", "/whoami", token=issued.secret).status_code == 200
    time.sleep(1.1)
    response = api.call("GET", "/whoami", token=issued.secret)
    assert response.status_code == 401
    assert "expired" in error_of(response)["message"]
    with pytest.raises(ValidationError):
        api.cl.auth.create_token("past", expires_at=datetime.now(UTC) - timedelta(seconds=1))


def test_member_tokens_follow_the_members_role(api: Api) -> None:
    api.call("PUT", "/members/bob", json={"role": "write", "display_name": "Bob"})
    token = api.cl.auth.create_token("bob's", "write", user="bob").secret
    with pytest.raises(Forbidden):
        api.cl.auth.create_token("too much", "admin", user="bob")
    with pytest.raises(NotFound):
        api.cl.auth.create_token("stranger", "read", user="nobody")
    event = {"event_type": "a", "action": "b"}
    assert api.call("POST", "/events", token=token, json=event).status_code == 201
    api.call("PUT", "/members/bob", json={"role": "read"})
    assert api.call("POST", "/events", token=token, json=event).status_code == 403
    assert api.call("GET", "/whoami", token=token).json() == {
        "project": "default",
        "role": "read",
        "token_id": api.call("GET", "/whoami", token=token).json()["token_id"],
        "user": "bob",
    }
    assert api.call("DELETE", "/members/bob").status_code == 204
    assert api.call("GET", "/events", token=token).status_code == 401
    assert api.call("DELETE", "/members/bob").status_code == 404
    assert api.call("PUT", "/members/bad%20name", json={"role": "read"}).status_code == 422


def test_bootstrap_issues_one_admin_token_on_an_empty_store(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        issued = cl.auth.bootstrap()
        assert issued is not None
        assert issued.token.role == "admin"
        assert cl.auth.authenticate(issued.secret).role == "admin"
        assert cl.auth.bootstrap() is None
        with pytest.raises(Unauthorized):
            cl.auth.authenticate("chl_" + "A" * 43)


# -- secrets ---------------------------------------------------------------------------


def test_secrets_over_http(api: Api) -> None:
    put = api.call("PUT", "/secrets/plex-token", json={"value": "s3cr3t ✓"})
    assert put.status_code == 200
    assert put.json()["name"] == "plex-token"
    assert "s3cr3t" not in put.text
    assert "s3cr3t" not in api.call("GET", "/secrets").text
    worker = api.token("write")
    assert api.call("GET", "/secrets/plex-token", token=worker).json() == {
        "name": "plex-token",
        "value": "s3cr3t ✓",
    }
    assert api.call("GET", "/secrets/plex-token", token=api.token("read")).status_code == 403
    assert api.call("GET", "/secrets/missing").status_code == 404
    assert api.call("GET", "/secrets/..%2Fx").status_code in {404, 422}
    with api.cl.store.read() as conn:
        stored = conn.execute(select(project_secrets.c.ciphertext)).scalar_one()
    assert b"s3cr3t" not in bytes(stored)
    assert api.call("DELETE", "/secrets/plex-token").status_code == 204
    assert api.call("GET", "/secrets/plex-token").status_code == 404


def test_secrets_need_a_key(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHRONOLOG_SECRET_KEY")
    response = api.call("PUT", "/secrets/x", json={"value": "v"})
    assert response.status_code == 503
    assert error_of(response)["code"] == "not_configured"
    assert "CHRONOLOG_SECRET_KEY" in error_of(response)["message"]
    assert api.cl.secrets.list() == []
    monkeypatch.setenv("CHRONOLOG_SECRET_KEY", "not a key")
    with pytest.raises(NotConfigured, match="not a valid key"):
        api.cl.secrets.set("x", "v")


def test_secrets_key_rotation_and_wrong_key(cl: Chronolog, monkeypatch: pytest.MonkeyPatch) -> None:
    cl.secrets.set("a", "old")
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("CHRONOLOG_SECRET_KEY", f"{new},{KEY}")
    assert cl.secrets.get("a") == "old"  # decrypts with the old key
    cl.secrets.set("b", "new")
    monkeypatch.setenv("CHRONOLOG_SECRET_KEY", new)
    assert cl.secrets.get("b") == "new"
    with pytest.raises(NotConfigured, match="another key"):
        cl.secrets.get("a")


def test_a_ciphertext_moved_to_another_project_is_refused(cl: Chronolog) -> None:
    cl.projects.create("other")
    other = cl.using("other")
    cl.secrets.set("token", "mine")
    other.secrets.set("token", "theirs")
    with cl.store.write() as conn:
        mine = conn.execute(
            select(project_secrets.c.ciphertext).where(
                project_secrets.c.project_id == cl.scope.project_id
            )
        ).scalar_one()
        conn.execute(
            update(project_secrets)
            .where(project_secrets.c.project_id == other.scope.project_id)
            .values(ciphertext=mine)
        )
    with pytest.raises(Exception, match="not stored for this project"):
        other.secrets.get("token")


# -- the token commands --------------------------------------------------------------


def test_token_commands(db_url: str) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["token", "create", "ci", "--role", "write", "--db", db_url])
    assert created.exit_code == 0, created.output
    secret = created.output.strip()
    assert secret.startswith("chl_")
    listed = runner.invoke(cli, ["token", "ls", "--json", "--db", db_url])
    assert listed.exit_code == 0
    assert secret not in listed.output
    assert '"name":"ci"' in listed.output
    with Chronolog(db_url) as cl:
        token_id = cl.auth.authenticate(secret).token_id
    revoked = runner.invoke(cli, ["token", "revoke", str(token_id), "--db", db_url])
    assert revoked.exit_code == 0, revoked.output
    with Chronolog(db_url) as cl, pytest.raises(Unauthorized):
        cl.auth.authenticate(secret)
    bad = runner.invoke(cli, ["token", "create", "x", "--role", "root", "--db", db_url])
    assert bad.exit_code != 0
    missing = runner.invoke(cli, ["token", "revoke", "999", "--db", db_url])
    assert missing.exit_code != 0


def test_token_expiry_input_is_checked(api: Api) -> None:
    for body in (
        {"name": "x", "expires_in": "99999999999999d"},
        {"name": "x", "expires_in": "soon"},
        {"name": "x", "expires_in": "0s"},
        {"name": "x", "expires_at": "2000-01-01T00:00:00Z"},
        {"name": "x", "expires_at": "2100-01-01T00:00:00"},
        {"name": "x", "expires_at": "9999-12-31T23:59:59-01:00"},
        {"name": "x", "expires_in": "1d", "expires_at": "2100-01-01T00:00:00Z"},
        {"name": "", "role": "read"},
        {"name": "x\u0000"},
    ):
        response = api.call("POST", "/tokens", json=body)
        assert response.status_code == 422, (body, response.text)
    assert [t.name for t in api.cl.auth.tokens()] == ["test admin"]
    ok = api.call("POST", "/tokens", json={"name": "x", "expires_in": "30d"}).json()["token"]
    assert ok["expires_at"] is not None


# -- crafted cursors and extreme dates across projects and roles (issue 14.6) ---------


def test_a_cursor_never_crosses_projects_or_leaks(api: Api) -> None:
    """Every cursor route, with a real cursor of ``default`` and a token of another
    project (and every role of ``default`` with edited cursors): 422, nothing read."""
    cl = api.cl
    cl.events.record_many([{"event_type": "secret", "action": f"a{i}"} for i in range(4)])
    cl.jobs.enqueue_many([{"kind": "secret-job"} for _ in range(3)])
    cl.states.define("movie", ["new", "done"], {"new": ["done"]}, initial="new")
    for i in range(3):
        cl.states.transition("movie", i, "done", title="Secret Movie")
    other = api.token("admin", project="other")
    api.cl.using("other").events.record("mine", "x")
    routes = {
        "/events": ("cursor", {"limit": 1}),
        "/jobs": ("cursor", {"limit": 1}),
        "/entities": ("cursor", {"limit": 1}),
        "/timeline": ("cursor", {"limit": 1}),
        "/feed": ("after", {"limit": 1}),
    }
    for path, (param, params) in routes.items():
        page = api.call("GET", path, params=params).json()
        cursor = page["next_cursor"]
        assert cursor, path
        stolen = api.call("GET", path, params={**params, param: cursor}, token=other)
        assert stolen.status_code == 422, (path, stolen.text)
        assert "secret" not in stolen.text.lower()
        for role in ("read", "write", "admin"):
            body, _, tag = cursor.rpartition(".")
            for edited in (body, f"{body}.{tag[::-1]}", f"{body[:-2]}AA.{tag}"):
                response = api.call(
                    "GET", path, params={**params, param: edited}, token=api.token(role)
                )
                assert response.status_code == 422, (path, role, response.text)
    assert (
        api.call("GET", "/feed/stream", headers={"Last-Event-ID": "x.y"}, token=other).status_code
        == 422
    )


def test_extreme_dates_for_every_role_are_never_a_5xx(api: Api) -> None:
    api.cl.events.record("a", "b")
    for role in ("read", "write", "admin"):
        token = api.token(role)
        for path, params in (
            ("/stats", {"since": "0001-01-01T00:00:00Z", "bucket": "1000d"}),
            ("/stats", {"since": "0001-01-01T00:00:00Z"}),
            ("/timeline", {"until": "0001-01-02T00:00:00Z"}),
            ("/events", {"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}),
            ("/jobs", {"since": "0001-01-01T00:00:00Z"}),
        ):
            response = api.call("GET", path, params=params, token=token)
            assert response.status_code in (200, 422), (role, path, response.text)
