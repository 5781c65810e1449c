"""The interactive API docs at ``/docs``, served from the package: no CDN, works offline.

Swagger UI's files come from the ``fastapi-offline`` package (Swagger UI 5, which
reads OpenAPI 3.1); the page starts it from a script file of its own, so the
Content-Security-Policy allows no inline script here either.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "install"]

ASSETS = "/docs-assets"
"""Where Swagger UI's files and the page's start-up script are served."""

_SWAGGER = Path(fastapi_offline.__file__).parent / "static"
_HERE = Path(__file__).parent / "docs_static"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>chronolog API</title>
<link rel="icon" href="{ASSETS}/swagger/favicon.png">
<link rel="stylesheet" href="{ASSETS}/swagger/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/start.js"></script>
</body>
</html>
"""


def docs_page() -> HTMLResponse:
    """Swagger UI over ``/openapi.json``."""
    return HTMLResponse(_PAGE, headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Mount ``/docs`` and its assets (the app is made with ``docs_url=None``)."""
    app.add_api_route("/docs", docs_page, methods=["GET"], include_in_schema=False)
    app.mount(f"{ASSETS}/swagger", StaticFiles(directory=_SWAGGER), name="docs-swagger")
    app.mount(ASSETS, StaticFiles(directory=_HERE), name="docs-assets")
