"""One suite, both databases.

``db_url`` is parametrised over SQLite and PostgreSQL; every test gets its own
empty, migrated database: a copy of a migrated template file on SQLite, a
``CREATE DATABASE … TEMPLATE`` clone on PostgreSQL.

PostgreSQL comes from ``CHRONOLOG_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Unreachable, its half is
skipped with one clear reason, unless ``CHRONOLOG_REQUIRE_PG=1`` (CI), where
the suite fails instead, and also fails if no PostgreSQL test passed.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from chronolog import Chronolog
from chronolog.store import Store, migrate

from ._http import api  # noqa: F401  (the HTTP tests' fixture)

PG_URL = os.environ.get("CHRONOLOG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CHRONOLOG_REQUIRE_PG") == "1"
BACKENDS = ["sqlite", "postgresql"]

_pg_passed = 0
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_conninfo(database: str | None = None) -> str:
    url = make_url(PG_URL)
    if database is not None:
        url = url.set(database=database)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_pg_conninfo(), autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated template database for this worker, or None when PostgreSQL is unreachable."""
    try:
        admin = _pg_admin()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        if REQUIRE_PG:
            pytest.fail(
                f"PostgreSQL is required (CHRONOLOG_REQUIRE_PG=1) but unreachable: {reason}"
            )
        yield None
        return
    name = f"chronolog_tpl_{_worker()}_{os.getpid()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    store = Store(_pg_conninfo(name))
    try:
        migrate.upgrade(store)
    finally:
        store.close()
    yield name
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    store = Store(f"sqlite:///{path}")
    try:
        migrate.upgrade(store)
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database the test runs on."""
    return str(request.param)


@pytest.fixture
def db_url(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[str]:
    """The URL of a fresh, migrated, empty database of the test's backend."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "chronolog.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    if template is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: PostgreSQL half of the suite skipped")
    name = f"chronolog_t_{_worker()}_{os.getpid()}_{next(_counter)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_conninfo(name)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database with no schema at all (for migration tests)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if request.getfixturevalue("pg_template") is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: PostgreSQL half of the suite skipped")
    name = f"chronolog_e_{_worker()}_{os.getpid()}_{next(_counter)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_conninfo(name)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cl(db_url: str) -> Iterator[Chronolog]:
    """A Chronolog on a fresh database, project ``default``."""
    with Chronolog(db_url) as chronolog:
        yield chronolog


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _pg_passed
    if report.when == "call" and report.passed and "postgresql" in report.nodeid:
        _pg_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRE_PG or hasattr(session.config, "workerinput"):
        return  # checked once, on the controller
    if _pg_passed == 0 and session.testscollected:
        session.exitstatus = 1
        print("\nCHRONOLOG_REQUIRE_PG=1 but no PostgreSQL test passed: failing the run.")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REQUIRE_PG:
        terminalreporter.write_line(f"PostgreSQL tests passed: {_pg_passed}")
