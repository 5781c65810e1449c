"""Templates and the small helpers pages share: time zones, times, query strings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ...models import Actor
from .session import Session

__all__ = [
    "TZ_COOKIE",
    "actor_label",
    "ago",
    "error_statuses",
    "event_tone",
    "is_error",
    "job_progress",
    "liveness",
    "page",
    "pick_zone",
    "query_words",
    "templates",
    "tone",
    "with_query",
]

HERE = Path(__file__).parent
TZ_COOKIE = "chronolog_tz"
"""Set by the page script to the browser's zone, so days start at local midnight."""

templates = Jinja2Templates(directory=str(HERE / "templates"))


def pick_zone(request: Request) -> tuple[tzinfo, str | None]:
    """The zone of ``?tz=`` (else the browser's cookie, else UTC) and an error for a bad one."""
    asked = request.query_params.get("tz")
    for source, value in (("tz", asked), ("cookie", request.cookies.get(TZ_COOKIE))):
        if not value:
            continue
        zone = _zone(value)
        if zone is not None:
            return zone, None
        if source == "tz":
            return UTC, f"unknown time zone {value[:60]!r}; showing UTC"
    return UTC, None


def _zone(name: str) -> tzinfo | None:
    if name.upper() == "UTC":
        return UTC
    if len(name) > 64 or not all(c.isalnum() or c in "/_+-" for c in name) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_name(zone: tzinfo) -> str:
    """``"UTC"`` or the IANA key of a zone."""
    return "UTC" if zone is UTC else str(getattr(zone, "key", zone))


def query_words(request: Request, name: str) -> list[str]:
    """A multi-valued filter: repeated params and comma lists, blanks dropped, deduplicated."""
    words: list[str] = []
    for value in request.query_params.getlist(name):
        words.extend(w.strip() for w in value.split(","))
    return list(dict.fromkeys(w for w in words if w))


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the non-empty ``params`` as a query string (lists repeat the key)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or value == "" or value is False:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _when(value: datetime, zone: tzinfo) -> str:
    local = value.astimezone(zone)
    today = datetime.now(zone).date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    if local.year == today.year:
        return local.strftime("%b %d, %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


STATUS_TONES = {
    "success": "ok",
    "succeeded": "ok",
    "completed": "ok",
    "done": "ok",
    "error": "bad",
    "failed": "bad",
    "cancelled": "muted",
    "discarded": "bad",
    "processing": "busy",
    "running": "busy",
    "pending": "wait",
    "waiting": "muted",
    "scheduled": "wait",
    "available": "wait",
    "retryable": "warn",
    "warning": "warn",
    "missing": "warn",
    "downloaded": "ok",
    "ripped": "ok",
    "transcoded": "ok",
    "continuing": "busy",
}


ERROR_WORDS = frozenset({"error", "failed", "failure", "discarded", "crashed", "lost"})


def is_error(status: str | None) -> bool:
    """Whether a status (or state) word means something went wrong: ``error``,
    ``failed`` …, and any word ending so (``validation_error``, ``upload_failed``)."""
    word = (status or "").lower()
    return word in ERROR_WORDS or word.endswith(("_error", "-error", "_failed", "-failed"))


def error_statuses(statuses: Iterable[str]) -> list[str]:
    """The statuses among ``statuses`` that :func:`is_error` counts as errors."""
    return [s for s in statuses if s and is_error(s)]


def tone(status: str | None) -> str:
    """The badge colour family of a status or state word (``…ing`` reads as busy,
    every error word as bad)."""
    word = (status or "").lower()
    if word in STATUS_TONES:
        return STATUS_TONES[word]
    if is_error(word):
        return "bad"
    if word.endswith("ing") and len(word) > 4:
        return "busy"
    return "neutral"


def actor_label(actor: Actor | tuple[str | None, str | None, str | None] | None) -> str:
    """An actor as every interface shows it (:attr:`chronolog.Actor.label`): ``ana``,
    ``token #3``, ``worker:ripper-01`` …; a job history's (type, id, name) tuple too."""
    if actor is None:
        return ""
    if isinstance(actor, tuple):
        kind, ident, name = actor
        return "" if kind is None else Actor(kind, ident, name).label
    return actor.label


def event_tone(event: Any) -> str:
    """An event's badge colour: its status's, except that a ``success`` of an action that
    reads as cancelled or failed is not shown green (a job's ``cancelled`` event)."""
    shown = tone(event.status)
    if event.status == "success":
        acted = tone(event.action)
        if acted in ("muted", "bad"):
            return acted
    return shown


def ago(then: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest unit: ``42s``, ``5m``, ``3h``, ``2d``."""
    if then is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class Liveness:
    """How a running job's worker is doing: its last heartbeat, and whether its lease
    expired (the worker is gone or stuck: the job waits for a rescue)."""

    heartbeat: str
    stale: bool
    expired_for: str


def liveness(job: Any, now: datetime | None = None) -> Liveness | None:
    """The :class:`Liveness` of a running job (``None`` for any other state)."""
    if job.state != "running":
        return None
    current = now or datetime.now(UTC)
    beat = job.heartbeat_at or job.started_at
    expires = job.lease_expires_at
    stale = expires is not None and expires < current
    return Liveness(
        heartbeat=ago(beat, current) if beat is not None else "",
        stale=stale,
        expired_for=ago(expires, current) if stale else "",
    )


@dataclass(frozen=True, slots=True)
class Progress:
    """What a job's progress bar shows: a percentage and a word, by the job's state."""

    percent: int
    label: str
    tone: str


def job_progress(job: Any) -> Progress | None:
    """A completed job is 100 % done whatever its last heartbeat said; a failed or
    cancelled one shows where it stopped, if it said (never a made-up 0 %); a pending or
    running one shows its last report."""
    reported = None if job.progress is None else round(job.progress * 100)
    if job.state == "completed":
        return Progress(100, "done", "ok")
    if job.state in ("failed", "cancelled"):
        if not reported:
            return None
        return Progress(
            reported, f"stopped at {reported}%", "bad" if job.state == "failed" else "muted"
        )
    if reported is None:
        return None
    return Progress(reported, f"{reported}%", "busy")


templates.env.filters["when"] = _when
templates.env.filters["iso"] = _iso
templates.env.filters["pretty_json"] = _pretty_json
templates.env.globals["tone"] = tone
templates.env.globals["event_tone"] = event_tone
templates.env.globals["liveness"] = liveness
templates.env.globals["job_progress"] = job_progress
templates.env.filters["ago"] = ago
templates.env.globals["actor_label"] = actor_label
templates.env.globals["with_query"] = with_query


def page(
    request: Request,
    name: str,
    session: Session | None,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    nav: str = "",
) -> HTMLResponse:
    """Render template ``name`` with the session's project switcher and the nav state."""
    zone, _ = pick_zone(request)
    full = {
        "session": session,
        "nav": nav,
        "zone": zone,
        "zone_name": zone_name(zone),
        **context,
    }
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def known_groups(series_groups: Iterable[str]) -> list[str]:
    """Group names worth offering as filter choices (blank ones dropped)."""
    return [g for g in series_groups if g]
