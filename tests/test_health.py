"""Liveness and readiness (issue 14.7), and ``/metrics`` behind a token (issue 14.10).

``/health`` answers while the process serves; ``/ready`` says whether the store
can serve: it answers, holds this version's schema, and takes writes. Reasons
and versions go to authenticated callers only. A read-only store still serves
reads (authentication's bookkeeping write no longer fails them).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from chronolog import Chronolog
from chronolog.server import create_app
from chronolog.server.testing import SyncASGITransport
from chronolog.store import health

from ._http import BASE, Api, error_of, make_api


def _conninfo(db_url: str, database: str | None = None) -> str:
    url = make_url(db_url)
    if database is not None:
        url = url.set(database=database)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_ready_when_all_is_well(api: Api) -> None:
    assert api.call("GET", "/health", token=None).json() == {"status": "ok"}
    ready = api.call("GET", "/ready", token=None)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    detailed = api.call("GET", "/ready").json()
    assert detailed["checks"] == {"database": "ok", "schema": "ok", "writable": "ok"}
    assert api.call("GET", "/health").json()["database"] == api.cl.store.dialect.name


def test_an_empty_schema_is_not_ready(api: Api) -> None:
    with api.cl.store.write() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    assert api.call("GET", "/health", token=None).status_code == 200  # alive all the same
    ready = api.call("GET", "/ready", token=None)
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable"}  # no reasons for strangers
    detailed = api.call("GET", "/ready")
    assert detailed.status_code == 503
    assert "no chronolog schema" in detailed.json()["checks"]["schema"]


def test_a_full_disk_is_not_ready(cl: Chronolog, monkeypatch: pytest.MonkeyPatch) -> None:
    if not cl.store.is_sqlite:
        pytest.skip("PostgreSQL's disk is not the server's to see: a full one fails writes (503)")
    monkeypatch.setattr(health, "MIN_FREE_BYTES", 1 << 62)
    assert "full" in (health.readiness(cl.store)["writable"] or "")


@pytest.fixture
def read_only(backend: str, db_url: str, tmp_path: Path) -> Iterator[tuple[Chronolog, str]]:
    """A store with an event and an admin token, then opened read-only, and the token."""
    with Chronolog(db_url) as cl:
        cl.events.record("scan", "before")
        token = cl.auth.create_token("reader", "admin").secret
    if backend == "sqlite":
        with Chronolog(f"{db_url}?mode=ro") as ro:
            yield ro, token
        return
    name = make_url(db_url).database
    with psycopg.connect(_conninfo(db_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with Chronolog(db_url) as ro:
        yield ro, token


def test_a_read_only_store_serves_reads_and_refuses_writes(
    read_only: tuple[Chronolog, str],
) -> None:
    ro, token = read_only
    with (
        SyncASGITransport(create_app(ro)) as transport,
        httpx.Client(transport=transport, base_url=BASE) as http,
    ):
        api = Api(ro, http, token, transport)
        response = api.call("GET", "/events", token=token)
        assert response.status_code == 200, response.text  # no 500 from last_used_at
        assert [e["action"] for e in response.json()["items"]] == ["before"]
        write = api.call("POST", "/events", token=token, json={"event_type": "a", "action": "b"})
        assert write.status_code == 503, write.text
        assert error_of(write)["code"] == "store_unavailable"
        ready = api.call("GET", "/ready", token=None)
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable"}
        detailed = api.call("GET", "/ready", token=token).json()
        assert detailed["checks"]["database"] == "ok"
        assert detailed["checks"]["writable"] != "ok"


def test_an_unreachable_database_is_not_ready_and_says_nothing(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        path = Path(make_url(db_url).database or "")
        copy = tmp_path / "served.db"
        shutil.copyfile(path, copy)
        url = f"sqlite:///{copy}"
    else:
        url = db_url
    with Chronolog(url) as cl:
        for api in make_api(cl):
            assert api.call("GET", "/ready").status_code == 200
            if backend == "sqlite":
                cl.store.engine.dispose()
                copy.write_bytes(b"this is not a database" * 100)
            else:
                name = make_url(db_url).database
                with psycopg.connect(_conninfo(db_url, "postgres"), autocommit=True) as admin:
                    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (name,),
                    )
            ready = api.call("GET", "/ready", token=None)
            assert ready.status_code == 503
            assert ready.json() == {"status": "unavailable"}
            assert api.call("GET", "/health", token=None).status_code == 200
        if backend == "postgresql":
            with psycopg.connect(_conninfo(db_url, "postgres"), autocommit=True) as admin:
                admin.execute(
                    f'ALTER DATABASE "{make_url(db_url).database}" ALLOW_CONNECTIONS true'
                )


def test_metrics_need_a_token_and_show_its_project_only(api: Api) -> None:
    api.cl.jobs.enqueue("x", queue="mine")
    other = api.token("read", project="other")
    api.cl.using("other").jobs.enqueue("y", queue="theirs")
    refused = api.call("GET", "/metrics", token=None)
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "unauthorized"
    assert api.call("GET", "/metrics", token="chl_unknown").status_code == 401
    mine = api.call("GET", "/metrics").text
    assert 'chronolog_jobs{project="default",queue="mine",state="pending"} 1.0' in mine
    assert "theirs" not in mine
    theirs = api.call("GET", "/metrics", token=other).text
    assert 'project="other",queue="theirs"' in theirs
    assert 'project="default"' not in theirs
    assert "chronolog_http_requests_total" in theirs
