"""Jobs: counts per queue and state, the list, a job's page with its live log, retry and cancel."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from ...errors import ChronologError, NotFound, TooManyRequests, ValidationError
from ...jobs import Job, JobLog
from ...jobs.queue import cut_log_line
from ...models import Page
from ...query import JobQuery
from ...store.schema.jobs import JOB_STATES
from ..deps import principal_actor, state_of
from .render import liveness, page, pick_zone, templates
from .session import Session, same_origin, session_of

__all__ = ["LOG_STREAM_SECONDS", "job_counts", "look_key", "router"]

router = APIRouter()

LOG_STREAM_SECONDS = 55.0
"""One log stream response lasts this long; the browser resumes after the last line id."""

LOG_STREAM_READ = 100
"""Log lines a log stream reads at a time: a slow browser holds at most these (lines are
shown cut at 8 KiB, so under a MiB), the next read waits until they are sent."""

FINISHED = frozenset({"completed", "failed", "cancelled"})


def job_counts(session: Session) -> dict[str, int] | None:
    """Jobs running and pending now, failed in the last 24 hours (whole hours);
    ``None`` for a project that has never had a job."""
    queues = session.cl.jobs.counts()
    if not queues:
        return None
    totals = {"running": 0, "pending": 0}
    for states in queues.values():
        for state in totals:
            totals[state] += states.get(state, 0)
    # Jobs that failed for good record an event with action "failed": count the rollups.
    failed = session.cl.stats.buckets("1d", event_types="job", actions="failed")
    totals["failed"] = failed.total
    return totals


def _job_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"job {raw[:40]!r} not found")
    return int(raw)


@router.get("/jobs", include_in_schema=False)
def jobs(request: Request) -> Response:
    """Jobs per queue and state, and the list filtered by queue and state, newest first."""
    session = session_of(request)
    queue = request.query_params.get("queue", "")[:100]
    state = request.query_params.get("state", "")
    state = state if state in JOB_STATES else ""
    cursor = request.query_params.get("cursor", "")[:512] or None
    counts = session.cl.jobs.counts()
    result: Page[Any] = Page(items=(), total=None, page=1, limit=50)
    error = None
    status_code = 200
    try:
        query = JobQuery(states=(state,) if state else None, queues=(queue,) if queue else None)
        result = session.cl.jobs.list(query, limit=50, cursor=cursor)
    except ValidationError as exc:
        error, status_code = exc.message, 400
    return page(
        request,
        "jobs.html",
        session,
        {
            "counts": counts,
            "states": JOB_STATES,
            "queue": queue,
            "state": state,
            "result": result,
            "error": error,
        },
        status_code=status_code,
        nav="jobs",
    )


@router.get("/jobs/{job_id}", include_in_schema=False)
def job(request: Request, job_id: str) -> Response:
    """One job: state, progress, payload, attempts and their errors, history, its log."""
    session = session_of(request)
    raw = request.query_params.get("log_before", "")
    before = int(raw) if raw.isdigit() and 0 < len(raw) <= 18 else None
    try:
        found = session.cl.jobs.get(_job_id(job_id))
        # The end of the log (or the lines before ``log_before``), bounded by bytes:
        # a page never carries a long log whole.
        logs = _shown(session.cl.jobs.log_tail(found.id, before=before, limit=LOG_PAGE_LINES))
        history = session.cl.jobs.history(found.id)
        links = (
            session.cl.jobs.dependencies(found.id) if found.depends_on or found.dependents else None
        )
        pipeline = session.cl.jobs.pipeline_get(found.pipeline_id) if found.pipeline_id else None
    except NotFound as exc:
        return page(
            request,
            "missing.html",
            session,
            {"what": f"job {job_id}"[:100], "message": exc.message},
            status_code=404,
            nav="jobs",
        )
    return page(
        request,
        "job.html",
        session,
        {
            "job": found,
            "links": links,
            "pipeline": pipeline,
            "logs": logs,
            "history": history,
            # An earlier page of the log does not follow it live.
            "finished": found.state in FINISHED or before is not None,
            "last_line": logs[-1].id if logs else 0,
            # What the page shows of the job, so that its live stream redraws a change
            # made between this render and the stream's start (a claim in that gap).
            "shown": look_key(found),
            "earlier": logs[0].id if logs and _has_earlier(session, found.id, logs[0].id) else None,
            "notice": request.query_params.get("done", "")[:40],
        },
        nav="jobs",
    )


LOG_PAGE_LINES = 500
"""Log lines a job's page shows at most (the newest, unless it pages back)."""
LOG_PAGE_BYTES = 512 * 1024
"""…and at most this much of their text."""
LOG_LINE_DISPLAY = 8 * 1024
"""Characters of one line shown (lines written before the cap may be longer)."""


def _display(line: JobLog) -> JobLog:
    """The line cut to the longest a log line may be (older lines predate that cap)."""
    if len(line.message) <= LOG_LINE_DISPLAY:
        return line
    return replace(line, message=cut_log_line(line.message, LOG_LINE_DISPLAY))


def _shown(lines: list[JobLog]) -> list[JobLog]:
    """The newest of ``lines`` that fit in :data:`LOG_PAGE_BYTES`, each :func:`_display`ed."""
    kept: list[JobLog] = []
    size = 0
    for line in reversed(lines):
        line = _display(line)
        size += len(line.message) + 100
        if kept and size > LOG_PAGE_BYTES:
            break
        kept.append(line)
    return kept[::-1]


def _has_earlier(session: Session, job_id: int, first: int) -> bool:
    return bool(session.cl.jobs.log_tail(job_id, before=first, limit=1))


@router.get("/jobs/{job_id}/log", include_in_schema=False)
async def job_log_stream(request: Request, job_id: str) -> Response:
    """The job's new log lines as Server-Sent Events (``event: line``; id = line id);
    ``event: state`` when the job's state or progress changes."""
    # The live views read on their own executor (never the loop's default one), wait on
    # the app's waker (no thread per tab), and hold one of the token's stream slots.
    live = state_of(request).live
    session = await live.run(session_of, request)
    try:
        ident = _job_id(job_id)
        raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        after = int(raw) if raw.isdigit() and len(raw) <= 18 else 0
        shown = request.query_params.get("shown", "")[:64]
        job = await live.run(session.cl.jobs.get, ident)
    except NotFound as exc:
        return Response(exc.message, status_code=404, media_type="text/plain")
    try:
        held = live.open(session.principal)
    except TooManyRequests as exc:
        return Response(exc.message, status_code=429, media_type="text/plain")
    line = templates.env.get_template("_log_line.html")
    zone, _ = pick_zone(request)
    waker = request.app.state.feed_waker
    deadline = time.monotonic() + LOG_STREAM_SECONDS

    async def stream() -> AsyncIterator[str]:
        try:
            async for part in _log_events(job, after):
                yield part
        finally:
            held.close()

    async def _log_events(job: Job, after: int) -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        # Compared with what the page rendered (``shown``), not with the job as it is
        # now: a change between the render and this request is sent, not lost.
        seen = shown or look_key(job)
        while time.monotonic() < deadline:
            if held.revoked.is_set():
                yield "event: end\ndata: logged out\n\n"
                return
            generation = waker.generation()
            lines = await live.run(session.cl.jobs.logs, ident, after=after, limit=LOG_STREAM_READ)
            for item in map(_display, lines):
                html = line.render(line=item).strip()
                data = "".join(f"data: {part}\n" for part in html.splitlines())
                yield f"id: {item.id}\nevent: line\n{data}\n"
                after = item.id
            now = await live.run(session.cl.jobs.get, ident)
            state = look_key(now)
            if state != seen:
                seen = state
                history = await live.run(session.cl.jobs.history, ident)
                body = {"state": now.state, **_fragments(now, history, session, zone)}
                yield f"event: state\ndata: {orjson.dumps(body).decode()}\n\n"
            if now.state in FINISHED and not lines:
                yield "event: end\ndata: end\n\n"
                return
            if len(lines) < LOG_STREAM_READ:
                # Log lines write no event; state changes do. Poll the log at 0.5 s.
                await waker.wait(generation, 0.5)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def look_key(job: Job) -> str:
    """What the job page shows of a job, as a short key: a change of any of it (state,
    attempt, progress, worker, heartbeat, staleness, errors) redraws the page's parts."""
    live = liveness(job)
    shown = (
        job.state,
        job.attempt,
        job.progress,
        job.progress_text,
        job.worker,
        job.heartbeat_at,
        live.stale if live else None,
        len(job.errors),
    )
    return hashlib.blake2b(repr(shown).encode(), digest_size=8).hexdigest()


def _fragments(job: Job, history: list[Any], session: Session, zone: Any) -> dict[str, str]:
    """The job page's live parts, rendered as the page renders them: the state badge with
    its buttons, the facts line (attempt, heartbeat, progress), the attempts and history."""
    context = {"job": job, "history": history, "session": session, "zone": zone}
    return {
        part: templates.env.get_template(f"_job_{part}.html").render(context)
        for part in ("status", "facts", "side")
    }


def _act(request: Request, job_id: str, verb: str) -> Response:
    session = session_of(request)
    if not session.can_write or not same_origin(request):
        return page(
            request,
            "missing.html",
            session,
            {"what": f"{verb} job {job_id}"[:100], "message": f"{verb} needs the write role"},
            status_code=403,
            nav="jobs",
        )
    actor = principal_actor(session.principal)  # as the HTTP API records this token
    try:
        ident = _job_id(job_id)
        if verb == "retry":
            session.cl.jobs.retry(ident, actor=actor)
        else:
            session.cl.jobs.cancel(ident, actor=actor)
    except ChronologError as exc:
        status = 404 if isinstance(exc, NotFound) else 409
        return page(
            request,
            "missing.html",
            session,
            {"what": f"{verb} job {job_id}"[:100], "message": exc.message},
            status_code=status,
            nav="jobs",
        )
    return RedirectResponse(f"/jobs/{ident}?done={verb}", status_code=303)


@router.post("/jobs/{job_id}/retry", include_in_schema=False)
def retry(request: Request, job_id: str) -> Response:
    """Put a failed or cancelled job back to pending (write role)."""
    return _act(request, job_id, "retry")


@router.post("/jobs/{job_id}/cancel", include_in_schema=False)
def cancel(request: Request, job_id: str) -> Response:
    """Cancel a pending or running job (write role)."""
    return _act(request, job_id, "cancel")
