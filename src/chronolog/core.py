"""``Chronolog``: the one entry object. Opens (and migrates) a store, hands out the parts."""

from __future__ import annotations

import os
from types import TracebackType

from ._scope import Limits, Scope
from ._time import Clock, system_clock
from .auth import Auth
from .changes import Subscription
from .errors import NotFound
from .events import Events
from .feed import Feed
from .jobs import Jobs
from .models import Health
from .projects import Projects, check_project_name
from .retention import Retention
from .states import States
from .stats import Stats
from .store import migrate
from .store.engine import DEFAULT_URL, Store
from .store.health import readiness
from .store.sql import projects as project_sql
from .vault import Secrets

__all__ = ["Chronolog"]


class Chronolog:
    """A chronolog store seen from one project.

    ``Chronolog("sqlite:///app.db")`` opens (creating and migrating) an SQLite
    file; ``Chronolog("postgresql://…")`` a PostgreSQL database. Without a URL
    it uses ``$CHRONOLOG_DB`` or ``sqlite:///chronolog.db``.

    The parts: :attr:`events` (the activity log), :attr:`states` (entities and
    their state history), :attr:`stats` (bucket counts), :attr:`feed`
    (gap-free, followable), :attr:`retention` (policies and purges),
    :attr:`jobs` (the job queue), :attr:`auth`, :attr:`secrets` and
    :attr:`projects`.
    :meth:`using` returns a view of another project sharing the same
    connections. Close the store with :meth:`close` or a ``with`` block.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        project: str = "default",
        migrate_schema: bool = True,
        limits: Limits | None = None,
        clock: Clock | None = None,
        echo: bool = False,
        _store: Store | None = None,
    ) -> None:
        check_project_name(project)
        self._owns_store = _store is None
        self.store = _store or Store(
            url or os.environ.get("CHRONOLOG_DB") or DEFAULT_URL, echo=echo
        )
        try:
            if self._owns_store and migrate_schema:
                migrate.upgrade(self.store)
            with self.store.read() as conn:
                row = project_sql.project_by_name(conn, project)
        except BaseException:
            if self._owns_store:
                self.store.close()
            raise
        if row is None:
            if self._owns_store:
                self.store.close()
            raise NotFound(f"project {project!r} not found; create the project first")
        self.scope = Scope(
            store=self.store,
            project=project,
            project_id=row.id,
            clock=clock or system_clock,
            limits=limits or Limits(),
        )
        self.events = Events(self.scope)
        self.jobs = Jobs(self.scope)
        self.projects = Projects(self.scope)
        self.stats = Stats(self.scope)
        self.feed = Feed(self.scope)
        self.retention = Retention(self.scope)
        self.states = States(self.scope)
        self.auth = Auth(self.scope)
        self.secrets = Secrets(self.scope)

    @property
    def project(self) -> str:
        """The project this view reads and writes."""
        return self.scope.project

    def using(self, project: str) -> Chronolog:
        """The same store seen from another project (``NotFound`` if it does not exist)."""
        return Chronolog(
            project=project,
            limits=self.scope.limits,
            clock=self.scope.clock,
            _store=self.store,
        )

    def subscribe(self, topic: str, *, poll: float | None = 2.0) -> Subscription:
        """Wait for changes of ``topic`` (``events``, ``jobs``, ``jobs_done``,
        ``job_logs:<id>``): see :class:`~chronolog.changes.Subscription`. ``poll``: on
        SQLite, how often a quiet ``events`` subscription reads the newest event to see
        other processes' writes (``None``: never)."""
        return Subscription(self.scope, topic, poll=poll)

    def ping(self) -> Health:
        """Is the store ready: it answers, holds this version's schema, takes writes."""
        checks = readiness(self.store)
        return Health(
            ready=all(reason is None for reason in checks.values()),
            database=self.store.dialect.name,
            checks=checks,
        )

    def close(self) -> None:
        """Release the store's connections (a view from :meth:`using` leaves them open)."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Chronolog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        url = self.store.url.render_as_string(hide_password=True)
        return f"Chronolog({url!r}, project={self.project!r})"
