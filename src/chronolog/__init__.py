"""chronolog: the activity layer for applications.

An activity log, state history, jobs, time-bucketed stats and a gap-free feed,
on an embedded SQLite file or on PostgreSQL. Start with :class:`Chronolog`.
"""

import importlib
import typing

from .errors import (
    ChronologError,
    Conflict,
    Forbidden,
    InvalidTransition,
    LeaseLost,
    NotConfigured,
    NotFound,
    StoreUnavailable,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    ValidationError,
)
from .jobs.models import Job, JobLog, NewJob
from .models import (
    Actor,
    Bucket,
    Event,
    FeedItem,
    FeedPage,
    Health,
    NewEvent,
    Page,
    Project,
    Series,
    Target,
)
from .query import EntityQuery, EventQuery, JobQuery
from .states.models import DayCount, Entity, Machine, Timeline, Transition

if typing.TYPE_CHECKING:
    from ._scope import Limits
    from .auth import ApiToken, IssuedToken, Member, Principal
    from .changes import Subscription
    from .client import Client
    from .core import Chronolog
    from .jobs._context import PermanentError
    from .retention import RetentionReport, register_purger
    from .states.part import States
    from .vault import SecretInfo

_LAZY = {
    "ApiToken": ".auth",
    "Chronolog": ".core",
    "Client": ".client",
    "IssuedToken": ".auth",
    "Limits": "._scope",
    "Member": ".auth",
    "PermanentError": ".jobs._context",
    "Principal": ".auth",
    "RetentionReport": ".retention",
    "SecretInfo": ".vault",
    "States": ".states.part",
    "Subscription": ".changes",
    "register_purger": ".retention",
}
"""Names whose modules need the store (SQLAlchemy) or httpx: they load on first use, so
that ``import chronolog.client`` works with ``chronolog[client]`` alone (httpx, no
SQLAlchemy) and ``import chronolog`` loads no HTTP client."""

__all__ = [
    "Actor",
    "ApiToken",
    "Bucket",
    "Chronolog",
    "ChronologError",
    "Client",
    "Conflict",
    "DayCount",
    "Entity",
    "EntityQuery",
    "Event",
    "EventQuery",
    "FeedItem",
    "FeedPage",
    "Forbidden",
    "Health",
    "InvalidTransition",
    "IssuedToken",
    "Job",
    "JobLog",
    "JobQuery",
    "LeaseLost",
    "Limits",
    "Machine",
    "Member",
    "NewEvent",
    "NewJob",
    "NotConfigured",
    "NotFound",
    "Page",
    "PermanentError",
    "Principal",
    "Project",
    "RetentionReport",
    "SecretInfo",
    "Series",
    "States",
    "StoreUnavailable",
    "Subscription",
    "Target",
    "Timeline",
    "TooLarge",
    "TooManyRequests",
    "Transition",
    "Unauthorized",
    "ValidationError",
    "register_purger",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
