"""``POST /api/v1/jobs/cancelled``: a remote worker's cancel watch.

The worker sends the ids of the jobs it runs; the answer lists those that are
cancelled. With ``wait_seconds`` the request is held until one is, or until a
cancel of any job happened (the worker then asks again with its current ids),
or the time is up: a cancel made through this server, or on PostgreSQL by any
process (``NOTIFY``), answers at once; on SQLite, a cancel of another process
is seen within half a second.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ...store.sql.job_cancels import CANCEL_TOPIC
from ..deps import Context, ServerState, require
from ..schemas import ERROR_RESPONSES, Strict
from ..waker import Waker

__all__ = ["install", "router"]

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

_SQLITE_SLICE = 0.5
"""Seconds between looks on SQLite, whose other processes' cancels signal nothing."""
_SLICE = 1.0


class CancelledIn(Strict):
    """The jobs a worker runs, and how long to wait for one of them to be cancelled."""

    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(max_length=10_000)
    wait_seconds: float = Field(default=0, ge=0, le=600, allow_inf_nan=False)


class CancelledOut(BaseModel):
    """Those of the ids that are cancelled (the worker stops their handlers)."""

    cancelled: list[int]


def install(state: ServerState, *, max_wait: float = 60.0) -> Waker:
    """Create the app's ``jobs_cancel`` waker (the cancel watch's long-polls)."""
    return Waker(state.root, CANCEL_TOPIC, max_wait=max_wait)


@router.post("/cancelled", response_model=CancelledOut)
async def cancelled_jobs(
    request: Request, body: CancelledIn, ctx: Annotated[Context, Depends(require("write"))]
) -> dict[str, Any]:
    """Which of ``ids`` are cancelled; with ``wait_seconds``, hold the request until one is
    (or any job's cancel happened, or the time is up)."""
    waker: Waker = request.app.state.jobs_cancel_waker
    deadline = time.monotonic() + min(body.wait_seconds, waker.max_wait)
    generation = waker.generation()
    found = await run_in_threadpool(ctx.cl.jobs.cancelled, body.ids)
    if found or not body.ids or deadline <= time.monotonic():
        return {"cancelled": found}
    step = _SQLITE_SLICE if ctx.cl.store.is_sqlite else _SLICE
    # A waiting watch holds one of its token's slots (429 beyond the cap), as a claim does.
    held = ctx.state.live.open(ctx.principal)
    try:
        while not found and not held.revoked.is_set():
            budget = deadline - time.monotonic()
            if budget <= 0 or await request.is_disconnected():
                break
            await waker.wait(generation, min(budget, step))
            moved = waker.generation() != generation
            found = await run_in_threadpool(ctx.cl.jobs.cancelled, body.ids)
            if moved:  # some job was cancelled: let the worker ask with its current ids
                break
    finally:
        held.close()
    return {"cancelled": found}
