"""The value types of the job queue: a job, a log line, a job's attempt error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ..models import Actor

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_MAX_ATTEMPTS",
    "HTTP_CLAIM_MOST",
    "Job",
    "JobError",
    "JobLink",
    "JobLinks",
    "JobLog",
    "JobMove",
    "NewJob",
    "Pipeline",
    "QueueInfo",
    "Rate",
    "WorkerInfo",
]

DEFAULT_LEASE = timedelta(seconds=30)
"""How long a claim holds a job without a heartbeat."""

DEFAULT_MAX_ATTEMPTS = 3
"""How many attempts a job gets unless its enqueue says otherwise."""

CLAIM_MOST = 10_000
"""The most jobs one claim takes from the library."""

HTTP_CLAIM_MOST = 100
"""The most jobs one claim takes over HTTP (the service's limit): a remote worker's
claims ask for no more, whatever its concurrency and prefetch."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class JobError:
    """Why one attempt of a job failed."""

    attempt: int
    at: datetime
    error: str
    worker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (within :meth:`Job.to_dict`)."""
        return {
            "attempt": self.attempt,
            "at": _iso(self.at),
            "error": self.error,
            "worker": self.worker,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobError:
        """The error from its JSON form (within :meth:`Job.to_dict`)."""
        return cls(
            attempt=int(data["attempt"]),
            at=datetime.fromisoformat(data["at"]),
            error=data["error"],
            worker=data.get("worker"),
        )


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
        data["errors"] = [e.to_dict() for e in self.errors]
        data["subject"] = list(self.subject) if self.subject else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        """The job from :meth:`to_dict`: the one JSON form of a job (the routes, the
        client and the CLI's ``--json``)."""
        subject = data.get("subject")
        return cls(
            id=int(data["id"]),
            project=data["project"],
            queue=data["queue"],
            kind=data["kind"],
            payload=data.get("payload"),
            state=data["state"],
            priority=int(data["priority"]),
            run_at=datetime.fromisoformat(data["run_at"]),
            attempt=int(data["attempt"]),
            max_attempts=int(data["max_attempts"]),
            errors=tuple(JobError.from_dict(e) for e in data.get("errors") or ()),
            unique_key=data.get("unique_key"),
            subject=None if not subject else (subject[0], subject[1]),
            worker=data.get("worker"),
            pid=data.get("pid"),
            lease=int(data["lease"]),
            lease_expires_at=_time(data.get("lease_expires_at")),
            heartbeat_at=_time(data.get("heartbeat_at")),
            progress=data.get("progress"),
            progress_text=data.get("progress_text"),
            result=data.get("result"),
            created_at=datetime.fromisoformat(data["created_at"]),
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            depends_on=tuple(int(i) for i in data.get("depends_on") or ()),
            on_failure=data.get("on_failure"),
            waiting_for=data.get("waiting_for"),
            dependents=int(data.get("dependents") or 0),
            pipeline_id=data.get("pipeline_id"),
        )


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobLog:
        """The line from :meth:`to_dict`."""
        return cls(
            id=int(data["id"]),
            job_id=int(data["job_id"]),
            attempt=int(data["attempt"]),
            at=datetime.fromisoformat(data["at"]),
            level=data["level"],
            message=data["message"],
            fields=data.get("fields"),
        )


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
    actor: tuple[str | None, str | None, str | None] = field(
        metadata={"json": Actor | None}  # {"type", "id", "name"} in its JSON form
    )
    metadata: dict[str, Any] | None
    event_id: int | None
    action: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the actor as ``{"type", "id", "name"}`` or ``null``)."""
        kind, ident, name = self.actor
        return {
            "sort_key": self.sort_key,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "at": _iso(self.at),
            "actor": None if kind is None else {"type": kind, "id": ident, "name": name},
            "metadata": self.metadata,
            "event_id": self.event_id,
            "action": self.action,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobMove:
        """The move from :meth:`to_dict`."""
        actor = data.get("actor") or {}
        return cls(
            sort_key=int(data["sort_key"]),
            from_state=data.get("from_state"),
            to_state=data["to_state"],
            at=datetime.fromisoformat(data["at"]),
            actor=(actor.get("type"), actor.get("id"), actor.get("name")),
            metadata=data.get("metadata"),
            event_id=data.get("event_id"),
            action=data.get("action"),
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """A queue's rate limit in its JSON form: at most ``limit`` job starts per window of
    ``seconds`` (:attr:`QueueInfo.rate` holds it as the pair ``(limit, seconds)``)."""

    limit: int
    seconds: float


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue: its jobs by state, whether it is paused, and its limits.

    ``rate`` is ``(N, seconds)``: at most N jobs started per window of that
    many seconds. ``concurrency``: at most that many running at once, across
    every worker and host.
    """

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    paused: bool = False
    concurrency: int | None = None
    rate: tuple[int, float] | None = field(default=None, metadata={"json": Rate | None})

    @property
    def running(self) -> int:
        """Jobs of the queue running now."""
        return self.counts.get("running", 0)

    @property
    def pending(self) -> int:
        """Jobs of the queue waiting to run."""
        return self.counts.get("pending", 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``rate`` as ``{"limit": N, "seconds": s}`` or null)."""
        return {
            "name": self.name,
            "counts": dict(self.counts),
            "paused": self.paused,
            "concurrency": self.concurrency,
            "rate": None if self.rate is None else {"limit": self.rate[0], "seconds": self.rate[1]},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueInfo:
        """The queue from :meth:`to_dict`."""
        rate = data.get("rate")
        return cls(
            name=data["name"],
            counts={str(k): int(v) for k, v in data["counts"].items()},
            paused=bool(data["paused"]),
            concurrency=data.get("concurrency"),
            rate=None if rate is None else (int(rate["limit"]), float(rate["seconds"])),
        )


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerInfo:
        """The worker from :meth:`to_dict`."""
        return cls(
            id=data["id"],
            name=data["name"],
            host=data["host"],
            pid=data.get("pid"),
            queues=None if data.get("queues") is None else tuple(data["queues"]),
            kinds=None if data.get("kinds") is None else tuple(data["kinds"]),
            concurrency=int(data["concurrency"]),
            remote=bool(data["remote"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            heartbeat_at=datetime.fromisoformat(data["heartbeat_at"]),
            heartbeat_age=float(data["heartbeat_age"]),
            stale=bool(data["stale"]),
            running=tuple(int(i) for i in data["running"]),
        )


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobLinks:
        """The links from :meth:`to_dict`."""
        return cls(
            job_id=int(data["job_id"]),
            after=tuple(JobLink(**a) for a in data["after"]),
            dependents=tuple(JobLink(**d) for d in data["dependents"]),
            on_failure=data.get("on_failure"),
        )


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

    json_properties: ClassVar[tuple[str, ...]] = ("state", "done")
    """The properties :meth:`to_dict` adds to the fields."""

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
            "jobs": [j.to_dict() for j in self.jobs],
            "state": self.state,
            "done": self.done,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pipeline:
        """The pipeline from :meth:`to_dict`."""
        subject = data.get("subject")
        return cls(
            id=int(data["id"]),
            project=data["project"],
            name=data["name"],
            subject=None if not subject else (subject[0], subject[1]),
            created_at=datetime.fromisoformat(data["created_at"]),
            jobs=tuple(Job.from_dict(j) for j in data["jobs"]),
        )
