"""``client.jobs.schedules``: ``cl.jobs.schedules`` over HTTP (``/api/v1/schedules``).

Same method names, arguments and value types as :class:`chronolog.jobs.Schedules`.
It fires nothing: the server fires every project's due schedules itself (a
remote worker has nothing to do for them).
"""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .jobs import Schedule, ScheduleFire
from .jobs.models import DEFAULT_MAX_ATTEMPTS
from .jobs.schedule_models import DEFAULT_MAX_CATCH_UP

if TYPE_CHECKING:
    from .client import Client

__all__ = ["RemoteSchedules"]


class RemoteSchedules:
    """``cl.jobs.schedules`` over HTTP (see :class:`chronolog.jobs.Schedules`)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _path(self, name: str, tail: str = "") -> str:
        if not isinstance(name, str):
            name = str(name)
        return f"/schedules/{quote(name, safe='')}{tail}"

    def add(
        self,
        name: str,
        kind: str,
        *,
        cron: str | None = None,
        every: timedelta | int | None = None,
        payload: dict[str, Any] | None = None,
        queue: str = "default",
        tz: str = "UTC",
        priority: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        catch_up: str = "latest",
        max_catch_up: int = DEFAULT_MAX_CATCH_UP,
    ) -> Schedule:
        """Create the schedule ``name``, or change the one of that name."""
        seconds: Any = every
        if isinstance(every, timedelta):
            whole = every.total_seconds()
            seconds = int(whole) if whole == int(whole) else whole
        body = {
            "kind": kind,
            "cron": cron,
            "every": seconds,
            "payload": payload,
            "queue": queue,
            "tz": tz,
            "priority": priority,
            "max_attempts": max_attempts,
            "catch_up": catch_up,
            "max_catch_up": max_catch_up,
        }
        return Schedule.from_dict(self._client.request("PUT", self._path(name), json=body))

    def get(self, name: str) -> Schedule:
        """The schedule ``name`` (``NotFound`` if there is none)."""
        return Schedule.from_dict(self._client.request("GET", self._path(name)))

    def list(self) -> builtins.list[Schedule]:
        """Every schedule of the project, by name."""
        body = self._client.request("GET", "/schedules")
        return [Schedule.from_dict(s) for s in body["items"]]

    def pause(self, name: str) -> Schedule:
        """Stop firing ``name``."""
        return Schedule.from_dict(self._client.request("POST", self._path(name, "/pause")))

    def resume(self, name: str) -> Schedule:
        """Fire ``name`` again (missed fire times follow its ``catch_up``)."""
        return Schedule.from_dict(self._client.request("POST", self._path(name, "/resume")))

    def remove(self, name: str) -> None:
        """Delete the schedule ``name`` (its jobs stay)."""
        self._client.request("DELETE", self._path(name))

    def next_fires(self, name: str, n: int = 5) -> builtins.list[datetime]:
        """The next ``n`` fire times of ``name`` from now (UTC)."""
        body = self._client.request("GET", self._path(name, "/next"), params={"n": n})
        return [datetime.fromisoformat(f) for f in body["fires"]]

    def fires(self, name: str, limit: int = 20) -> builtins.list[ScheduleFire]:
        """The newest fires of ``name``, newest first."""
        body = self._client.request("GET", self._path(name, "/fires"), params={"limit": limit})
        return [ScheduleFire.from_dict(f) for f in body["items"]]
