"""chronolog: the activity layer for applications.

An activity log, state history, jobs, time-bucketed stats and a gap-free feed,
on an embedded SQLite file or on PostgreSQL. Start with :class:`Chronolog`.
"""

import typing

from ._scope import Limits
from .auth import ApiToken, IssuedToken, Member, Principal
from .core import Chronolog
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
from .feed import FeedItem, FeedPage
from .jobs import Job, JobLog, NewJob, PermanentError
from .models import Actor, Event, NewEvent, Page, Project, Target
from .retention import RetentionReport, register_purger
from .states import DayCount, Entity, Machine, States, Timeline, Transition
from .stats import Bucket, Series
from .vault import SecretInfo

if typing.TYPE_CHECKING:
    from .client import Client

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
    "Event",
    "FeedItem",
    "FeedPage",
    "Forbidden",
    "InvalidTransition",
    "IssuedToken",
    "Job",
    "JobLog",
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
    # The HTTP client needs httpx: it loads on first use, so that `import chronolog`
    # (and every local command) stays light.
    if name == "Client":
        from .client import Client

        globals()["Client"] = Client
        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"Client"})
