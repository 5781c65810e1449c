"""Opening a store: URL → engine with the right pragmas, pool and dialect seam.

:class:`Store` is what every part holds: the engine, the dialect seam, the
in-process notifier, and the read/write transaction helpers that translate
driver errors into chronolog's own.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .._json import dumps, loads
from ..errors import ChronologError, StoreUnavailable, ValidationError
from ._checkpoint import FALLBACK_PAGES, Checkpointer
from ._sqlite_driver import DRIVER
from .dialect import Dialect
from .notify import Notifier, PgListener
from .postgresql import PostgreSQLDialect
from .sqlite import SQLiteDialect

__all__ = ["DEFAULT_URL", "Store", "network_filesystem", "normalise_url"]

log = logging.getLogger("chronolog")

DEFAULT_URL = "sqlite:///chronolog.db"
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.rclone",
        "davfs",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "virtiofs",
    }
)
_DRIVER_ERRORS = (SQLAlchemyError, sqlite3.Error, psycopg.Error)
"""What a transaction may raise from the database: SQLAlchemy's errors, and the
drivers' own from statements run on the raw connection."""
_BUSY_TIMEOUT_MS = 30_000
_SQLITE_SYNC_MODES = {"off", "normal", "full", "extra"}

T = TypeVar("T")


def normalise_url(url: str) -> URL:
    """Parse a store URL and pick chronolog's driver for it (psycopg 3 for PostgreSQL)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValidationError(f"not a database URL: {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise ValidationError(
        f"unsupported database {backend!r}: use sqlite:///path.db or postgresql://…"
    )


def network_filesystem(path: str, mounts_file: str = "/proc/mounts") -> str | None:
    """The filesystem type of ``path`` if it is a network filesystem, else ``None``.

    Reads the mount table (``mounts_file`` is a test seam) and finds the
    longest mount point containing the file.
    """
    try:
        with open(mounts_file, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", ""
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        prefix = mount_point.rstrip("/") + "/"
        if (target == mount_point or target.startswith(prefix) or mount_point == "/") and len(
            mount_point
        ) > len(best):
            best, best_type = mount_point, parts[2]
    return best_type if best_type.lower() in NETWORK_FILESYSTEMS else None


def _reason(message: str) -> str:
    """The useful end of a driver's message: ``connection to server at "h", port 5
    failed: Connection refused`` → ``Connection refused``; first line only."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    reason = first.rsplit(" failed: ", 1)[-1].strip()
    return reason.removeprefix("FATAL:").strip()[:300] or first[:300]


class Store:
    """An open database: engine, dialect seam, notifier and transaction helpers."""

    def __init__(self, url: str, *, echo: bool = False, mounts_file: str = "/proc/mounts") -> None:
        self.url = normalise_url(url)
        self.dialect: Dialect
        self.notifier = Notifier()
        self.read_only = False
        """Opened read-only on purpose (SQLite ``?mode=ro``)."""
        self._listener: PgListener | None = None
        self._wrote = False
        self._checkpointer: Checkpointer | None = None
        """An SQLite file's background checkpoints (``_checkpoint``); None elsewhere."""
        # A memory database is one connection shared by all threads: take turns on it.
        self._serial: threading.RLock | None = None
        if self.url.get_backend_name() == "sqlite":
            self.dialect = SQLiteDialect()
            self.engine = self._sqlite_engine(echo, mounts_file)
        else:
            self.dialect = PostgreSQLDialect()
            self.engine = create_engine(
                self.url,
                echo=echo,
                pool_size=5,
                max_overflow=20,
                pool_recycle=3600,
                json_serializer=dumps,
                json_deserializer=loads,
            )

        self._closed = False
        event.listen(self.engine, "checkin", self._on_checkin)

    def _on_checkin(self, dbapi_conn: Any, record: Any) -> None:
        # A connection that comes back after close() (a request or thread that
        # outlived the store) would go into the disposed pool, which nobody empties,
        # and be closed only by the garbage collector (psycopg's ResourceWarning):
        # close it as it comes back.
        if self._closed and dbapi_conn is not None:
            record.invalidate()

    @property
    def is_sqlite(self) -> bool:
        """Whether this store is an SQLite file (or memory database)."""
        return self.dialect.name == "sqlite"

    def _sqlite_engine(self, echo: bool, mounts_file: str) -> Engine:
        database = self.url.database or ":memory:"
        query = dict(self.url.query)
        sync = str(query.pop("synchronous", "normal")).lower()
        if sync not in _SQLITE_SYNC_MODES:
            raise ValidationError(
                f"synchronous={sync!r} is not one of {sorted(_SQLITE_SYNC_MODES)}"
            )
        mode = str(query.pop("mode", "rw")).lower()
        if mode not in ("rw", "ro"):
            raise ValidationError(f"mode={mode!r} is not 'ro' (read-only) or 'rw'")
        self.read_only = mode == "ro"
        if "uri" not in query and query:
            # A typo (``synchronus=full``) would otherwise be dropped silently, and the
            # store run with settings the caller did not ask for. With ``uri=true`` the
            # options are SQLite's own URI parameters, passed on as they are.
            unknown = ", ".join(sorted(query))
            raise ValidationError(
                f"unknown SQLite URL option(s): {unknown}; chronolog reads synchronous= "
                "and mode=, and passes SQLite's own URI parameters on with uri=true"
            )
        url = self.url.set(query=query, drivername=DRIVER)
        in_memory = database == ":memory:" or database.startswith("file::memory:")
        kwargs: dict[str, Any] = {
            "echo": echo,
            "json_serializer": dumps,
            "json_deserializer": loads,
            "connect_args": {"check_same_thread": False, "timeout": _BUSY_TIMEOUT_MS / 1000},
        }
        if in_memory:
            # One connection shared by every thread, or each would see its own empty database.
            kwargs["poolclass"] = StaticPool
            self._serial = threading.RLock()
        else:
            directory = os.path.dirname(os.path.abspath(database)) or "."
            if not os.path.isdir(directory):
                raise ValidationError(f"directory {directory!r} for the SQLite file does not exist")
            fstype = network_filesystem(database, mounts_file)
            if fstype:
                log.warning(
                    "chronolog: the SQLite file %s is on a network filesystem (%s). SQLite's "
                    "locking is unreliable there and the file can be corrupted by writers on "
                    "different hosts; keep it on a local disk, or use PostgreSQL for many hosts.",
                    database,
                    fstype,
                )
        if self.read_only and not in_memory:
            # Opened read-only (sqlite:///file.db?mode=ro): reads work, every write is
            # refused by SQLite itself (StoreUnavailable), as on a file we may not write.
            path = os.path.abspath(database)
            url = url.set(database=f"file:{path}", query={**query, "mode": "ro", "uri": "true"})
        engine = create_engine(url, **kwargs)
        checkpointer = None
        if not in_memory and not self.read_only and not database.startswith("file:"):
            checkpointer = self._checkpointer = Checkpointer(os.path.abspath(database), sync)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN is ours to spell.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            if not in_memory and not self.read_only:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={sync.upper()}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if checkpointer is not None:
                cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that
            # upgrades later can fail with SQLITE_BUSY instead of waiting.
            if conn.get_execution_options().get("chronolog_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine

    # -- errors ------------------------------------------------------------------

    def where(self) -> str:
        """Where the store is, for messages: never its password."""
        if self.is_sqlite:
            return f"SQLite file {self.url.database or ':memory:'}"
        host = self.url.host or "localhost"
        port = self.url.port or 5432
        return f"PostgreSQL at {host}:{port}, database {self.url.database!r}"

    def translate(self, exc: Exception) -> ChronologError:
        """A driver error as chronolog's own; "unavailable" says which store, in one line.

        Hot statements run on the raw driver connection (``executemany``, ``COPY``),
        whose errors SQLAlchemy never wrapped: they are wrapped here the way it would.
        """
        if not isinstance(exc, SQLAlchemyError):
            base = sqlite3.Error if self.is_sqlite else psycopg.Error
            exc = DBAPIError.instance(None, None, exc, base)
        error = self.dialect.translate(exc)
        if isinstance(error, StoreUnavailable):
            reason = _reason(str(getattr(exc, "orig", None) or exc))
            error = StoreUnavailable(f"{self.where()} is unavailable: {reason}")
        return error

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if self._serial is None:
            yield
        else:
            with self._serial:
                yield

    def _writing(self) -> None:
        self._wrote = True
        if self._checkpointer is not None:
            self._checkpointer.wrote()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        self._writing()
        try:
            with self._turn(), self.engine.connect() as conn:
                conn.execution_options(chronolog_write=True)
                with conn.begin():
                    yield conn
        except _DRIVER_ERRORS as exc:
            raise self.translate(exc) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot for several statements."""
        try:
            with self._turn(), self.engine.connect() as conn, conn.begin():
                yield conn
        except _DRIVER_ERRORS as exc:
            raise self.translate(exc) from exc

    @contextmanager
    def read_single(self) -> Iterator[Connection]:
        """A connection for reads of one statement each, with no explicit transaction.

        Each statement is its own snapshot (SQLite in autocommit mode; on
        PostgreSQL the driver's implicit transaction, rolled back when the
        connection goes back to the pool). It saves :meth:`read`'s BEGIN and
        COMMIT round trips, for hot single-statement reads only.
        """
        try:
            with self._turn(), self.engine.connect() as conn:
                yield conn
        except _DRIVER_ERRORS as exc:
            raise self.translate(exc) from exc

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose every statement commits on its own (the database's autocommit).

        For a write that is a single statement (PostgreSQL runs one statement
        atomically, in a transaction of its own): no BEGIN and no COMMIT, so
        it costs one round trip instead of three. Not for several statements
        that must be all or nothing.
        """
        self._writing()
        try:
            with self._turn(), self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        except SQLAlchemyError as exc:
            raise self.dialect.translate(exc) from exc

    def retrying(self, work: Callable[[Connection], T], *, attempts: int = 8) -> T:
        """Run ``work`` in a write transaction, retrying deadlocks and serialisation failures."""
        self._writing()
        delay = 0.005
        for attempt in range(attempts):
            try:
                with self._turn(), self.engine.connect() as conn:
                    conn.execution_options(chronolog_write=True)
                    with conn.begin():
                        return work(conn)
            except _DRIVER_ERRORS as exc:
                if not isinstance(exc, SQLAlchemyError):
                    base = sqlite3.Error if self.is_sqlite else psycopg.Error
                    exc = DBAPIError.instance(None, None, exc, base)
                if attempt + 1 < attempts and self.dialect.is_retryable(exc):
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    continue
                raise self.translate(exc) from exc
        raise ChronologError("transaction kept failing")  # pragma: no cover - loop returns

    def listen(self, *topics: str) -> None:
        """Deliver ``topics`` published by other processes to :attr:`notifier`.

        PostgreSQL: starts (once) a LISTEN thread on a dedicated connection.
        SQLite has no cross-process signal; waiters there wake on this
        process's own writes and otherwise on their timeout.
        """
        if self.is_sqlite:
            return
        if self._listener is None:
            conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._listener = PgListener(conninfo, self.notifier)
        self._listener.listen(topics)

    def wait(self, topic: str, seen: int, timeout: float) -> bool:
        """Wait until ``topic`` is published past generation ``seen`` (here or, once
        :meth:`listen` was called, in another process) or ``timeout`` passes."""
        return self.notifier.wait(topic, seen, timeout)

    def optimize(self) -> None:
        """Refresh the query planner's statistics (SQLite; PostgreSQL's autovacuum does it).

        Without statistics SQLite assumes every index is selective and, for a
        search that must read every row anyway, walks an index and fetches rows
        at random instead of scanning the table. ``analysis_limit`` samples a
        bounded number of rows per index, so this takes milliseconds.
        """
        if not self.is_sqlite:
            return
        with self.write() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def close(self) -> None:
        """Close every pooled connection and stop the listener.

        A SQLite store that wrote refreshes the planner's statistics first
        (best effort: skipped if another writer holds the file).
        """
        if self._checkpointer is not None:
            self._checkpointer.close()
        if self._wrote and self.is_sqlite and self._serial is None and not self.read_only:
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA busy_timeout=200")
                    conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                    conn.exec_driver_sql("ANALYZE")
                    conn.commit()
            except SQLAlchemyError:
                log.debug("chronolog: skipped ANALYZE on close", exc_info=True)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._closed = True
        self.engine.dispose()
