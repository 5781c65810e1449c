"""What keeps a server's open streams and long-polls in bounds and in step with auth.

- :class:`Slots` caps how many streams and long-polls one token holds open at once
  (``TooManyRequests``, 429, beyond it), how many one project's tokens hold together
  (an admin mints tokens at will, so a per-token cap alone does not bound a tenant),
  and how many the whole server holds.
- :class:`TokenWatch` re-checks the tokens of open streams every few seconds, in
  one read for all of them, so a revoked or expired token, or a removed member,
  loses its streams within seconds instead of keeping them for ever.
- :class:`Live` bundles them with the executor the live views read through: a
  small pool of their own, so a hundred dashboard tabs never queue behind (or in
  front of) anything else that uses the event loop's default executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..auth import Principal
from ..core import Chronolog
from ..errors import ChronologError, TooManyRequests

__all__ = ["Held", "Live", "Slots", "TokenWatch"]

log = logging.getLogger("chronolog.server")

T = TypeVar("T")

DEFAULT_PER_TOKEN = 100
"""Streams and long-polls one token may hold open at once."""
DEFAULT_PER_PROJECT = 1_000
"""Streams and long-polls one project's tokens may hold open at once, together."""
DEFAULT_TOTAL = 10_000
"""Streams and long-polls the server holds open at once, all tokens together."""
DEFAULT_RECHECK = 2.0
"""Seconds between checks of the open streams' tokens."""


class Slots:
    """Counts of open streams and long-polls, per token, per project and in all."""

    def __init__(
        self,
        per_token: int = DEFAULT_PER_TOKEN,
        total: int = DEFAULT_TOTAL,
        per_project: int = DEFAULT_PER_PROJECT,
    ) -> None:
        self.per_token = per_token
        self.per_project = per_project
        self.total = total
        self._open: dict[int, int] = {}
        self._projects: dict[int, int] = {}
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """Open streams and long-polls now."""
        return self._count

    def take(self, principal: Principal) -> Callable[[], None]:
        """Take one slot of ``principal``'s token and return what gives it back, or raise
        ``TooManyRequests`` when its token, its project or the server has none left."""
        token = principal.holder  # a dashboard session counts as its token
        project = principal.project_id
        with self._lock:
            held = self._open.get(token, 0)
            if held >= self.per_token:
                raise TooManyRequests(
                    f"this token already holds {held} open streams and long-polls, the most "
                    "one token may; close some, or use another token",
                    limit=self.per_token,
                )
            in_project = self._projects.get(project, 0)
            if in_project >= self.per_project:
                raise TooManyRequests(
                    f"this project's tokens already hold {in_project} open streams and "
                    "long-polls, the most one project may; close some",
                    limit=self.per_project,
                )
            if self._count >= self.total:
                raise TooManyRequests(
                    "the server holds as many streams and long-polls as it may; retry later",
                    limit=self.total,
                )
            self._open[token] = held + 1
            self._projects[project] = in_project + 1
            self._count += 1

        def give_back() -> None:
            with self._lock:
                _less(self._open, token)
                _less(self._projects, project)
                self._count -= 1

        return give_back


def _less(counts: dict[int, int], key: int) -> None:
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]


class TokenWatch:
    """Re-checks the tokens of open streams; :meth:`revoked` fires for one that fails."""

    def __init__(
        self, root: Chronolog, run: Callable[..., Any], every: float = DEFAULT_RECHECK
    ) -> None:
        self._root = root
        self._run = run
        self.every = every
        self._events: dict[int, asyncio.Event] = {}
        self._watchers: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    def revoked(self, token_id: int) -> asyncio.Event:
        """Set once the token no longer authenticates (while it is watched)."""
        return self._events.setdefault(token_id, asyncio.Event())

    def watch(self, principal: Principal) -> tuple[asyncio.Event, Callable[[], None]]:
        """Watch ``principal``'s token: its revoked event, and what stops the watch."""
        token = principal.token_id
        self._watchers[token] = self._watchers.get(token, 0) + 1
        event = self.revoked(token)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="chronolog-token-watch")

        def unwatch() -> None:
            left = self._watchers[token] - 1
            if left:
                self._watchers[token] = left
            else:
                del self._watchers[token]
                self._events.pop(token, None)

        return event, unwatch

    async def _loop(self) -> None:
        # Runs while something is watched: an idle server does not poll.
        while self._watchers:
            await asyncio.sleep(self.every)
            ids = list(self._watchers)
            if not ids:
                return
            try:
                valid = await self._run(self._root.auth.still_valid, ids)
            except ChronologError as exc:
                log.warning("chronolog server: cannot re-check stream tokens: %s", exc.message)
                continue
            for token in ids:
                if token not in valid and token in self._events:
                    self._events[token].set()

    async def close(self) -> None:
        """Stop the checks (at shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Held:
    """One open stream or long-poll: ``revoked`` fires when its token stops working."""

    def __init__(self, revoked: asyncio.Event, releases: list[Callable[[], None]]) -> None:
        self.revoked = revoked
        self._releases = releases

    def close(self) -> None:
        """Give back the slot and stop watching (idempotent)."""
        releases, self._releases = self._releases, []
        for release in releases:
            release()


class Live:
    """The server's live-stream machinery: slots, the token watch, and their executor."""

    def __init__(
        self,
        root: Chronolog,
        *,
        per_token: int = DEFAULT_PER_TOKEN,
        total: int = DEFAULT_TOTAL,
        per_project: int = DEFAULT_PER_PROJECT,
        recheck: float = DEFAULT_RECHECK,
        threads: int = 8,
    ) -> None:
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="chronolog-live")
        self.slots = Slots(per_token, total, per_project)
        self.watch = TokenWatch(root, self.run, recheck)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking read of a live view on the live executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    def open(self, principal: Principal) -> Held:
        """A slot and a watch for one stream or long-poll (``TooManyRequests`` when no
        slot is left); close the :class:`Held` when it ends (closing twice is fine)."""
        give_back = self.slots.take(principal)
        try:
            revoked, unwatch = self.watch.watch(principal)
        except BaseException:
            give_back()
            raise
        return Held(revoked, [unwatch, give_back])

    async def close(self) -> None:
        """Stop the watch and the executor (at shutdown)."""
        await self.watch.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
