"""Jobs: a queue that never loses or double-completes work, its workers and its logs.

``cl.jobs`` is a :class:`Jobs`. Workers (:class:`Worker`) run Python handlers
by job kind; :func:`command_handler` runs an external command per job (the
``chronolog exec`` dispatcher).

The value types (:mod:`.models`) load with this package; the queue, which needs
the store, loads on first use of its names, so the HTTP client can import the
value types without SQLAlchemy (``chronolog[client]``).
"""

from typing import TYPE_CHECKING, Any

from .models import (
    DEFAULT_LEASE,
    Job,
    JobError,
    JobLink,
    JobLinks,
    JobLog,
    JobMove,
    NewJob,
    Pipeline,
)
from .schedule_models import Schedule, ScheduleFire

if TYPE_CHECKING:
    from ._context import PermanentError
    from .queue import Jobs, backoff
    from .queues import QueueInfo
    from .schedules import Schedules
    from .workers import WorkerInfo

__all__ = [
    "DEFAULT_LEASE",
    "Job",
    "JobError",
    "JobLink",
    "JobLinks",
    "JobLog",
    "JobMove",
    "Jobs",
    "NewJob",
    "PermanentError",
    "Pipeline",
    "QueueInfo",
    "Schedule",
    "ScheduleFire",
    "Schedules",
    "WorkerInfo",
    "backoff",
]


_LAZY = {
    "Jobs": "queue",
    "PermanentError": "_context",
    "QueueInfo": "queues",
    "Schedules": "schedules",
    "WorkerInfo": "workers",
    "backoff": "queue",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
