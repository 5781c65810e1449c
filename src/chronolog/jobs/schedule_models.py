"""The value types of job schedules: a schedule and one of its fires."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["DEFAULT_MAX_CATCH_UP", "Schedule", "ScheduleFire"]

DEFAULT_MAX_CATCH_UP = 100
"""How many missed fire times ``catch_up="all"`` enqueues at most, by default."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring job: enqueue ``kind`` at every fire time of ``cron`` (in ``tz``) or ``every``.

    ``next_fire_at`` is the first fire time not fired yet (it stays in the
    past while the schedule is paused or no worker runs; the missed fire times
    then follow ``catch_up``). ``fires`` counts the jobs enqueued, ``missed``
    the fire times ``catch_up`` skipped.
    """

    name: str
    kind: str
    cron: str | None
    every: timedelta | None = field(metadata={"json": int | None})  # seconds in its JSON form
    tz: str
    payload: dict[str, Any] | None
    queue: str
    priority: int
    max_attempts: int
    catch_up: str
    max_catch_up: int
    paused: bool
    next_fire_at: datetime
    last_fire_at: datetime | None
    last_job_id: int | None
    fires: int
    missed: int
    created_at: datetime
    updated_at: datetime

    @property
    def timing(self) -> str:
        """How it recurs, as one line: ``cron 0 3 * * * (Europe/Berlin)`` or ``every 60s``."""
        if self.cron is not None:
            return f"cron {self.cron} ({self.tz})"
        assert self.every is not None
        return f"every {int(self.every.total_seconds())}s"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 UTC, ``every`` in seconds)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "cron": self.cron,
            "every": None if self.every is None else int(self.every.total_seconds()),
            "tz": self.tz,
            "payload": self.payload,
            "queue": self.queue,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
            "catch_up": self.catch_up,
            "max_catch_up": self.max_catch_up,
            "paused": self.paused,
            "next_fire_at": _iso(self.next_fire_at),
            "last_fire_at": _iso(self.last_fire_at),
            "last_job_id": self.last_job_id,
            "fires": self.fires,
            "missed": self.missed,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """The schedule from :meth:`to_dict`."""
        every = data["every"]
        last = data["last_fire_at"]
        return cls(
            name=data["name"],
            kind=data["kind"],
            cron=data["cron"],
            every=None if every is None else timedelta(seconds=every),
            tz=data["tz"],
            payload=data["payload"],
            queue=data["queue"],
            priority=data["priority"],
            max_attempts=data["max_attempts"],
            catch_up=data["catch_up"],
            max_catch_up=data["max_catch_up"],
            paused=data["paused"],
            next_fire_at=datetime.fromisoformat(data["next_fire_at"]),
            last_fire_at=None if last is None else datetime.fromisoformat(last),
            last_job_id=data["last_job_id"],
            fires=data["fires"],
            missed=data["missed"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class ScheduleFire:
    """One fire of a schedule: its fire time, the job it enqueued, who fired it and when."""

    schedule: str
    fire_at: datetime
    job_id: int | None
    fired_by: str
    fired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "schedule": self.schedule,
            "fire_at": _iso(self.fire_at),
            "job_id": self.job_id,
            "fired_by": self.fired_by,
            "fired_at": _iso(self.fired_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleFire:
        """The fire from :meth:`to_dict`."""
        return cls(
            schedule=data["schedule"],
            fire_at=datetime.fromisoformat(data["fire_at"]),
            job_id=data["job_id"],
            fired_by=data["fired_by"],
            fired_at=datetime.fromisoformat(data["fired_at"]),
        )
