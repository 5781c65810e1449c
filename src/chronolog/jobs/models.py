"""The value types of the job queue: a job, a log line, a job's attempt error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["DEFAULT_LEASE", "Job", "JobError", "JobLog", "JobMove", "NewJob"]

DEFAULT_LEASE = timedelta(seconds=30)
"""How long a claim holds a job without a heartbeat."""


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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 strings)."""
        data = asdict(self)
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
