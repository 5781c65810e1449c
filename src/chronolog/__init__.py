"""chronolog: the activity layer for applications.

An activity log, state history, jobs, time-bucketed stats and a gap-free feed,
on an embedded SQLite file or on PostgreSQL. Start with :class:`Chronolog`.
"""

from ._scope import Limits
from .auth import ApiToken, IssuedToken, Member, Principal
from .client import Client
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
from .jobs import Job, JobLog, NewJob
from .models import Actor, Event, NewEvent, Page, Project, Target
from .retention import RetentionReport, register_purger
from .states import DayCount, Entity, Machine, States, Timeline, Transition
from .stats import Bucket, Series
from .vault import SecretInfo

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
