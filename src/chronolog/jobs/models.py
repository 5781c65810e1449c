"""The value types of the job queue: a job, a log line, a job's attempt error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["Job", "JobError", "JobLink", "JobLinks", "JobLog", "JobMove", "NewJob", "Pipeline"]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class JobError:
    """Why one attempt of a job failed."""

    attempt: int
    at: datetime
    error: str
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of work and where it stands.

    ``lease`` is the fencing token of the newest claim: a worker passes it
    back on every heartbeat, log line, complete and fail, and a stale one is
    refused with ``LeaseLost``. ``subject`` is the (kind, id) of the entity
    the job works on, if any.
    """

    id: int
    project: str
    queue: str
    kind: str
    payload: dict[str, Any] | None
    state: str
    priority: int
    run_at: datetime
    attempt: int
    max_attempts: int
    errors: tuple[JobError, ...]
    unique_key: str | None
    subject: tuple[str, str] | None
    worker: str | None
    pid: int | None
    lease: int
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    progress: float | None
    progress_text: str | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    depends_on: tuple[int, ...] = ()
    """The jobs it runs after (``enqueue(..., after=…)``); empty for most jobs."""
    on_failure: str | None = None
    """With ``depends_on``: ``cancel`` (a failed or cancelled dependency cancels it) or ``run``."""
    waiting_for: int | None = None
    """With ``depends_on``: how many of them have not finished yet (0 once released)."""
    dependents: int = 0
    """How many jobs run after it."""
    pipeline_id: int | None = None
    """The pipeline it is a stage of (:meth:`chronolog.jobs.Jobs.pipeline`)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 strings)."""
        data = asdict(self)
        data["depends_on"] = list(self.depends_on)
        for name in (
            "run_at",
            "lease_expires_at",
            "heartbeat_at",
            "created_at",
            "started_at",
            "finished_at",
        ):
            data[name] = _iso(getattr(self, name))
        data["errors"] = [{**asdict(e), "at": _iso(e.at)} for e in self.errors]
        data["subject"] = list(self.subject) if self.subject else None
        return data


@dataclass(frozen=True, slots=True)
class JobLog:
    """One line of a job's log. ``id`` grows in write order: tail with ``after=id``."""

    id: int
    job_id: int
    attempt: int
    at: datetime
    level: str
    message: str
    fields: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data["at"] = _iso(self.at)
        return data


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to enqueue with :meth:`chronolog.jobs.Jobs.enqueue_many` (mappings work too)."""

    kind: str
    payload: Mapping[str, Any] | str | None = None
    queue: str = "default"
    priority: int = 0
    run_at: datetime | None = None
    delay: timedelta | float | None = None
    max_attempts: int | None = None
    unique_key: str | None = None
    subject: tuple[str, str | int] | None = None
    after: tuple[int | str, ...] = ()
    """Jobs it runs after: ids of existing jobs, or the ``ref`` of another job of the
    same :meth:`~chronolog.jobs.Jobs.enqueue_many` batch. It waits (state ``waiting``)
    until every one of them has completed."""
    on_failure: str = "cancel"
    """What a failed or cancelled dependency does to it: ``cancel`` it, or ``run`` it anyway."""
    ref: str | None = None
    """A name other jobs of the same batch use in their ``after``."""


@dataclass(frozen=True, slots=True)
class JobMove:
    """One state change of a job: its activity event, read as a move of its history.

    ``sort_key`` numbers the job's moves 1, 2, 3 …; ``metadata`` holds the
    ``action`` (what happened: ``retrying``, ``rescued`` … see
    ``docs/jobs.md``), the ``attempt`` and any reason given; ``event_id`` is
    the event itself, ``error`` the failed attempt's error.
    """

    sort_key: int
    from_state: str | None
    to_state: str
    at: datetime
    actor: tuple[str | None, str | None, str | None]
    metadata: dict[str, Any] | None
    event_id: int | None
    action: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobLink:
    """A job at the other end of a dependency."""

    id: int
    kind: str
    state: str
    queue: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class JobLinks:
    """A job's dependencies both ways: the jobs it runs ``after``, and its ``dependents``."""

    job_id: int
    after: tuple[JobLink, ...]
    dependents: tuple[JobLink, ...]
    on_failure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "job_id": self.job_id,
            "after": [a.to_dict() for a in self.after],
            "dependents": [d.to_dict() for d in self.dependents],
            "on_failure": self.on_failure,
        }


_PIPELINE_ORDER = ("failed", "cancelled", "running", "pending", "waiting")


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Stages of work on one subject, each job running after the ones before it.

    ``jobs`` are its stages in the order they were given (by id).
    """

    id: int
    project: str
    name: str
    subject: tuple[str, str] | None
    created_at: datetime
    jobs: tuple[Job, ...]

    @property
    def state(self) -> str:
        """Where the pipeline stands: ``failed`` or ``cancelled`` if a stage is, else
        ``running``, ``pending`` or ``waiting`` while a stage is, else ``completed``."""
        states = {j.state for j in self.jobs}
        for state in _PIPELINE_ORDER:
            if state in states:
                return state
        return "completed"

    @property
    def done(self) -> int:
        """How many stages completed."""
        return sum(1 for j in self.jobs if j.state == "completed")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (its jobs included)."""
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "subject": list(self.subject) if self.subject else None,
            "created_at": _iso(self.created_at),
            "state": self.state,
            "done": self.done,
            "jobs": [j.to_dict() for j in self.jobs],
        }
