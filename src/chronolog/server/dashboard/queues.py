"""Queues and workers: each queue's counts, pause and resume, limits, bulk retry / cancel
(with a confirmation step), and the worker registry with heartbeat ages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ...errors import ChronologError, NotFound
from ...query import JobQuery
from ...store.schema.jobs import JOB_STATES
from ..deps import principal_actor
from .render import page
from .session import Session, read_form, same_origin, session_of

__all__ = ["BULK", "router"]

router = APIRouter()

BULK = {
    "retry": ("failed", "cancelled"),
    "cancel": ("pending", "running"),
}
"""The bulk verbs of a queue and the states each moves."""

_DONE = {"paused", "resumed", "limited", "retried", "cancelled"}


@router.get("/queues", include_in_schema=False)
def queues(request: Request) -> Response:
    """Every queue: its jobs by state, paused or not, its limits, and the actions."""
    session = session_of(request)
    notice = request.query_params.get("done", "")
    moved = request.query_params.get("n", "")
    return page(
        request,
        "queues.html",
        session,
        {
            "queues": session.cl.jobs.queues(),
            "states": JOB_STATES,
            "notice": notice if notice in _DONE else "",
            "moved": moved if moved.isdigit() else "",
            "queue_param": request.query_params.get("queue", "")[:64],
        },
        nav="queues",
    )


@router.get("/workers", include_in_schema=False)
def workers(request: Request) -> Response:
    """Registered workers: host, pid, queues, running jobs, heartbeat age (stale marked)."""
    session = session_of(request)
    return page(
        request, "workers.html", session, {"workers": session.cl.jobs.workers()}, nav="workers"
    )


def _refused(request: Request, session: Session, what: str, message: str, code: int) -> Response:
    return page(
        request,
        "missing.html",
        session,
        {"what": what[:100], "message": message},
        status_code=code,
        nav="queues",
    )


async def _act(request: Request, queue: str, verb: str) -> Response:

    form = await read_form(request)
    session = await run_in_threadpool(session_of, request)
    what = f"{verb} queue {queue}"
    if not session.can_write or not same_origin(request):
        return _refused(request, session, what, f"{verb} needs the write role", 403)
    actor = principal_actor(session.principal)  # as the HTTP API records this token
    jobs = session.cl.jobs

    def work() -> Response:
        if verb == "pause":
            jobs.pause(queue, actor=actor)
            return RedirectResponse(f"/queues?done=paused&queue={queue}", status_code=303)
        if verb == "resume":
            jobs.resume(queue, actor=actor)
            return RedirectResponse(f"/queues?done=resumed&queue={queue}", status_code=303)
        if verb == "limit":
            concurrency = _number(form.get("concurrency", ""), "concurrency")
            count = _number(form.get("rate_limit", ""), "rate limit")
            per = _seconds(form.get("rate_seconds", ""))
            if (count is None) != (per is None):
                raise _Refusal("give both the rate's jobs and its seconds, or neither")
            rate = None if count is None or per is None else (count, per)
            jobs.set_limit(queue, concurrency=concurrency, rate=rate, actor=actor)
            return RedirectResponse(f"/queues?done=limited&queue={queue}", status_code=303)
        # bulk retry / cancel: a confirmation first, then the move
        bulk = form.get("verb", "")
        if bulk not in BULK:
            raise _Refusal("verb must be retry or cancel")
        states = BULK[bulk]
        if form.get("confirm") != "yes":
            info = jobs.queue(queue)
            count = sum(info.counts.get(s, 0) for s in states)
            return page(
                request,
                "queue_confirm.html",
                session,
                {"queue": queue, "verb": bulk, "states": states, "count": count},
                nav="queues",
            )
        move = jobs.retry_many if bulk == "retry" else jobs.cancel_many
        n = move(JobQuery(queues=(queue,)), actor=actor)
        done = "retried" if bulk == "retry" else "cancelled"
        return RedirectResponse(f"/queues?done={done}&n={n}&queue={queue}", status_code=303)

    try:
        return await run_in_threadpool(work)
    except _Refusal as exc:
        return _refused(request, session, what, str(exc), 400)
    except ChronologError as exc:
        code = 404 if isinstance(exc, NotFound) else 400
        return _refused(request, session, what, exc.message, code)


class _Refusal(Exception):
    """A form value the dashboard refuses before asking the library."""


def _number(raw: str, name: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise _Refusal(f"{name} must be a whole number (or empty for none)")
    return int(raw)


def _seconds(raw: str) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _Refusal("the rate's seconds must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _Refusal("the rate's seconds must be a number")
    return value


def _route(verb: str) -> Any:
    async def act(request: Request, queue: str) -> Response:
        return await _act(request, queue, verb)

    act.__doc__ = f"{verb.capitalize()} a queue (write role)."
    act.__name__ = f"queue_{verb}"
    return act


for _verb in ("pause", "resume", "limit", "bulk"):
    router.post(f"/queues/{{queue}}/{_verb}", include_in_schema=False)(_route(_verb))
