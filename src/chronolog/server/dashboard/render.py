"""Templates and the small helpers pages share: time zones, times, query strings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

__all__ = ["TZ_COOKIE", "page", "pick_zone", "query_words", "templates", "with_query"]

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


def tone(status: str | None) -> str:
    """The badge colour family of a status or state word (``…ing`` reads as busy)."""
    word = (status or "").lower()
    if word in STATUS_TONES:
        return STATUS_TONES[word]
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


templates.env.filters["when"] = _when
templates.env.filters["iso"] = _iso
templates.env.filters["pretty_json"] = _pretty_json
templates.env.globals["tone"] = tone
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
