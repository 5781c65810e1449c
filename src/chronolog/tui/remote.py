"""``RemoteSource``: the TUI's data source over a chronolog HTTP service (``chronolog serve``).

The same verbs as :class:`~chronolog.tui.source.LocalSource`, each one request
(or a few) through :class:`~chronolog.Client`; a refusal comes back as the
same ``ChronologError`` the library would raise, so the screens cannot tell
the two apart.

Changes: one thread follows the server's feed (``GET /feed/stream``, Server-
Sent Events) from its end, and every event it receives moves the change
token. The server pushes a commit as it happens (on SQLite, within its
one-second poll of other processes' writes); while nothing happens the
stream only carries a heartbeat line every ``heartbeat`` seconds. A job's log
has no push channel: its screen reads the lines after the last one shown
once a second while the job is pending or running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from ..client import Client
from ..errors import ChronologError, ValidationError
from ..models import Actor
from .source import PartsSource

__all__ = ["RemoteSource"]

_PAGE = 100
"""Entities per request on the landing view (the server's default page size)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RemoteSource(PartsSource):
    """A :class:`~chronolog.tui.source.DataSource` over a :class:`~chronolog.Client`.

    The client (not closed here) decides the project and the rights: reading
    needs a ``read`` token, moves and jobs a ``write`` one. Writes are recorded
    as the token's user (``user/<name>``), or the token itself (``token/<id>``)
    for a token without a user: the server records enqueues, retries and
    cancels that way, and moves follow suit. ``clock`` gives the screens'
    "now" (ages); by default this machine's UTC clock. Call :meth:`close`
    when done: it stops the feed thread.
    """

    def __init__(
        self,
        client: Client,
        *,
        clock: Callable[[], datetime] = _utc_now,
        heartbeat: float = 1.0,
        reconnect: float = 1.0,
    ) -> None:
        self.client = client
        self._states, self._jobs, self._events = client.states, client.jobs, client.events
        self._page_size = _PAGE
        self._clock = clock
        self._heartbeat = heartbeat
        self._reconnect = reconnect
        self._changed = threading.Condition()
        self._token = 0
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._actor: Actor | None = None

    def now(self) -> datetime:
        return self._clock()

    @property
    def actor(self) -> Actor:
        """Who this source's writes are recorded as (asked of the server once)."""
        if self._actor is None:
            who = self.client.whoami()
            user = who.get("user")
            self._actor = Actor("user", str(user)) if user else Actor("token", str(who["token_id"]))
        return self._actor

    def _writer(self) -> Actor:
        return self.actor

    def _job_actor(self) -> dict[str, Any]:
        return {}  # the service records enqueues, retries and cancels as the token

    # -- change notification ---------------------------------------------------------

    def _bump(self) -> None:
        with self._changed:
            self._token += 1
            self._changed.notify_all()

    def changes(self) -> int:
        with self._changed:
            return self._token

    def start(self, after: str | None = None) -> None:
        """Follow the feed from ``after`` (default: its end) in a thread, if not yet doing so.

        :meth:`wait` calls it the first time, in the app's waiting thread (a request
        may be slow): only what comes next matters, not the project's history.
        """
        if self._follower is not None:
            return
        cursor = self.client.feed.end_cursor() if after is None else after
        self._follower = threading.Thread(
            target=self._follow, args=(cursor,), name="chronolog-tui-feed", daemon=True
        )
        self._follower.start()
        self._bump()  # what happened before the cursor was taken went unheard

    def wait(self, seen: int, timeout: float) -> int:
        if self._follower is None:
            self.start()
            return self.changes()
        with self._changed:
            self._changed.wait_for(lambda: self._token != seen, timeout)
            return self._token

    def _follow(self, cursor: str) -> None:
        """Move the token on every event of the feed until :meth:`close`."""
        while not self._stop.is_set():
            try:
                # follow() reconnects by itself after a dropped connection (from the last
                # cursor, so nothing is missed); what it raises is a refusal (a revoked
                # token): try again later, the screens show the error on their reads.
                for item in self.client.feed.follow(
                    cursor,
                    poll=self._heartbeat,
                    stop=self._stop,
                    reconnect=self._reconnect,
                ):
                    cursor = item.cursor
                    self._bump()
            except ValidationError:
                # The cursor is no longer valid there (another store behind the same URL):
                # start again from its end, and refresh what the screens show.
                with suppress(ChronologError):
                    cursor = self.client.feed.end_cursor()
                    self._bump()
                self._stop.wait(self._reconnect)
            except ChronologError:
                self._stop.wait(self._reconnect * 5)

    def wait_logs(self, job_id: int, timeout: float) -> bool:
        # No push channel for log lines over HTTP: the job screen reads new lines
        # (after the last id shown) once a second while the job is live.
        self._stop.wait(timeout)
        return False

    def close(self) -> None:
        """Stop following the feed (the client stays open: it belongs to the caller)."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join(self._heartbeat + 5)
            self._follower = None
