"""Schedules: every recurring job with its next fire times, last fire, pause and resume."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ...errors import ChronologError, NotFound
from ...jobs import Schedule
from ..deps import principal_actor
from .render import page
from .session import same_origin, session_of

__all__ = ["NEXT_FIRES", "router"]

router = APIRouter()

NEXT_FIRES = 3
"""Next fire times shown per schedule."""


@router.get("/schedules", include_in_schema=False)
def schedules(request: Request) -> Response:
    """Every schedule: when it fires (the next few times), what it enqueues, its last fire."""
    session = session_of(request)
    listed = session.cl.jobs.schedules.list()
    rows: list[tuple[Schedule, list[datetime]]] = [
        (s, session.cl.jobs.schedules.next_fires(s.name, NEXT_FIRES)) for s in listed
    ]
    return page(
        request,
        "schedules.html",
        session,
        {"rows": rows, "notice": request.query_params.get("done", "")[:40]},
        nav="schedules",
    )


def _act(request: Request, name: str, verb: str) -> Response:
    session = session_of(request)
    what = f"{verb} schedule {name}"[:100]
    if not session.can_write or not same_origin(request):
        return page(
            request,
            "missing.html",
            session,
            {"what": what, "message": f"{verb} needs the write role"},
            status_code=403,
            nav="schedules",
        )
    actor = principal_actor(session.principal)  # as the HTTP API records this token
    try:
        if verb == "pause":
            session.cl.jobs.schedules.pause(name, actor=actor)
        else:
            session.cl.jobs.schedules.resume(name, actor=actor)
    except ChronologError as exc:
        return page(
            request,
            "missing.html",
            session,
            {"what": what, "message": exc.message},
            status_code=404 if isinstance(exc, NotFound) else 400,
            nav="schedules",
        )
    return RedirectResponse(f"/schedules?done={verb}d", status_code=303)


@router.post("/schedules/{name}/pause", include_in_schema=False)
def pause(request: Request, name: str) -> Response:
    """Pause a schedule (write role)."""
    return _act(request, name, "pause")


@router.post("/schedules/{name}/resume", include_in_schema=False)
def resume(request: Request, name: str) -> Response:
    """Resume a schedule (write role)."""
    return _act(request, name, "resume")
