"""The web dashboard: server-rendered pages over the library, at ``/``.

``install(app)`` mounts it on the HTTP service: the pages (overview,
activity with a live stream, charts, entities, jobs), login and logout, and
``/static``. Pages call the library directly with the project of the
session's token; see ``docs/dashboard.md``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from . import activity, entities, jobs, pages, queues
from .render import HERE
from .session import LoginRequired, login_redirect

__all__ = ["install"]


async def _login_required(request: Request, exc: Exception) -> Response:
    if request.url.path.endswith(("/stream", "/log")):
        return Response("log in first", status_code=401, media_type="text/plain")
    return login_redirect(request)


def install(app: FastAPI) -> None:
    """Mount the dashboard's pages and static files on ``app``."""
    for module in (pages, activity, entities, jobs, queues):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(LoginRequired, _login_required)
