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
from .jobs import Job, JobLog, NewJob
from .models import Actor, Event, NewEvent, Page, Project, Target
from .states import DayCount, Entity, Machine, States, Timeline, Transition

__all__ = [
    "Actor",
    "Chronolog",
    "ChronologError",
    "Conflict",
    "DayCount",
    "Entity",
    "Event",
    "InvalidTransition",
    "Job",
    "JobLog",
    "LeaseLost",
    "Limits",
    "Machine",
    "NewEvent",
    "NewJob",
    "NotFound",
    "Page",
    "Project",
    "States",
    "StoreUnavailable",
    "Target",
    "Timeline",
    "Transition",
    "ValidationError",
]
__version__ = "0.1.0"
