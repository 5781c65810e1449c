"""The app factory: ``create_app(store)`` → a FastAPI app serving chronolog under ``/api/v1``.

The app keeps no state of its own beyond caches of immutable facts (project
ids): every request reads and writes the store, so several servers can share
one PostgreSQL behind a load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .. import __version__
from .._scope import Limits
from ..auth import role_allows
from ..core import Chronolog
from ..errors import ChronologError, Unauthorized
from . import dashboard, docs
from .deps import ServerState, optional_principal, state_of
from .errors import install_error_handlers
from .live import DEFAULT_PER_PROJECT, DEFAULT_PER_TOKEN, DEFAULT_RECHECK, DEFAULT_TOTAL, Live
from .metrics import Metrics
from .middleware import GuardMiddleware, MetricsMiddleware, SecurityHeadersMiddleware
from .routes import (
    admin,
    events,
    feed,
    job_cancels,
    jobs,
    jobs_views,
    pipelines,
    queues,
    schedules,
    secrets,
    states,
    stats,
)
from .schemas import ERROR_RESPONSES, extra_components

__all__ = ["API_PREFIX", "DEFAULT_LIMITS", "ROUTERS", "create_app"]

log = logging.getLogger("chronolog")

API_PREFIX = "/api/v1"

DEFAULT_LIMITS = Limits(
    batch_size=1000, page_size=100, metadata_bytes=64 * 1024, page_bytes=1024 * 1024
)
"""The server's caps: 1000 events per batch, 100 items and 1 MiB per page, 64 KiB of
metadata."""

ROUTERS: Sequence[APIRouter] = (
    events.router,
    admin.router,
    secrets.router,
    stats.router,
    states.router,
    feed.router,
    jobs_views.router,  # before jobs: /jobs/failed is not a job id
    queues.router,  # before jobs: its /jobs/retry-many and /jobs/cancel-many are literal paths
    job_cancels.router,
    jobs.router,
    schedules.router,
    pipelines.router,
)
"""Every part's routes module, mounted under :data:`API_PREFIX` in this order."""


def create_app(
    store: str | Chronolog,
    *,
    limits: Limits = DEFAULT_LIMITS,
    max_body_bytes: int = 8 * 1024 * 1024,
    routers: Sequence[APIRouter] = ROUTERS,
    max_wait: float = 60.0,
    stream_seconds: float | None = None,
    housekeeping_seconds: float | None = 60.0,
    schedule_seconds: float | None = 1.0,
    max_streams_per_token: int = DEFAULT_PER_TOKEN,
    max_streams_per_project: int = DEFAULT_PER_PROJECT,
    max_streams: int = DEFAULT_TOTAL,
    token_recheck_seconds: float = DEFAULT_RECHECK,
) -> FastAPI:
    """Build the HTTP service over a store URL or an open :class:`Chronolog`.

    Given a URL the app opens the store (migrating it) and closes it at
    shutdown; given a ``Chronolog`` it borrows it and leaves it open.
    ``limits`` caps batches, pages, metadata and text; ``max_body_bytes``
    caps a request body (413 beyond it). ``max_wait`` caps a long-poll (feed,
    job claims); ``stream_seconds`` closes SSE streams after that long (clients
    resume from ``Last-Event-ID``; ``None``: never). One token holds at most
    ``max_streams_per_token`` streams and long-polls at once, one project's tokens
    together at most ``max_streams_per_project``, the server at most
    ``max_streams`` (429 beyond); their tokens are re-checked every
    ``token_recheck_seconds``, and a stream whose token stopped working ends. Every
    ``housekeeping_seconds`` the server applies each project's retention
    policies when due (``None``: never), so nobody schedules a cron. Every
    ``schedule_seconds`` it fires the job schedules that are due, in every project
    (``None``: never; local workers fire them too, remote workers rely on this).
    """
    owns = isinstance(store, str)
    root = Chronolog(store, limits=limits) if isinstance(store, str) else store
    try:
        # A wrong $CHRONOLOG_SECRET_KEY is refused now, not at the first secret it would
        # fail to read (or, worse, the first it would encrypt under the wrong key).
        root.secrets.check_key()
    except ChronologError:
        if owns:
            root.close()
        raise
    metrics = Metrics()
    live = Live(
        root,
        per_token=max_streams_per_token,
        per_project=max_streams_per_project,
        total=max_streams,
        recheck=token_recheck_seconds,
    )
    state = ServerState(root, owns=owns, limits=limits, metrics=metrics, live=live)
    feed_waker = feed.install(state, max_wait=max_wait, stream_seconds=stream_seconds)
    jobs_waker = jobs.install(state, max_wait=max_wait)
    cancel_waker = job_cancels.install(state, max_wait=max_wait)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if housekeeping_seconds is not None:
            tasks.append(asyncio.create_task(_housekeeping(state, housekeeping_seconds)))
        if schedule_seconds is not None:
            tasks.append(asyncio.create_task(schedules.fire_loop(state, schedule_seconds)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if feed_waker.hub is not None:
                await feed_waker.hub.close()
            await live.close()
            feed_waker.stop()
            jobs_waker.stop()
            cancel_waker.stop()
            if state.owns:
                state.root.close()

    app = FastAPI(
        title="chronolog",
        version=__version__,
        summary="The activity layer: activity log, states, jobs, stats and a gap-free feed.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by docs.install, not from a CDN
        redoc_url=None,
    )
    # A trailing-slash redirect is built from the Host header (a spoofed Host would
    # send the browser elsewhere): answer 404 instead.
    app.router.redirect_slashes = False
    app.state.chronolog = state
    app.state.feed_waker = feed_waker
    app.state.jobs_waker = jobs_waker
    app.state.jobs_cancel_waker = cancel_waker
    _document_extra_models(app)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    dashboard.install(app)
    docs.install(app)
    app.add_api_route("/health", health, methods=["GET"], tags=["system"], response_model=None)
    app.add_api_route("/ready", ready, methods=["GET"], tags=["system"], response_model=None)
    app.add_api_route(
        "/metrics",
        metrics_text,
        methods=["GET"],
        tags=["system"],
        response_class=Response,
        responses={401: ERROR_RESPONSES[401]},
    )
    # Outermost first: metrics see every response, guards run before routing.
    app.add_middleware(
        GuardMiddleware,
        max_body_bytes=max_body_bytes,
        authenticate=lambda token: run_in_threadpool(root.auth.authenticate, token),
        may_write=lambda principal: role_allows(principal.role, "write"),
        prefix=API_PREFIX,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics, prefix=API_PREFIX)
    return app


def _document_extra_models(app: FastAPI) -> None:
    """Add the bodies routes parse themselves (``documented_body``) to the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in extra_components().items():
                schemas.setdefault(name, definition)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def health(request: Request) -> JSONResponse:
    """Liveness: ``{"status": "ok"}`` while the process serves requests, without asking
    the database (that is :func:`ready`). A valid token also gets the version."""
    body: dict[str, Any] = {"status": "ok"}
    if optional_principal(request) is not None:
        body.update(version=__version__, database=state_of(request).root.store.dialect.name)
    return JSONResponse(body)


def ready(request: Request) -> JSONResponse:
    """Readiness: 200 ``{"status": "ready"}`` when the database answers, holds this
    version's schema and takes writes; 503 ``{"status": "unavailable"}`` otherwise.

    Why it is not ready (paths, database errors) goes to authenticated callers
    only, and to the server's log.
    """
    state = state_of(request)
    health = state.root.ping()
    checks = health.checks
    problems = {name: reason for name, reason in checks.items() if reason is not None}
    body: dict[str, Any] = {"status": "unavailable" if problems else "ready"}
    if problems:
        log.warning("chronolog server: not ready: %s", problems)
    if optional_principal(request) is not None:
        body["checks"] = {name: reason or "ok" for name, reason in checks.items()}
        body["database"] = health.database
    return JSONResponse(body, status_code=503 if problems else 200)


def metrics_text(request: Request) -> Response:
    """Prometheus text exposition: needs a token (any role); series labelled with a
    project show the token's project only."""
    principal = optional_principal(request)
    if principal is None:
        raise Unauthorized("/metrics needs an API token: Authorization: Bearer <token>")
    return Response(
        state_of(request).metrics.render(project=principal.project),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )


def _retention_round(state: ServerState) -> None:
    for project in state.root.projects.list():
        state.view(project.name).retention.run_if_due("1h")
    # Retries come within minutes; a day covers a client that was down for a while.
    state.root.events.expire_idempotency_keys("1d")


async def _housekeeping(state: ServerState, every: float) -> None:
    """Apply retention when due, off the event loop; errors are logged, never fatal."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(_retention_round, state)
        except ChronologError as exc:
            log.warning("chronolog server: retention failed: %s", exc)
