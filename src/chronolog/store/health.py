"""Is the store ready to serve? Each check a name and ``None`` (fine) or what is wrong.

Liveness (the process answers) needs none of this; readiness does: the database
answers, its schema is the one this code expects, and it takes writes. SQLite's
writability is read from the file and its folder (and the free space of their
disk) rather than by taking the write lock, so a readiness probe never waits
behind a writer; PostgreSQL says whether it is read-only (a standby, or
``default_transaction_read_only``). A full PostgreSQL disk is only seen when a
write fails (it answers ``StoreUnavailable``, 503).
"""

from __future__ import annotations

import os

from ..errors import ChronologError
from . import migrate
from .engine import Store
from .sql import server as sql

__all__ = ["MIN_FREE_BYTES", "readiness"]

MIN_FREE_BYTES = 16 * 1024 * 1024
"""Below this much free space next to an SQLite file, the store is not ready for writes."""


def readiness(store: Store) -> dict[str, str | None]:
    """``{"database", "schema", "writable"}`` → ``None`` when fine, else the reason.

    The reasons may name paths and database errors: show them to authenticated
    callers only.
    """
    checks: dict[str, str | None] = {"database": None, "schema": None, "writable": None}
    try:
        with store.read() as conn:
            sql.store_ping(conn)
            revision = migrate.current_revision(conn)
            read_only = None if store.is_sqlite else sql.store_read_only(conn)
    except ChronologError as exc:
        reason = exc.message
        return dict.fromkeys(checks, reason)
    head = migrate.head_revision()
    if revision is None:
        checks["schema"] = "no chronolog schema: the database is empty"
    elif revision != head:
        checks["schema"] = f"schema at {revision}, this code needs {head}"
    if store.is_sqlite:
        checks["writable"] = _sqlite_writable(store)
    elif read_only:
        checks["writable"] = f"PostgreSQL is read-only here ({read_only})"
    return checks


def _sqlite_writable(store: Store) -> str | None:
    if store.read_only:
        return "opened read-only (mode=ro)"
    database = store.url.database or ":memory:"
    if database == ":memory:" or database.startswith("file::memory:"):
        return None
    path = os.path.abspath(database)
    folder = os.path.dirname(path)
    if not os.access(path, os.W_OK):
        return f"{path} is not writable"
    if not os.access(folder, os.W_OK):
        return f"{folder} is not writable (SQLite writes its journal next to the file)"
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES:
        return f"the disk of {path} is full ({free // 1024} KiB free)"
    return None
