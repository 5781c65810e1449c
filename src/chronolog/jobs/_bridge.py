"""The asyncio bridge: async handlers run on one shared event loop thread, each awaited
by the runner that took its job (so ``concurrency`` counts them like sync ones)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from ._context import JobContext, set_current

__all__ = ["AsyncBridge"]


async def _in_context(handler: Callable[[JobContext], Awaitable[Any]], ctx: JobContext) -> Any:
    set_current(ctx)  # the task runs in a copy of the loop thread's context: set it here
    return await handler(ctx)


class AsyncBridge:
    """One event loop on a thread of its own, started the first time it is needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="chronolog-async", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    def run(self, handler: Callable[[JobContext], Awaitable[Any]], ctx: JobContext) -> Any:
        """Run ``handler(ctx)`` on the loop and wait for it; ``ctx.stop`` cancels it."""
        ctx.future = asyncio.run_coroutine_threadsafe(_in_context(handler, ctx), self._event_loop())
        if ctx.reason is not None:  # stopped before the task existed
            ctx.future.cancel()
        return ctx.future.result()

    def close(self) -> None:
        """Stop the loop (tasks still running are abandoned with it)."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            loop.close()
