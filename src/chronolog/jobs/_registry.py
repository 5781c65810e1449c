"""A worker's entry in the registry (``cl.jobs.workers()``): registered when the worker
starts, heartbeated on a thread of its own, removed when it stops cleanly.

The registry is for people (who works, where, is it alive); a worker's jobs
are protected by their leases, not by this entry, so a registry call that
fails is logged and the worker carries on.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from ..errors import ChronologError
from .workers import REGISTRY_BEAT

if TYPE_CHECKING:
    from .worker import Worker

__all__ = ["Registration"]

log = logging.getLogger("chronolog.worker")


class Registration:
    """Register ``worker`` with its source (if the source keeps a registry) and heartbeat."""

    def __init__(self, worker: Worker, every: float = REGISTRY_BEAT) -> None:
        self._worker = worker
        self.every = every
        self.id: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _register(self) -> None:
        w = self._worker
        register: Any = getattr(w.source, "register_worker", None)
        if register is None:
            return
        queues = w.queues
        try:
            self.id = register(
                w.name,
                host=os.uname().nodename,
                pid=os.getpid(),
                queues=None
                if queues is None
                else ([queues] if isinstance(queues, str) else queues),
                kinds=w.kinds,
                concurrency=w.concurrency,
            )
        except ChronologError as exc:
            log.warning("chronolog worker %s: could not register: %s", w.name, exc)

    def start(self) -> None:
        """Register, and heartbeat every :attr:`every` seconds until :meth:`stop`."""
        self._register()
        if getattr(self._worker.source, "heartbeat_worker", None) is None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="chronolog-registry", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        source: Any = self._worker.source
        while not self._stop.wait(self.every):
            try:
                if self.id is None or not source.heartbeat_worker(self.id):
                    self._register()  # forgotten (or never registered): register again
            except ChronologError as exc:
                log.warning(
                    "chronolog worker %s: registry heartbeat failed: %s", self._worker.name, exc
                )

    def stop(self) -> None:
        """Stop heartbeating and deregister (the worker stopped cleanly)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        deregister: Any = getattr(self._worker.source, "deregister_worker", None)
        if self.id is not None and deregister is not None:
            try:
                deregister(self.id)
            except ChronologError as exc:
                log.info("chronolog worker %s: deregister: %s", self._worker.name, exc)
            self.id = None
