"""Overview, charts, login, logout and the project switcher."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ...auth import Auth
from ...errors import StoreUnavailable, Unauthorized
from ...stats import GROUP_BY
from .activity import entity_kinds
from .jobs import job_counts
from .render import HERE, error_statuses, page, pick_zone, with_query
from .session import (
    MAX_TOKENS,
    cookie_tokens,
    read_form,
    same_origin,
    session_of,
    set_project,
    set_tokens,
    valid_principals,
)
from .svgchart import build_chart

__all__ = ["WINDOWS", "router"]

log = logging.getLogger("chronolog.server")

router = APIRouter()
STATIC = HERE / "static"

WINDOWS = ("1h", "3h", "6h", "1d", "7d", "30d")
CHART_GROUPS = ("action", "event_type", "status", "actor_type")


def bucket_link(since: str, until: str, extra: dict[str, Any] | None = None) -> str:
    """The activity log filtered to one bucket."""
    return with_query(
        "/activity", {"range": "custom", "since": since, "until": until, **(extra or {})}
    )


def kind_counts(session: Any) -> list[tuple[str, dict[str | None, int]]]:
    """Entities per state for each kind with a machine, in the machine's state order."""
    out = []
    for machine in session.cl.states.machines():
        counts = session.cl.states.counts(machine.kind)
        ordered = {s: counts[s] for s in machine.states if counts.get(s)}
        ordered.update({s: n for s, n in counts.items() if s not in ordered and n})
        if ordered:
            out.append((machine.kind, ordered))
    return out


@router.get("/", include_in_schema=False)
def overview(request: Request) -> Response:
    """Counts now, entities per state, the newest activity and a chart of the last day."""
    session = session_of(request)
    zone, _ = pick_zone(request)
    cl = session.cl
    # Every count comes from the stats rollups: constant cost whatever the log's size.
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    today = cl.stats.buckets(since=midnight, bucket="1d", tz=zone).total
    series = cl.stats.buckets("1d", group_by="status", tz=zone)
    # Every status that reads as an error counts (validation_error too), as the chart
    # colours it: one definition, error_statuses().
    errors = error_statuses(series.groups)
    errors_24h = sum(b.counts.get(s, 0) for b in series.buckets for s in errors)
    chart = build_chart(series, zone, bucket_link)
    return page(
        request,
        "overview.html",
        session,
        {
            "today": today,
            "last_day": series.total,
            "errors_24h": errors_24h,
            "error_link": with_query(
                "/activity", {"range": "24h", "statuses": errors or ["error", "failed"]}
            ),
            "kinds": kind_counts(session),
            "recent": cl.events.recent(12),
            "entity_kinds": entity_kinds(session),
            "chart": chart,
            "jobs": job_counts(session),
        },
        nav="overview",
    )


@router.get("/charts", include_in_schema=False)
def charts(request: Request) -> Response:
    """Stacked bars per bucket for one window, grouped; a bucket opens the log."""
    session = session_of(request)
    zone, error = pick_zone(request)
    window = request.query_params.get("window", "1d")
    window = window if window in WINDOWS else "1d"
    group = request.query_params.get("group", "action")
    group = group if group in GROUP_BY and group in CHART_GROUPS else "action"
    series = session.cl.stats.buckets(window, group_by=group, tz=zone)
    chart = build_chart(series, zone, bucket_link)
    return page(
        request,
        "charts.html",
        session,
        {
            "window": window,
            "group": group,
            "windows": WINDOWS,
            "groups": CHART_GROUPS,
            "chart": chart,
            "error": error,
            "zones": _zones(),
        },
        nav="charts",
    )


def _zones() -> list[str]:
    from zoneinfo import available_timezones

    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """The dashboard's icon (browsers ask for it on every site, logged in or not)."""
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/login", include_in_schema=False)
def login_form(request: Request) -> Response:
    """The login form (with the projects already logged in, to add another)."""
    projects = [p.project for _, p in valid_principals(request)]
    return page(
        request,
        "login.html",
        None,
        {"next": _safe_next(request.query_params.get("next")), "projects": projects, "error": None},
    )


def _safe_next(value: str | None) -> str:
    """Only local paths: ``//evil.example`` and ``https://…`` go to the overview."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value[:2000]


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """Check the token, add it to the cookie and show its project."""
    form = await read_form(request)
    target = _safe_next(form.get("next"))
    # Several tokens (one per project) may be pasted at once, separated by spaces.
    given = list(dict.fromkeys(form.get("token", "").split()))[:MAX_TOKENS]
    error = None if same_origin(request) else "cross-site login refused"
    auth = request.app.state.chronolog.root.auth
    fresh: dict[str, str] = {}
    first = None
    for token in given if error is None else []:
        try:
            principal = auth.authenticate(token)
        except Unauthorized as exc:
            error = f"That token does not work: {exc.message}."
            break
        fresh.setdefault(principal.project, token)
        first = first or principal.project
    if error is None and not fresh:
        error = "Paste an API token."
    if error is not None or first is None:
        projects = [p.project for _, p in valid_principals(request)]
        return page(
            request,
            "login.html",
            None,
            {"next": target, "projects": projects, "error": error},
            status_code=401,
        )
    held = valid_principals(request)
    # The browser keeps a session of each token, not the token: logging out ends it.
    opened = await run_in_threadpool(_sessions, auth, list(fresh.values()))
    # One per project: a new one replaces (and ends) the browser's older one of it.
    replaced = [t for t, p in held if p.project in fresh]
    await run_in_threadpool(_close_sessions, auth, replaced)
    kept = opened + [t for t, p in held if p.project not in fresh]
    response = RedirectResponse(target, status_code=303)
    set_tokens(response, request, kept)
    set_project(response, request, first)
    return response


def _sessions(auth: Auth, tokens: list[str]) -> list[str]:
    """A session secret for each token; the token itself where the store takes no
    writes (a read-only store still lets its readers log in, without a session)."""
    secrets = []
    for token in tokens:
        try:
            secrets.append(auth.open_session(token).secret)
        except StoreUnavailable as exc:
            log.warning("chronolog: no dashboard session (%s): the cookie holds the token", exc)
            secrets.append(token)
    return secrets


def _close_sessions(auth: Auth, secrets: list[str]) -> None:
    for secret in secrets:
        try:
            auth.close_session(secret)
        except StoreUnavailable as exc:
            log.warning("chronolog: a dashboard session was not ended: %s", exc)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """End this browser's sessions and forget them (a token pasted before sessions
    existed is only forgotten: logging out never revokes a token an admin issued)."""
    response = RedirectResponse("/login", status_code=303)
    if same_origin(request):
        auth = request.app.state.chronolog.root.auth
        await run_in_threadpool(_close_sessions, auth, cookie_tokens(request))
        set_tokens(response, request, [])
    return response


@router.post("/project", include_in_schema=False)
async def switch_project(request: Request) -> Response:
    """Show another project this browser holds a token for."""
    form = await read_form(request)
    wanted = form.get("project", "")
    response = RedirectResponse("/", status_code=303)
    if same_origin(request) and wanted in {p.project for _, p in valid_principals(request)}:
        set_project(response, request, wanted)
    return response
