"""Long-polls without a thread per request: one thread per topic wakes every waiter.

The library's :meth:`~chronolog.Chronolog.subscribe` blocks a thread until a
topic changes (the store's notifier, ``LISTEN`` on PostgreSQL, a poll of the
newest event on SQLite). Blocking on it from each waiting request would hold a
threadpool thread per follower; instead one thread per app and topic waits on
it and wakes every waiting request on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from ..core import Chronolog

__all__ = ["Waker"]

_IDLE_CHECK = 5.0
"""Seconds between the thread's checks that its loop still runs (while nothing happens)."""


class Waker:
    """One thread turning one topic of the store's notifier into asyncio wake-ups.

    Every long-poll of the app on that topic awaits :meth:`wait`; the thread
    blocks in its subscription's ``wait`` and, when the token moves, wakes them all on
    their loop. The thread stops with :meth:`stop`, or by itself once its loop
    is closed.
    """

    def __init__(self, cl: Chronolog, topic: str, *, max_wait: float = 60.0) -> None:
        self._cl = cl
        self.topic = topic
        self.max_wait = max_wait
        """Longest long-poll the server honours (a longer wait is cut to it)."""
        self._changes = cl.subscribe(topic)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.waiting = 0
        """Requests waiting now (changed on the event loop only)."""

    def generation(self) -> int:
        """The topic's current change token."""
        return self._changes.token()

    def _start(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        with self._lock:
            if self._loop is not loop or self._thread is None or not self._thread.is_alive():
                self._loop, self._event = loop, asyncio.Event()
                self._thread = threading.Thread(
                    target=self._run,
                    args=(loop,),
                    name=f"chronolog-{self.topic}-waker",
                    daemon=True,
                )
                self._thread.start()
            assert self._event is not None
            return self._event

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        changes = self._changes
        seen = changes.token()
        while not self._stopping.is_set() and not loop.is_closed() and self._loop is loop:
            # The timeout only notices a closed loop; stop() wakes it at once.
            token = changes.wait(seen, _IDLE_CHECK)
            if token != seen:
                seen = token
                try:
                    loop.call_soon_threadsafe(self._fire)
                except RuntimeError:  # the loop closed meanwhile
                    return

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    async def wait(self, seen: int, timeout: float) -> None:
        """Return once a commit moved the generation past ``seen``, or after ``timeout``."""
        event = self._start(asyncio.get_running_loop())
        # No await between this check and taking ``event``: a wake-up cannot slip in.
        if self.generation() != seen:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def stop(self) -> None:
        """Stop the thread (at app shutdown)."""
        self._stopping.set()
        self._changes.wake()  # wake the thread out of its wait
        thread = self._thread
        if thread is not None:
            thread.join(timeout=2)
