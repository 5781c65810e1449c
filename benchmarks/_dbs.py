"""Fresh benchmark databases: SQLite files in a temp dir, PostgreSQL databases created and dropped."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_URL = os.environ.get("CHRONOLOG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def sqlite_url(name: str = "bench") -> Iterator[str]:
    """A URL of a new SQLite file, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="chronolog-bench-") as tmp:
        yield f"sqlite:///{os.path.join(tmp, name + '.db')}"


@contextmanager
def postgres_url() -> Iterator[str]:
    """A URL of a new PostgreSQL database, dropped afterwards."""
    name = f"chronolog_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_available() -> bool:
    """Whether the benchmark PostgreSQL answers."""
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True
