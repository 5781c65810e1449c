"""SQLite's WAL checkpoints on a thread of their own, off the writers' commits.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* copies
them back into the database file (and, with ``synchronous`` NORMAL or FULL,
syncs it). By default SQLite runs it inside whichever commit finds the WAL over
1,000 pages, so every so often a writer (a worker's batch, a request's event)
waits for it: on a fast drain of no-op jobs, about a tenth of the claiming
thread's time. A :class:`Checkpointer` runs them instead on a daemon thread with
a connection of its own, :data:`GATHER` seconds after a write, in ``PASSIVE``
mode (it never waits for, nor blocks, readers and writers; the driver releases
the GIL meanwhile). The store's connections keep an automatic checkpoint at
:data:`FALLBACK_PAGES`, so the WAL stays bounded should this thread fall behind.

A checkpoint is not what makes a commit durable (the WAL is), so nothing about
the store's promises changes: only who does the copying, and when.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from urllib.parse import quote

__all__ = ["FALLBACK_PAGES", "GATHER", "Checkpointer"]

log = logging.getLogger("chronolog")

GATHER = 0.2
"""Seconds of writes gathered into one checkpoint."""
FALLBACK_PAGES = 10_000
"""``wal_autocheckpoint`` of the store's own connections (SQLite's default: 1,000)."""


class Checkpointer:
    """Checkpoints one SQLite file's WAL in the background while the store writes."""

    def __init__(self, path: str, synchronous: str) -> None:
        self._path = path
        self._synchronous = synchronous
        self._wrote = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wrote(self) -> None:
        """The store wrote (or is about to): checkpoint within :data:`GATHER` seconds."""
        if self._wrote.is_set():
            return
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="chronolog-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wrote.set()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._wrote.wait()
                if self._stop.wait(GATHER):
                    return
                self._wrote.clear()  # writes from here on ask for the next one
                try:
                    if conn is None:
                        # mode=rw: never create the file (it exists once the store wrote)
                        conn = sqlite3.connect(
                            f"file:{quote(self._path)}?mode=rw", uri=True, isolation_level=None
                        )
                        conn.execute(f"PRAGMA synchronous={self._synchronous}")
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the file went away, a disk error: the
                    # writers' own fallback checkpoints still run
                    log.debug("chronolog: background checkpoint of %s failed: %s", self._path, exc)
        finally:
            if conn is not None:
                conn.close()

    def close(self) -> None:
        """Stop the thread (at once: a checkpoint under way finishes first)."""
        self._stop.set()
        self._wrote.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(10)
