"""Waiting for changes: ``cl.subscribe(topic)``, the one verb interfaces wait on.

The server's wakers (and through them the dashboard's live views and the
feed's long-polls) and the TUI's live source all need "block until something
of this kind may have changed". As River's ``Client.Subscribe`` hands out a
channel of events instead of its notifier, :class:`Subscription` hides where
the signal comes from:

- commits of this process publish their topics on the store's notifier;
- on PostgreSQL, commits of other processes arrive by ``LISTEN/NOTIFY``
  (the store's listener thread, started by the first wait);
- SQLite has no signal between processes: for the ``events`` topic a
  subscription with ``poll`` reads the newest event's position (one indexed
  query) once per quiet ``poll`` seconds and counts a change when it moved.
  Other topics have no such fallback on SQLite (their waits time out), and
  ``job_logs:<id>`` is heard in this process only, on both databases.

Topics: ``events`` (any event written: moves and job changes write events
too), ``jobs`` (work to claim), ``jobs_done`` and ``job_logs:<id>``.
"""

from __future__ import annotations

import threading
import time

from ._scope import Scope
from .store.sql import feed as feed_sql

__all__ = ["Subscription"]

_NOTIFIED = frozenset({"events", "jobs", "jobs_done"})
"""Topics PostgreSQL carries between processes (``NOTIFY chronolog_<topic>``); the
others (``job_logs:<id>``) are heard in this process only."""


class Subscription:
    """Changes of one topic as a token that only grows: read :meth:`token`, then
    :meth:`wait` until it moves past what was seen (or a timeout passes)."""

    def __init__(self, scope: Scope, topic: str, *, poll: float | None = None) -> None:
        self._scope = scope
        self.topic = topic
        self._store = scope.store
        self._poll = poll if topic == "events" and self._store.is_sqlite else None
        self._lock = threading.Lock()
        self._bumps = 0
        self._listening = topic not in _NOTIFIED  # nothing to start for the others
        self._checked = time.monotonic()
        self._newest = self._position() if self._poll is not None else None

    def _position(self) -> tuple[int, int] | None:
        with self._store.read() as conn:
            return feed_sql.feed_last_position(conn, self._scope.project_id, None)

    def token(self) -> int:
        """A number that moves whenever the topic may have changed."""
        with self._lock:
            return self._bumps + self._store.notifier.generation(self.topic)

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the token moves past ``seen`` or ``timeout`` seconds pass; return
        the token. The first call starts listening to other processes (PostgreSQL) and
        returns at once with a moved token: what happened before was not heard."""
        if not self._listening:
            # In the waiting thread, not the constructor: starting LISTEN may block.
            self._store.listen(self.topic)
            self._listening = True
            with self._lock:
                self._bumps += 1
            return self.token()
        with self._lock:
            generation = seen - self._bumps
        heard = self._store.wait(self.topic, generation, timeout)
        if not heard and self._poll is not None and time.monotonic() - self._checked >= self._poll:
            self._checked = time.monotonic()
            newest = self._position()
            if newest != self._newest:
                with self._lock:
                    self._newest = newest
                    self._bumps += 1
        return self.token()

    def wake(self) -> None:
        """Wake every waiter of this topic in this process (a stopping reader's own wait)."""
        self._store.notifier.publish(self.topic)
