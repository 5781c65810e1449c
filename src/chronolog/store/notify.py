"""An in-process signal: writers publish a topic after commit, waiters wake up.

Used by the feed and by workers so a follower in the same process wakes at
once instead of polling. Other processes are reached by PostgreSQL
``LISTEN/NOTIFY`` (see the feed and jobs parts) or, on SQLite, a short poll.
"""

from __future__ import annotations

import threading

__all__ = ["Notifier"]


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
        """Block until ``topic`` moves past generation ``seen`` or ``timeout`` passes."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._generations.get(topic, 0) != seen, timeout=timeout
            )
