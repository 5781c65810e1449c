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
    Unauthorized,
    ValidationError,
)
from .models import Actor, Event, NewEvent, Page, Project, Target
from .vault import SecretInfo

__all__ = [
    "Actor",
    "ApiToken",
    "Chronolog",
    "ChronologError",
    "Client",
    "Conflict",
    "Event",
    "Forbidden",
    "InvalidTransition",
    "IssuedToken",
    "LeaseLost",
    "Limits",
    "Member",
    "NewEvent",
    "NotConfigured",
    "NotFound",
    "Page",
    "Principal",
    "Project",
    "SecretInfo",
    "StoreUnavailable",
    "Target",
    "TooLarge",
    "Unauthorized",
    "ValidationError",
]
__version__ = "0.1.0"
