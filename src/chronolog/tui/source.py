"""What the screens read and write: a small data-source interface and its local implementation.

Screens never touch :class:`~chronolog.Chronolog` directly; they call a
:class:`DataSource`. :class:`LocalSource` serves one from an open store;
:class:`~chronolog.tui.remote.RemoteSource` serves the same verbs over the
HTTP service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from ..changes import Subscription
from ..core import Chronolog
from ..errors import Conflict, InvalidTransition, NotFound
from ..events import Events
from ..jobs import Job, JobLog, Jobs, Pipeline, QueueInfo, Schedule, WorkerInfo
from ..models import Actor, Event, Page
from ..query import EntityQuery, EventQuery, JobQuery
from ..states import Entity, Machine, States, Transition

if TYPE_CHECKING:
    from ..client import RemoteEvents, RemoteJobs, RemoteStates

__all__ = [
    "USER",
    "DataSource",
    "LocalSource",
    "PartsSource",
    "create_entity",
    "first_pages",
]

USER = Actor("user", "tui", "TUI")
"""Who the TUI's writes are recorded as."""

_LIST_PAGES = 4
"""At most this many pages of entities on the landing view (4 times the page size)."""


class DataSource(Protocol):
    """Everything the TUI reads and writes. Every method may raise ``ChronologError``."""

    def now(self) -> datetime:
        """The store's clock (screens show ages against it)."""
        ...

    def entities(self, *, show_all: bool) -> list[Entity]:
        """Active entities (or all), newest move first."""
        ...

    def machines(self) -> dict[str, Machine]:
        """The state machine of every kind that has one."""
        ...

    def entity(self, kind: str, id: str) -> Entity:
        """One entity."""
        ...

    def history(self, kind: str, id: str) -> list[Transition]:
        """An entity's moves, oldest first."""
        ...

    def children(self, kind: str, id: str) -> list[Entity]:
        """An entity's children."""
        ...

    def jobs_of(self, kind: str, id: str) -> list[Job]:
        """The jobs whose subject is this entity, newest first."""
        ...

    def job(self, job_id: int) -> Job:
        """One job."""
        ...

    def job_logs(self, job_id: int, after: int) -> list[JobLog]:
        """A job's log lines after line ``after``, oldest first."""
        ...

    def pipeline_of(self, job_id: int) -> Pipeline | None:
        """The pipeline a job is a stage of, or None."""
        ...

    def create(
        self,
        kind: str,
        id: str,
        *,
        title: str | None,
        parent: tuple[str, str] | None,
        attributes: Mapping[str, Any] | None,
    ) -> Entity:
        """A new entity, in its machine's initial state (``Conflict`` if it exists)."""
        ...

    def move(self, kind: str, id: str, to: str, expected_from: str | None) -> Transition:
        """Move an entity to ``to``."""
        ...

    def enqueue(self, job_kind: str, subject: Entity) -> Job:
        """Enqueue a stage job (queue = stage) about ``subject``."""
        ...

    def retry(self, job_id: int) -> Job:
        """Send a failed or cancelled job back to pending."""
        ...

    def cancel(self, job_id: int) -> Job:
        """Cancel a pending or running job."""
        ...

    def events(self, query: EventQuery, limit: int) -> list[Event]:
        """The newest events matching ``query``."""
        ...

    def changes(self) -> int:
        """A token that moves whenever something may have changed (see :meth:`wait`)."""
        ...

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the token moves past ``seen`` or ``timeout`` passes; return it."""
        ...

    def queues(self) -> list[QueueInfo]:
        """Every queue: counts by state, paused, limits."""
        ...

    def workers(self) -> list[WorkerInfo]:
        """The registered workers."""
        ...

    def pause(self, queue: str) -> QueueInfo:
        """Pause a queue (as the source's writer)."""
        ...

    def resume(self, queue: str) -> QueueInfo:
        """Resume a queue."""
        ...

    def wait_logs(self, job_id: int, timeout: float) -> bool:
        """Block until ``job_id`` may have new log lines (``True``) or ``timeout`` passes."""
        ...

    def schedules(self) -> list[Schedule]:
        """Every schedule of the project, by name."""
        ...

    def pause_schedule(self, name: str) -> Schedule:
        """Stop firing the schedule ``name`` (as the source's writer)."""
        ...

    def resume_schedule(self, name: str) -> Schedule:
        """Fire the schedule ``name`` again."""
        ...

    def remove_schedule(self, name: str) -> None:
        """Delete the schedule ``name`` (its jobs stay)."""
        ...


def first_pages(read: Callable[..., Page[Entity]], limit: int) -> list[Entity]:
    """The landing view's entities: at most ``_LIST_PAGES`` pages of ``read(limit, cursor)``."""
    items: list[Entity] = []
    cursor = None
    for _ in range(_LIST_PAGES):
        page = read(limit=limit, cursor=cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return items


def create_entity(
    states: States | RemoteStates,
    kind: str,
    id: str,
    *,
    title: str | None,
    parent: tuple[str, str] | None,
    attributes: Mapping[str, Any] | None,
    actor: Actor,
) -> Entity:
    """A new entity in its machine's initial state, or ``Conflict`` if it exists (both sources)."""
    machine = states.machine(kind)
    if machine is not None and machine.initial is not None:
        # Entering the initial state records the creation in the history, and
        # only an entity that does not exist yet may make that move.
        try:
            states.transition(kind, id, machine.initial, title=title, parent=parent, actor=actor)
        except InvalidTransition:
            raise Conflict(f"{kind}/{id} already exists") from None
    else:
        try:
            states.get(kind, id)
        except NotFound:
            pass
        else:
            raise Conflict(f"{kind}/{id} already exists")
        states.upsert(kind, id, title=title, parent=parent)
    if attributes:
        return states.upsert(kind, id, attributes=attributes)
    return states.get(kind, id)


class PartsSource:
    """The verbs both sources share, over three parts with the library's signatures.

    :class:`LocalSource` hands it the store's own ``states``, ``jobs`` and
    ``events``; :class:`~chronolog.tui.remote.RemoteSource` the client's
    mirrors of them. What differs is who writes: :meth:`_writer` (moves and
    creations) and :meth:`_job_actor` (keyword arguments of the job verbs:
    enqueue, retry, cancel, and the queue and schedule controls; the HTTP
    service records the token by itself). Schedules are ``jobs.schedules``.
    """

    _states: States | RemoteStates
    _jobs: Jobs | RemoteJobs
    _events: Events | RemoteEvents
    _page_size: int

    def _writer(self) -> Actor:
        return USER

    def _job_actor(self) -> dict[str, Any]:
        return {"actor": USER}

    # -- reading ---------------------------------------------------------------------

    def entities(self, *, show_all: bool) -> list[Entity]:
        query = EntityQuery(active=None if show_all else True)
        return first_pages(partial(self._states.list, query), self._page_size)

    def machines(self) -> dict[str, Machine]:
        return {m.kind: m for m in self._states.machines()}

    def entity(self, kind: str, id: str) -> Entity:
        return self._states.get(kind, id)

    def history(self, kind: str, id: str) -> list[Transition]:
        return self._states.history(kind, id)

    def children(self, kind: str, id: str) -> list[Entity]:
        return self._states.children(kind, id)

    def jobs_of(self, kind: str, id: str) -> list[Job]:
        return list(self._jobs.list(JobQuery(subject=(kind, id)), limit=100).items)

    def job(self, job_id: int) -> Job:
        return self._jobs.get(job_id)

    def job_logs(self, job_id: int, after: int) -> list[JobLog]:
        return self._jobs.logs(job_id, after=after)

    def pipeline_of(self, job_id: int) -> Pipeline | None:
        return self._jobs.pipeline_of(job_id)

    def events(self, query: EventQuery, limit: int) -> list[Event]:
        page = self._events.query(query, limit=limit, with_total=False)
        return list(page.items)

    def queues(self) -> list[QueueInfo]:
        return self._jobs.queues()

    def workers(self) -> list[WorkerInfo]:
        return self._jobs.workers()

    def pause(self, queue: str) -> QueueInfo:
        return self._jobs.pause(queue, **self._job_actor())

    def resume(self, queue: str) -> QueueInfo:
        return self._jobs.resume(queue, **self._job_actor())

    def schedules(self) -> list[Schedule]:
        return self._jobs.schedules.list()

    def pause_schedule(self, name: str) -> Schedule:
        return self._jobs.schedules.pause(name, **self._job_actor())

    def resume_schedule(self, name: str) -> Schedule:
        return self._jobs.schedules.resume(name, **self._job_actor())

    def remove_schedule(self, name: str) -> None:
        self._jobs.schedules.remove(name, **self._job_actor())

    # -- writing ---------------------------------------------------------------------

    def create(
        self,
        kind: str,
        id: str,
        *,
        title: str | None,
        parent: tuple[str, str] | None,
        attributes: Mapping[str, Any] | None,
    ) -> Entity:
        return create_entity(
            self._states,
            kind,
            id,
            title=title,
            parent=parent,
            attributes=attributes,
            actor=self._writer(),
        )

    def move(self, kind: str, id: str, to: str, expected_from: str | None) -> Transition:
        return self._states.transition(
            kind, id, to, actor=self._writer(), expected_from=expected_from
        )

    def enqueue(self, job_kind: str, subject: Entity) -> Job:
        payload = {"kind": subject.kind, "id": subject.id, "title": subject.title}
        return self._jobs.enqueue(
            job_kind,
            payload,
            queue=job_kind,
            subject=(subject.kind, subject.id),
            **self._job_actor(),
        )

    def retry(self, job_id: int) -> Job:
        return self._jobs.retry(job_id, **self._job_actor())

    def cancel(self, job_id: int) -> Job:
        return self._jobs.cancel(job_id, **self._job_actor())


class LocalSource(PartsSource):
    """A :class:`DataSource` over an open :class:`~chronolog.Chronolog` (not closed here).

    Changes: writers publish "events" after every commit (moves and job state
    changes append events). On PostgreSQL other processes' commits arrive by
    ``LISTEN/NOTIFY``; SQLite has no cross-process signal, so once per quiet
    ``poll`` seconds one indexed query reads the newest event id.
    """

    def __init__(self, cl: Chronolog, *, poll: float = 2.0) -> None:
        self.cl = cl
        self._states, self._jobs, self._events = cl.states, cl.jobs, cl.events
        self._page_size = cl.scope.limits.page_size
        # The library's one wait for changes (on SQLite it reads the newest event once
        # per quiet ``poll`` seconds to see other processes' writes).
        self._changes = cl.subscribe("events", poll=poll)
        self._log_changes: dict[int, Subscription] = {}

    def now(self) -> datetime:
        return self.cl.scope.clock()

    # -- change notification ------------------------------------------------------------

    def changes(self) -> int:
        return self._changes.token()

    def wait(self, seen: int, timeout: float) -> int:
        return self._changes.wait(seen, timeout)

    def wait_logs(self, job_id: int, timeout: float) -> bool:
        # Log appends publish only in their own process; elsewhere the tail polls.
        changes = self._log_changes.get(job_id)
        if changes is None:
            changes = self._log_changes[job_id] = self.cl.subscribe(f"job_logs:{job_id}")
        seen = changes.token()
        return changes.wait(seen, timeout) != seen
