"""chronolog: the activity layer for applications.

An activity log, state history, jobs, time-bucketed stats and a gap-free feed,
on an embedded SQLite file or on PostgreSQL. Start with :class:`Chronolog`.
"""

from ._scope import Limits
from .core import Chronolog
from .errors import (
    ChronologError,
    Conflict,
    InvalidTransition,
    LeaseLost,
    NotFound,
    StoreUnavailable,
    ValidationError,
)
from .feed import FeedItem, FeedPage
from .models import Actor, Event, NewEvent, Page, Project, Target
from .retention import RetentionReport, register_purger
from .states import DayCount, Entity, Machine, States, Timeline, Transition
from .stats import Bucket, Series

__all__ = [
    "Actor",
    "Bucket",
    "Chronolog",
    "ChronologError",
    "Conflict",
    "DayCount",
    "Entity",
    "Event",
    "FeedItem",
    "FeedPage",
    "InvalidTransition",
    "LeaseLost",
    "Limits",
    "Machine",
    "NewEvent",
    "NotFound",
    "Page",
    "Project",
    "RetentionReport",
    "Series",
    "States",
    "StoreUnavailable",
    "Target",
    "Timeline",
    "Transition",
    "ValidationError",
    "register_purger",
]
__version__ = "0.1.0"
