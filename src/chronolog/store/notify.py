"""Wake-ups: writers publish a topic after commit, waiters wake at once.

In one process, :class:`Notifier` is a set of per-topic generation counters
with a condition variable. Across processes, PostgreSQL ``NOTIFY`` reaches a
:class:`PgListener` thread (one dedicated connection per store, started on
first use) that republishes each channel on the notifier, so waiters never
care where a wake-up came from. SQLite has no cross-process signal: waiters
use a short timeout and re-check (the "short poll" of the design).

Channels are ``chronolog_<topic>``; the payload is the project id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

__all__ = ["Notifier", "PgListener", "channel_for"]

log = logging.getLogger("chronolog")


def channel_for(topic: str) -> str:
    """The PostgreSQL channel that carries ``topic``."""
    return f"chronolog_{topic}"


class Notifier:
    """Per-topic generation counters with a condition variable to wait on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generations: dict[str, int] = {}

    def generation(self, topic: str) -> int:
        """The number of times ``topic`` has been published so far."""
        with self._cond:
            return self._generations.get(topic, 0)

    def publish(self, *topics: str) -> None:
        """Wake everyone waiting on any of ``topics``."""
        with self._cond:
            for topic in topics:
                self._generations[topic] = self._generations.get(topic, 0) + 1
            self._cond.notify_all()

    def wait(self, topic: str, seen: int, timeout: float) -> bool:
        """Block until ``topic`` moves past generation ``seen`` or ``timeout`` passes.

        Returns whether it moved.
        """
        with self._cond:
            return self._cond.wait_for(
                lambda: self._generations.get(topic, 0) != seen, timeout=timeout
            )


class PgListener:
    """A daemon thread LISTENing on PostgreSQL channels, republishing on a :class:`Notifier`.

    Reconnects with back-off if the connection drops; after a reconnect it
    publishes every topic once, because notifications sent while it was away
    are lost and waiters must re-check.
    """

    def __init__(self, conninfo: str, notifier: Notifier) -> None:
        self._conninfo = conninfo
        self._notifier = notifier
        self._topics: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def listen(self, topics: Iterable[str]) -> None:
        """Make sure the thread runs and listens on ``topics`` (waits until it does)."""
        new = set(topics)
        with self._lock:
            missing = new - self._topics
            self._topics |= new
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="chronolog-listener", daemon=True
                )
                self._thread.start()
            elif missing and self._conn is not None:
                # Ask the listener thread to pick the new channels up (it polls its queue).
                self._ready.clear()
        # Wait outside the lock: the listener thread takes it to read the topics.
        self._ready.wait(10)

    def _run(self) -> None:
        import psycopg  # loads with the first PostgreSQL listener: `import chronolog` stays light

        delay = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    self._conn = conn
                    listening: set[str] = set()
                    first = True
                    while not self._stop.is_set():
                        with self._lock:
                            wanted = set(self._topics)
                        for topic in sorted(wanted - listening):
                            conn.execute(f'LISTEN "{channel_for(topic)}"')
                            listening.add(topic)
                        self._ready.set()
                        if first and delay > 0.1:
                            self._notifier.publish(*listening)  # we may have missed some
                        first = False
                        delay = 0.1
                        for note in conn.notifies(timeout=0.5, stop_after=1000):
                            topic = note.channel.removeprefix("chronolog_")
                            self._notifier.publish(topic)
            except psycopg.Error as exc:
                self._conn = None
                if self._stop.is_set():
                    return
                log.warning("chronolog: lost the LISTEN connection (%s); reconnecting", exc)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._ready.clear()

    def close(self) -> None:
        """Stop the thread (it exits within half a second)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(2)
