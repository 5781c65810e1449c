"""Long-polls a stopping worker can cut short (a remote worker's waits).

A remote worker waits for work in a claim long-poll (``POST /jobs/claim``
with ``wait_seconds``) and for cancels in another (``POST /jobs/cancelled``).
httpx cannot cancel a request from another thread, so each kind of long-poll
is a :class:`LongPoll` with connections of its own: an ``httpx.Client`` that
carries only that long-poll's requests, each with httpx's ``trace``
extension, which reports every new connection's network stream, so the
long-poll knows all of its sockets. :meth:`LongPoll.interrupt` shuts them
down: the blocked read returns at once, the request fails, and
:meth:`Wait.send` raises :class:`Interrupted` instead. An interrupt that
comes while nothing waits is kept for the next wait, which ends at once (a
worker stopped just before it began to wait). The server sees the
connection close and ends its side of the wait (a claim gives back jobs it
took for a caller that went away).

The server-side long-poll is unchanged: one request holds the whole wait.
Only a ``Client`` built with an ``httpx.Client`` of the caller's (``http=``:
a proxy, TLS settings, a test transport) cannot have connections made like
it; there a long-poll waits in slices of at most :data:`SLICE` seconds (each
still a long-poll on the server), and an interrupt ends the wait at the
next slice.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import httpx

__all__ = ["SLICE", "Interrupted", "LongPoll", "Wait"]

SLICE = 1.0
"""The longest wait of one request on a borrowed ``httpx.Client`` (whose connections
cannot be cut): how long an interrupt may take to be seen there."""

T = TypeVar("T")


class Interrupted(Exception):
    """The long-poll was cut short by :meth:`LongPoll.interrupt` (a worker stopping)."""


class Wait:
    """One wait on a :class:`LongPoll`: the requests that make it (one, or a slice each),
    cut together by an interrupt (see :meth:`LongPoll.waiting`)."""

    def __init__(self, lane: LongPoll, http: httpx.Client | None) -> None:
        self._lane = lane
        self._http = http
        self.cut = False
        """Set by an interrupt: its request under way is cut, its next one refused."""

    def send(self, send: Callable[[httpx.Client | None, Mapping[str, Any] | None], T]) -> T:
        """Send one request of the wait: ``send(http, extensions)`` makes it through
        ``http`` (``None``: the caller's own client) with these request extensions.
        Raises :class:`Interrupted` when the wait was cut before or during it (unless
        its answer came all the same)."""
        if self.cut:
            raise Interrupted
        if self._http is None:
            return send(None, None)  # sliced: an interrupt is seen before the next slice
        try:
            return send(self._http, self._lane.extensions)
        except Exception:
            if not self.cut:
                raise
        raise Interrupted


class LongPoll:
    """One kind of long-poll, on connections that :meth:`interrupt` can cut.

    ``make`` builds the ``httpx.Client`` its requests go through (called on
    first use); ``None``: the requests share the caller's client and wait
    in slices (see the module docstring).
    """

    def __init__(self, make: Callable[[], httpx.Client] | None) -> None:
        self._make = make
        self._http: httpx.Client | None = None
        # Re-entrant: interrupt() may run in a signal handler on the thread that
        # holds the lock (SIGTERM while that thread registers a new connection).
        self._lock = threading.RLock()
        self._sockets: set[socket.socket] = set()
        self._waits: set[Wait] = set()
        self._pending = False
        """An interrupt came while nothing waited: the next wait ends at once."""
        self._closed = False
        self._current = threading.local()
        """The wait the calling thread is in (for :meth:`_trace`)."""
        self.extensions: Mapping[str, Any] = {"trace": self._trace}
        """The request extensions of its requests: httpx reports each new connection."""

    @property
    def sliced(self) -> bool:
        """Whether a wait is cut into requests of :data:`SLICE` seconds (a borrowed client)."""
        return self._make is None

    def longest(self, wait: float) -> float:
        """How long one request may wait on the server, of ``wait`` seconds wanted."""
        return min(wait, SLICE) if self.sliced else wait

    @contextmanager
    def waiting(self) -> Iterator[Wait]:
        """One wait, made of one request or more (:meth:`Wait.send`); raises
        :class:`Interrupted` at once when an interrupt came while nothing waited."""
        with self._lock:
            if self._pending:
                self._pending = False
                raise Interrupted
            if self._make is not None and self._http is None and not self._closed:
                self._http = self._make()
            wait = Wait(self, self._http)
            self._waits.add(wait)
        self._current.wait = wait
        try:
            yield wait
        finally:
            self._current.wait = None
            with self._lock:
                self._waits.discard(wait)

    def interrupt(self) -> None:
        """Cut every wait under way (their requests raise :class:`Interrupted`), or else
        the next one (it raises at once). Safe from any thread and from a signal handler."""
        with self._lock:
            for wait in self._waits:
                wait.cut = True
            if not self._waits:
                self._pending = True
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)

    def close(self) -> None:
        """Cut the waits under way and close the connections (the client closes)."""
        self.interrupt()
        with self._lock:
            http, self._http, self._closed = self._http, None, True
            self._sockets.clear()
        if http is not None:
            http.close()

    def _trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpx's ``trace`` extension: learn each new connection's socket."""
        if not event.endswith(".complete"):
            return
        stream = info.get("return_value")
        get = getattr(stream, "get_extra_info", None)
        sock = get("socket") if get is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            # Forget the sockets of connections closed since (a closed socket has no fd).
            self._sockets = {s for s in self._sockets if s.fileno() != -1}
            self._sockets.add(sock)
            wait = getattr(self._current, "wait", None)
            late = wait is not None and wait.cut
        if late:  # interrupted while this connection was being made
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    """Shut a socket down both ways: a read blocked on it in another thread returns."""
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
