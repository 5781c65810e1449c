"""chronolog's HTTP service (FastAPI): ``create_app(store)``; run it with ``chronolog serve``."""

from .app import API_PREFIX, DEFAULT_LIMITS, ROUTERS, create_app
from .deps import Context, ServerState, require
from .metrics import Metrics
from .query import PageParams

__all__ = [
    "API_PREFIX",
    "DEFAULT_LIMITS",
    "ROUTERS",
    "Context",
    "Metrics",
    "PageParams",
    "ServerState",
    "create_app",
    "require",
]
