"""The worker registry (``cl.jobs.workers()``): who works, where, on what, and whether it
is still alive.

Every :class:`~chronolog.jobs.Worker` registers when it starts (name, host,
pid, queues, kinds, concurrency; a remote worker through the HTTP service),
heartbeats every :data:`REGISTRY_BEAT` seconds on a thread of its own
(:mod:`._registry`), and deregisters when it stops cleanly. A worker killed
without stopping stays listed until its heartbeat is older than
``stale_after`` (then it shows ``stale``), and is forgotten after
:data:`FORGET_AFTER`. Its jobs are rescued by their leases, not by the
registry: the registry is for people, the lease is the promise.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import _json
from .._scope import Scope
from .._time import from_micros, to_micros
from ..errors import NotFound, ValidationError
from ..store.sql import queues as qsql
from ._checks import check_int, check_word

__all__ = ["FORGET_AFTER", "REGISTRY_BEAT", "STALE_AFTER", "WorkerInfo", "WorkerRegistry"]

REGISTRY_BEAT = 10.0
"""Seconds between a worker's registry heartbeats."""
STALE_AFTER = 30.0
"""A worker whose last heartbeat is older than this many seconds shows as stale."""
FORGET_AFTER = 86_400.0
"""Seconds after its last heartbeat a stale worker is dropped from the registry."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A registered worker and where it stands.

    ``heartbeat_age``: seconds since its last heartbeat; ``stale``: older than
    the listing's ``stale_after`` (the worker was killed, hangs, or lost its
    database). ``running``: the ids of the jobs running under its name.
    """

    id: str
    name: str
    host: str
    pid: int | None
    queues: tuple[str, ...] | None
    kinds: tuple[str, ...] | None
    concurrency: int
    remote: bool
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age: float
    stale: bool
    running: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 text)."""
        return {
            "id": self.id,
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "queues": None if self.queues is None else list(self.queues),
            "kinds": None if self.kinds is None else list(self.kinds),
            "concurrency": self.concurrency,
            "remote": self.remote,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "heartbeat_at": self.heartbeat_at.isoformat().replace("+00:00", "Z"),
            "heartbeat_age": self.heartbeat_age,
            "stale": self.stale,
            "running": list(self.running),
        }


def _words(value: Sequence[str] | str | None, name: str) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ValidationError(f"{name} must name at least one (or be None)", field=name)
    return [check_word(v, name) for v in items]


def _check_worker_id(worker_id: Any) -> str:
    if not isinstance(worker_id, str) or not 1 <= len(worker_id) <= 32 or not worker_id.isalnum():
        raise ValidationError("a worker id is the text register_worker returned", field="id")
    return worker_id


class WorkerRegistry:
    """The worker registry verbs of :class:`~chronolog.jobs.Jobs`."""

    _scope: Scope

    def register_worker(
        self,
        name: str,
        *,
        host: str,
        pid: int | None = None,
        queues: Sequence[str] | str | None = None,
        kinds: Sequence[str] | str | None = None,
        concurrency: int = 1,
        remote: bool = False,
    ) -> str:
        """Add a worker to the registry; returns its id (for heartbeats and deregistering).

        Workers call this themselves when they start. Also forgets workers
        silent for longer than :data:`FORGET_AFTER`.
        """
        for value, label in ((name, "name"), (host, "host")):
            if not isinstance(value, str) or not value or len(value) > 255 or "\x00" in value:
                raise ValidationError(f"worker {label} must be 1-255 characters", field=label)
        if pid is not None:
            check_int(pid, "pid", 0, 2**31 - 1)
        check_int(concurrency, "concurrency", 1, 100_000)
        values = {
            "id": secrets.token_hex(16),
            "project_id": self._scope.project_id,
            "name": name,
            "host": host,
            "pid": pid,
            "queues": _words(queues, "queue"),
            "kinds": _words(kinds, "kind"),
            "concurrency": concurrency,
            "remote": bool(remote),
        }
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.write() as conn:
            qsql.worker_delete_older(conn, scope.project_id, now - int(FORGET_AFTER * 1_000_000))
            qsql.worker_insert(conn, {**values, "started_at": now, "heartbeat_at": now})
        return str(values["id"])

    def heartbeat_worker(self, worker_id: str) -> bool:
        """Say a registered worker is alive; False when the registry forgot it (re-register)."""
        _check_worker_id(worker_id)
        scope = self._scope
        with scope.store.write() as conn:
            return qsql.worker_touch(conn, scope.project_id, worker_id, to_micros(scope.clock()))

    def deregister_worker(self, worker_id: str) -> None:
        """Remove a worker that stopped cleanly (``NotFound`` if it is not registered)."""
        _check_worker_id(worker_id)
        scope = self._scope
        with scope.store.write() as conn:
            if not qsql.worker_delete(conn, scope.project_id, worker_id):
                raise NotFound(f"worker {worker_id} is not registered")

    def workers(self, *, stale_after: float = STALE_AFTER) -> list[WorkerInfo]:
        """Registered workers by name, with their running jobs and heartbeat age.

        A worker whose last heartbeat is older than ``stale_after`` seconds
        shows ``stale``.
        """
        if isinstance(stale_after, bool) or not isinstance(stale_after, int | float):
            raise ValidationError("stale_after must be a number of seconds", field="stale_after")
        if not 0 < stale_after <= 86_400 * 365:
            raise ValidationError("stale_after must be positive", field="stale_after")
        scope = self._scope
        now = to_micros(scope.clock())
        with scope.store.read() as conn:
            rows = qsql.worker_list(conn, scope.project_id)
            running = qsql.job_running_by_worker(conn, scope.project_id) if rows else {}
        out = []
        for r in rows:
            age = max(0.0, (now - int(r.heartbeat_at)) / 1_000_000)
            out.append(
                WorkerInfo(
                    id=r.id,
                    name=r.name,
                    host=r.host,
                    pid=r.pid,
                    queues=None if r.queues is None else tuple(_list(r.queues)),
                    kinds=None if r.kinds is None else tuple(_list(r.kinds)),
                    concurrency=int(r.concurrency),
                    remote=bool(r.remote),
                    started_at=from_micros(int(r.started_at)),
                    heartbeat_at=from_micros(int(r.heartbeat_at)),
                    heartbeat_age=round(age, 3),
                    stale=age > stale_after,
                    running=tuple(running.get(r.name, ())),
                )
            )
        return out


def _list(value: Any) -> list[str]:
    doc = _json.loads(value) if isinstance(value, str | bytes) else value
    return [str(v) for v in doc]
